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
  // A Map, not assignments: a key such as "__proto__" stays a plain key instead of a prototype.
  const next = new Map(Object.entries(current ?? {}));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) next.delete(k);
    else if (v !== MASK) next.set(k, v);
  }
  return Object.fromEntries(next);
}
