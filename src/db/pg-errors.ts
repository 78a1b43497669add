/** Reads PostgreSQL error facts through either driver (postgres.js, PGlite) and Drizzle's wrapper. */
export interface PgErrorFacts {
  code: string;
  constraint: string | null;
}

export function pgError(err: unknown): PgErrorFacts | null {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const o = e as { code?: unknown; constraint_name?: unknown; constraint?: unknown };
    if (typeof o.code === 'string' && /^[0-9A-Z]{5}$/.test(o.code)) {
      const constraint = o.constraint_name ?? o.constraint;
      return { code: o.code, constraint: typeof constraint === 'string' ? constraint : null };
    }
  }
  return null;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const f = pgError(err);
  return f?.code === '23505' && (constraint === undefined || f.constraint === constraint);
}
