/**
 * Text PostgreSQL can store. It refuses NUL (U+0000) in `text` and `jsonb`, and an unpaired UTF-16
 * surrogate (`\ud800` alone) in `jsonb`; in `text` the driver would silently turn one into U+FFFD.
 * Staff input with either is refused (http/plugins/input-guard.ts); messenger content is cleaned
 * (pipeline/inbound-sanitize.ts), so a customer's message is never lost over it.
 */

// String.prototype.isWellFormed / toWellFormed are in Node 20 (ES2024); the compiler's lib is ES2023.
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

export function isWellFormed(s: string): boolean {
  return (s as unknown as WellFormedString).isWellFormed();
}

/** Why a string cannot be stored as it is, or null when it can. */
export function unstorableText(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain NUL characters (U+0000)';
  if (!isWellFormed(s)) return 'must be well-formed Unicode (no unpaired surrogates)';
  return null;
}

/** The storable form of messenger text: NUL removed, unpaired surrogates replaced with U+FFFD. */
export function sanitizeText(s: string): string {
  const withoutNul = s.includes('\u0000') ? s.replaceAll('\u0000', '') : s;
  return isWellFormed(withoutNul) ? withoutNul : (withoutNul as unknown as WellFormedString).toWellFormed();
}
