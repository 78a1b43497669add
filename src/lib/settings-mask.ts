/**
 * Provider settings are write-only: values come back masked, except keys declared public. A public
 * key may name a key of a nested object with a dot ("imap.host"): that object comes back with its
 * public keys shown and the others masked.
 */
export const MASK = '********';

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function maskSettings(
  settings: Record<string, unknown> | null,
  publicKeys: readonly string[] = [],
): Record<string, unknown> {
  if (!settings) return {};
  return Object.fromEntries(
    Object.entries(settings).map(([k, v]) => {
      if (publicKeys.includes(k)) return [k, v];
      const nested = publicKeys.filter((p) => p.startsWith(`${k}.`)).map((p) => p.slice(k.length + 1));
      return [k, nested.length > 0 && isPlain(v) ? maskSettings(v, nested) : MASK];
    }),
  );
}

/**
 * Merges a settings patch: a null value removes the key; the mask string keeps the old value; a
 * nested object merges into the stored one the same way (so a masked password inside it is kept).
 */
export function mergeSettings(
  current: Record<string, unknown> | null,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  // A Map, not assignments: a key such as "__proto__" stays a plain key instead of a prototype.
  const next = new Map(Object.entries(current ?? {}));
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) next.delete(k);
    else if (isPlain(v) && isPlain(next.get(k)))
      next.set(k, mergeSettings(next.get(k) as Record<string, unknown>, v));
    else if (v !== MASK) next.set(k, isPlain(v) ? mergeSettings({}, v) : v);
  }
  return Object.fromEntries(next);
}
