/**
 * Small node:http helpers for the local fakes of external HTTP APIs:
 * reading and parsing request parameters the way web APIs accept them,
 * coercing form values, and sniffing file types.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A file that arrived as a part of a multipart/form-data body. */
export interface UploadedFile {
  name: string;
  type: string;
  size: number;
  data: Buffer;
}

export interface RequestParams {
  params: Record<string, unknown>;
  files: Record<string, UploadedFile>;
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Parameters of a request: the query string, overlaid by the body when it is
 * application/json (values keep their JSON types), x-www-form-urlencoded or
 * multipart/form-data (values are strings; file parts go to `files`).
 * Throws when a JSON body is not a JSON object or a multipart body is malformed.
 */
export async function parseParams(url: URL, contentType: string, body: Buffer): Promise<RequestParams> {
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  const files: Record<string, UploadedFile> = {};
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (body.length === 0) return { params, files };
  if (type === 'application/json') {
    const json: unknown = JSON.parse(body.toString('utf8'));
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      throw new SyntaxError('the JSON body is not an object');
    }
    Object.assign(params, json);
  } else if (type === 'application/x-www-form-urlencoded') {
    Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
  } else if (type === 'multipart/form-data') {
    const request = new Request('http://local/', {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new Uint8Array(body),
    });
    for (const [name, value] of await request.formData()) {
      if (typeof value === 'string') {
        params[name] = value;
      } else {
        const data = Buffer.from(await value.arrayBuffer());
        files[name] = { name: value.name, type: value.type, size: data.length, data };
      }
    }
  }
  return { params, files };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** An integer from a JSON number or a decimal string; undefined otherwise. */
export function toInt(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

/** A string from a string or a number; undefined otherwise. */
export function toStr(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === 'true' || value === '1';
}

/** A JSON-serialized parameter (as sent in forms) decoded; other values as they are. */
export function fromJsonParam(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const MIME_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.zip': 'application/zip',
  '.mp3': 'audio/mpeg',
  '.ogg': 'audio/ogg',
  '.mp4': 'video/mp4',
  '.doc': 'application/msword',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** A MIME type from a file name's extension (application/octet-stream when unknown). */
export function guessMimeType(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return (dot >= 0 && MIME_TYPES[fileName.slice(dot).toLowerCase()]) || 'application/octet-stream';
}

/** Width and height read from a PNG, GIF or JPEG header; undefined for other data. */
export function imageSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length >= 24 && data.readUInt32BE(0) === 0x89504e47 && data.toString('ascii', 12, 16) === 'IHDR') {
    return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (data.length >= 10 && data.toString('ascii', 0, 4) === 'GIF8') {
    return { width: data.readUInt16LE(6), height: data.readUInt16LE(8) };
  }
  if (data.length >= 4 && data[0] === 0xff && data[1] === 0xd8) {
    let at = 2;
    while (at + 9 <= data.length && data[at] === 0xff) {
      const marker = data[at + 1] ?? 0;
      const isFrame =
        marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) return { width: data.readUInt16BE(at + 7), height: data.readUInt16BE(at + 5) };
      at += 2 + data.readUInt16BE(at + 2);
    }
  }
  return undefined;
}
