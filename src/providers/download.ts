/**
 * Downloads of inbound attachments from a messenger's URL into a stream with a byte cap: refused at
 * once when the announced size (Content-Length or the messenger's own figure) is over the cap, and
 * cut off with FILE_TOO_LARGE when more bytes than that arrive. Used by every provider that gets a
 * URL for a file (Meta media URLs and CDN links expire within minutes: fetched by the attachment job
 * right after the message is stored).
 */
import { pipeline, Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type HttpResult, statusError } from './http.ts';
import { type LoadedAttachment, ProviderError } from './provider.ts';

const MB = 1024 * 1024;

export function fileTooLarge(what: string, limit: number, messenger: string): ProviderError {
  const size = limit >= MB ? `${Math.round((limit / MB) * 10) / 10} MB` : `${Math.round(limit / 1024)} KB`;
  return new ProviderError('FILE_TOO_LARGE', `${what} is larger than ${messenger}'s ${size} limit`, {
    retryable: false,
  });
}

/** Passes bytes through, failing the stream once more than `limit` went by. */
export function byteLimit(limit: number, tooLarge: () => Error): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      total += chunk.length;
      if (total > limit) callback(tooLarge());
      else callback(null, chunk);
    },
  });
}

export interface DownloadOptions {
  headers?: Record<string, string>;
  limit: number;
  /** The messenger's name, for the error message. */
  messenger: string;
  what: string;
  name?: string | null;
  mimeType?: string | null;
  /** The size the messenger announced, if any. */
  size?: number | null;
  /** Classifies a non-2xx answer (default: by HTTP status). */
  onError?: (result: HttpResult) => ProviderError;
  timeoutMs?: number;
}

/** Opens the bytes at `url` as a capped stream. */
export async function downloadCapped(
  fetchFn: typeof fetch,
  url: string,
  opts: DownloadOptions,
): Promise<LoadedAttachment> {
  const tooLarge = () => fileTooLarge(opts.what, opts.limit, opts.messenger);
  if (opts.size && opts.size > opts.limit) throw tooLarge();
  let res: Response;
  try {
    res = await fetchFn(url, {
      headers: opts.headers,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
    });
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw new ProviderError('NETWORK', `${opts.what}: download failed: ${(err as Error).message}`, {
      retryable: true,
    });
  }
  if (!res.ok || !res.body) {
    const text = await res.text().catch(() => '');
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    const result: HttpResult = { status: res.ok ? 502 : res.status, headers: res.headers, text, json };
    throw opts.onError?.(result) ?? statusError(result, `${opts.what}: download answered ${result.status}`);
  }
  const length = Number(res.headers.get('content-length'));
  if (Number.isFinite(length) && length > opts.limit) {
    await res.body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  const limited = byteLimit(opts.limit, tooLarge);
  pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), limited, () => undefined);
  const given = res.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() || null;
  return {
    stream: limited,
    mimeType: opts.mimeType ?? (given !== 'application/octet-stream' ? given : null),
    name: opts.name ?? null,
    size: opts.size ?? (Number.isFinite(length) && length > 0 ? length : null),
  };
}

/** Reads an outgoing attachment's bytes, refusing more than `limit`. */
export async function readCapped(
  open: () => Readable,
  size: number,
  limit: number,
  what: string,
  messenger: string,
): Promise<Buffer> {
  if (size > limit) throw fileTooLarge(what, limit, messenger);
  const stream = open();
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      total += buf.length;
      if (total > limit) throw fileTooLarge(what, limit, messenger);
      chunks.push(buf);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, total);
}
