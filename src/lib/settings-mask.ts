/** Provider settings are write-only: values come back masked, except keys declared public. */
export const MASK = '********';

export function maskSettings(settings: Record<string, unknown> | null, publicKeys: readonly string[] = []) {
  if (!settings) return {};
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, publicKeys.includes(k) ? v : MASK]));
}

/** Merges a settings patch: a null value removes the key; the mask string keeps the old value. */
export function mergeSettings(
  current: Record<string, unknown> | null,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const next: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete next[k];
    else if (v !== MASK) next[k] = v;
  }
  return next;
}
