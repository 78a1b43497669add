/**
 * Signed, expiring download links for files: what a receiver outside Omniline (the api channel's
 * callback) gets instead of a bearer token. The link is
 *
 *   <public URL>/api/v1/files/<id>/download?expires=<unix seconds>&signature=<base64url>
 *
 * where the signature is HMAC-SHA256 over the file id and the expiry, with a key derived from the
 * server's secret key (OMNILINE_SECRET_KEY) for this purpose only. Every node shares that key, so a
 * link made on one node downloads from any; changing the key voids every link.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../lib/secret-box.ts';

/** How long a download link works: long enough for a receiver's queue, short enough to leak little. */
export const DOWNLOAD_LINK_TTL_SECONDS = 60 * 60;

const PURPOSE = 'omniline file download link v1';

export type LinkCheck = 'valid' | 'invalid' | 'expired';

export class FileLinks {
  readonly #key: Buffer;

  constructor(
    secrets: SecretBox,
    readonly ttlSeconds = DOWNLOAD_LINK_TTL_SECONDS,
  ) {
    this.#key = secrets.subkey(PURPOSE);
  }

  #mac(fileId: string, expires: string): Buffer {
    return createHmac('sha256', this.#key).update(`${fileId}\n${expires}`).digest();
  }

  /** The link's path and query (relative to the server) and when it stops working. */
  sign(fileId: string, now: Date): { path: string; expiresAt: Date } {
    const expires = String(Math.floor(now.getTime() / 1000) + this.ttlSeconds);
    const signature = this.#mac(fileId, expires).toString('base64url');
    return {
      path: `/api/v1/files/${encodeURIComponent(fileId)}/download?expires=${expires}&signature=${signature}`,
      expiresAt: new Date(Number(expires) * 1000),
    };
  }

  /** The absolute link under `publicUrl` (the path alone when the server does not know its URL). */
  url(fileId: string, now: Date, publicUrl: string | null): { url: string; expiresAt: Date } {
    const { path, expiresAt } = this.sign(fileId, now);
    return { url: `${(publicUrl ?? '').replace(/\/+$/, '')}${path}`, expiresAt };
  }

  /**
   * Whether `signature` is ours for this file and expiry (compared in constant time), and then
   * whether the link is still valid at `now`. A wrong signature is `invalid` whatever its expiry.
   */
  check(fileId: string, expires: string | undefined, signature: string | undefined, now: Date): LinkCheck {
    if (expires === undefined || signature === undefined || !/^[0-9]{1,12}$/.test(expires)) return 'invalid';
    const expected = this.#mac(fileId, expires);
    const given = Buffer.from(signature, 'base64url');
    // timingSafeEqual needs equal lengths; a signature of another length is wrong whatever it holds.
    const same = given.length === expected.length && timingSafeEqual(given, expected);
    if (!same || given.toString('base64url') !== signature) return 'invalid';
    return Number(expires) * 1000 > now.getTime() ? 'valid' : 'expired';
  }
}
