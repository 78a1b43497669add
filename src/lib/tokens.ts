/** API tokens: random, shown once, stored as their SHA-256. */
import { createHash, randomBytes } from 'node:crypto';

export const TOKEN_PREFIX = 'oml_';

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
