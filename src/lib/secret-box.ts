/**
 * Encryption of secrets at rest (provider tokens, bot secrets): AES-256-GCM with a random IV.
 * The key is derived from the configured key material with SHA-256, so any long random string
 * works as OMNILINE_SECRET_KEY. Format: "v1.<iv>.<tag>.<ciphertext>" in base64url.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

export class SecretBox {
  readonly #key: Buffer;

  constructor(keyMaterial: string) {
    this.#key = createHash('sha256').update(keyMaterial, 'utf8').digest();
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), body]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unrecognised sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(sealed: string | null): T | null {
    return sealed === null ? null : (JSON.parse(this.open(sealed)) as T);
  }

  /**
   * A key of its own for one purpose (e.g. signing download links), derived from the same key
   * material with HKDF-SHA256: it reveals nothing of the encryption key nor of another purpose's key.
   */
  subkey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#key, 'omniline', purpose, 32));
  }
}
