/**
 * Where file bytes live. The local store keeps them content-addressed under a directory
 * (`<root>/ab/cd/<sha256>`): writing streams to a temporary file while hashing, then renames.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredBlob {
  key: string;
  sha256: string;
  size: number;
  /** The first `headBytes` bytes (what the file is, by its content: files/sniff.ts). */
  head: Buffer;
}

export interface FileStore {
  put(source: Readable, opts?: { maxBytes?: number; headBytes?: number }): Promise<StoredBlob>;
  open(key: string): Readable;
}

export class FileTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`file exceeds ${maxBytes} bytes`);
  }
}

export class LocalFileStore implements FileStore {
  constructor(private readonly root: string) {}

  async put(source: Readable, opts: { maxBytes?: number; headBytes?: number } = {}): Promise<StoredBlob> {
    const tmpDir = path.join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const max = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const headBytes = opts.headBytes ?? 0;
    const head: Buffer[] = [];
    let headSize = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > max) return done(new FileTooLarge(max));
        if (headSize < headBytes) {
          head.push(chunk.subarray(0, headBytes - headSize));
          headSize += head.at(-1)!.length;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tmp));
      const sha256 = hash.digest('hex');
      const key = path.join(sha256.slice(0, 2), sha256.slice(2, 4), sha256);
      const dest = path.join(this.root, key);
      await mkdir(path.dirname(dest), { recursive: true });
      const exists = await stat(dest).then(
        () => true,
        () => false,
      );
      if (exists) await rm(tmp);
      else await rename(tmp, dest);
      return { key, sha256, size, head: Buffer.concat(head, headSize) };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  open(key: string): Readable {
    if (key.includes('..')) throw new Error('bad storage key');
    return createReadStream(path.join(this.root, key));
  }
}
