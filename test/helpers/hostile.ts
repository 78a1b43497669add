/**
 * Hostile requests and how to judge their answers (test/integration/hostile-input.test.ts): the
 * documented error shape, the hostile values, and the cases built for one body property.
 */
import { randomUUID } from 'node:crypto';
import type { TestContext } from './app.ts';

// Requests and the documented error shape

export interface Res {
  status: number;
  body: any;
  contentType: string;
}

export interface Req {
  method: string;
  url: string;
  /** A raw payload (string or bytes) or a value sent as JSON. */
  payload?: string | Buffer;
  json?: unknown;
  contentType?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

export async function send(ctx: TestContext, req: Req): Promise<Res> {
  const token = req.token === undefined ? ctx.adminToken : req.token;
  const payload = req.json !== undefined ? JSON.stringify(req.json) : req.payload;
  const res = await ctx.app.inject({
    method: req.method as 'GET',
    url: req.url,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(payload !== undefined && { 'content-type': req.contentType ?? 'application/json' }),
      ...req.headers,
    },
    ...(payload !== undefined && { payload }),
  });
  const contentType = String(res.headers['content-type'] ?? '');
  let body: unknown = res.body;
  if (contentType.includes('json') && res.body) {
    try {
      body = JSON.parse(res.body);
    } catch {
      body = { unparsable: res.body.slice(0, 200) };
    }
  }
  return { status: res.statusCode, body, contentType };
}

/** Why a refusal is not in the documented shape `{"error":{"code","message","details"?}}`, or null. */
export function shapeProblem(res: Res): string | null {
  if (!res.contentType.includes('application/json')) return `content-type ${res.contentType}`;
  const b = res.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) return 'body is not an object';
  const keys = Object.keys(b);
  if (keys.length !== 1 || keys[0] !== 'error') return `top-level keys ${keys.join(',')}`;
  const e = b.error;
  if (typeof e !== 'object' || e === null) return 'error is not an object';
  const extra = Object.keys(e).filter((k) => !['code', 'message', 'details'].includes(k));
  if (extra.length) return `error has ${extra.join(',')}`;
  if (typeof e.code !== 'string' || !/^[A-Z][A-Z0-9_]*$/.test(e.code))
    return `code ${JSON.stringify(e.code)}`;
  if (e.code.startsWith('FST_')) return `Fastify's own code ${e.code}`;
  if (typeof e.message !== 'string' || e.message === '') return 'no message';
  if (e.details !== undefined && (typeof e.details !== 'object' || e.details === null))
    return 'details is not an object';
  return null;
}

export interface Expect {
  /** Allowed statuses; default: any 4xx. */
  status?: number[];
  code?: string;
  codePattern?: RegExp;
  /** A 400 must name exactly this path (first error). */
  path?: string;
  /** A 400 must name a path starting with this (first error; any error for unions). */
  pathPrefix?: string;
  /** A 2xx is acceptable (legitimate input); then `roundTrip` must hold. */
  mayAccept?: boolean;
  /** On a 2xx: this property of the response body equals this value. */
  roundTrip?: [string, unknown];
  anyErrorPath?: boolean;
}

/** Checks one answer; returns what is wrong with it, or null. */
export function judge(res: Res, expect: Expect): string | null {
  if (res.status >= 500) return `HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`;
  if (res.status < 400) {
    if (!expect.mayAccept) return `accepted with ${res.status}, expected a refusal`;
    const [key, value] = expect.roundTrip ?? [];
    if (key !== undefined && typeof res.body === 'object' && res.body && Object.hasOwn(res.body, key)) {
      if (res.body[key] !== value)
        return `accepted but ${key} came back as ${JSON.stringify(res.body[key]).slice(0, 80)}`;
    }
    return null;
  }
  const shape = shapeProblem(res);
  if (shape)
    return `${res.status} not in the documented shape: ${shape}: ${JSON.stringify(res.body).slice(0, 200)}`;
  if (expect.status && !expect.status.includes(res.status))
    return `status ${res.status} (${res.body.error.code}), expected ${expect.status.join('/')}`;
  if (expect.code && res.body.error.code !== expect.code)
    return `code ${res.body.error.code}, expected ${expect.code}`;
  if (expect.codePattern && !expect.codePattern.test(res.body.error.code))
    return `code ${res.body.error.code}, expected ${expect.codePattern}`;
  if (res.status === 400 && (expect.path || expect.pathPrefix)) {
    const paths: string[] = (res.body.error.details?.errors ?? []).map((e: { path: string }) => e.path);
    if (paths.length === 0) return `400 ${res.body.error.code} names no field: ${res.body.error.message}`;
    const candidates = expect.anyErrorPath ? paths : paths.slice(0, 1);
    const ok = candidates.some((p) => (expect.path ? p === expect.path : p.startsWith(expect.pathPrefix!)));
    if (!ok) return `400 names ${paths.join(', ')}, expected ${expect.path ?? `${expect.pathPrefix}…`}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Hostile values

export const DEEP = 10_000;
export const deepArray = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;
export const deepObject = `${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`;
export const INJECTIONS = ["'; drop table users; --", '<script>alert(1)</script>'];
export const HUGE = 'x'.repeat(300_000);

/** JSON text of `value` with raw JSON tokens (1e309, deep nesting) spliced in for markers. */
export function rawJson(value: unknown, raws: Record<string, string>): string {
  let text = JSON.stringify(value);
  for (const [marker, raw] of Object.entries(raws)) text = text.replace(JSON.stringify(marker), raw);
  return text;
}
export const RAW = '\u0001raw\u0001';

export interface PropSchema {
  type?: string;
  enum?: unknown[];
  anyOf?: PropSchema[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  format?: string;
  pattern?: string;
  properties?: Record<string, PropSchema>;
}

/** The schema itself, or the non-null branch of a nullable one. */
export function mainBranch(schema: PropSchema): PropSchema {
  const branch = schema.type ? undefined : schema.anyOf?.find((s) => s.type !== 'null');
  return branch ? mainBranch(branch) : schema;
}

export function typeOf(schema: PropSchema): string {
  const main = mainBranch(schema);
  return main.type ?? (main.enum ? 'enum' : 'unknown');
}

export function wrongTypeValue(type: string): unknown {
  switch (type) {
    case 'integer':
    case 'number':
      return 'not-a-number';
    case 'boolean':
      return 'maybe';
    case 'object':
      return 'not-an-object';
    default:
      return { not: 'a scalar' }; // string, enum, array: an object is never coerced into one
  }
}

export interface BodyCase {
  name: string;
  payload: string;
  expect: Expect;
}

/** The cases for one property of a JSON body: `base` with `prop` replaced. */
export function propertyCases(
  base: Record<string, unknown>,
  prop: string,
  schema: PropSchema,
  opts: { union: boolean; echoes: boolean },
): BodyCase[] {
  const path = `body.${prop}`;
  const type = typeOf(schema);
  const withValue = (value: unknown) => JSON.stringify({ ...base, [prop]: value });
  const withRaw = (raw: string) => rawJson({ ...base, [prop]: RAW }, { [RAW]: raw });
  const field = opts.union ? { pathPrefix: path, anyErrorPath: true } : { path };
  const cases: BodyCase[] = [
    { name: 'wrong type', payload: withValue(wrongTypeValue(type)), expect: { status: [400], ...field } },
    { name: 'NUL', payload: withValue('bad\u0000nul'), expect: { status: [400], path } },
    { name: 'lone surrogate', payload: withValue('bad\ud800surrogate'), expect: { status: [400], path } },
    {
      name: 'NUL in an array',
      payload: withValue(['ok', 'x\u0000']),
      expect: { status: [400], path: `${path}[1]` },
    },
    { name: 'huge string', payload: withValue(HUGE), expect: { pathPrefix: path } },
    { name: 'deep arrays', payload: withRaw(deepArray), expect: { status: [400], pathPrefix: path } },
    { name: 'deep objects', payload: withRaw(deepObject), expect: { status: [400], pathPrefix: path } },
    { name: '1e309', payload: withRaw('1e309'), expect: { status: [400], path } },
    { name: '-1e309', payload: withRaw('-1e309'), expect: { status: [400], path } },
  ];
  for (const [name, raw, n] of [
    ['-1', '-1', -1],
    ['2**63', '9223372036854775808', 2 ** 63],
  ] as const) {
    const numeric = type === 'integer' || type === 'number';
    const { minimum, maximum } = mainBranch(schema);
    const inRange =
      numeric && (minimum === undefined || n >= minimum) && (maximum === undefined || n <= maximum);
    cases.push({
      name,
      payload: withRaw(raw),
      // Out of a numeric field's range: a 400 naming it. Elsewhere a number may be coerced (to a name, say).
      expect: numeric && !inRange ? { status: [400], ...field } : { mayAccept: true, pathPrefix: path },
    });
  }
  for (const injection of INJECTIONS) {
    cases.push({
      name: `injection ${injection}`,
      payload: withValue(injection),
      expect: {
        mayAccept: true,
        pathPrefix: path,
        ...(opts.echoes && type === 'string' && prop !== 'password' && { roundTrip: [prop, injection] }),
      },
    });
  }
  return cases;
}

/** Cases on the body as a whole (any operation that takes one). */
export function wholeBodyCases(base: Record<string, unknown> | null): BodyCase[] {
  const b = base ?? {};
  return [
    { name: 'malformed JSON', payload: '{"name":', expect: { status: [400], code: 'INVALID_JSON' } },
    { name: 'truncated JSON', payload: '{"a":[1,2', expect: { status: [400], code: 'INVALID_JSON' } },
    {
      name: '__proto__ key',
      payload: '{"__proto__":{"admin":true}}',
      expect: { status: [400], code: 'INVALID_JSON' },
    },
    {
      name: 'constructor.prototype key',
      payload: '{"constructor":{"prototype":{"admin":true}}}',
      expect: { status: [400], code: 'INVALID_JSON' },
    },
    { name: 'whole body deep', payload: deepArray, expect: { status: [400], pathPrefix: 'body' } },
    {
      name: 'NUL in a key',
      payload: JSON.stringify({ ...b, 'bad\u0000key': 1 }),
      expect: { status: [400], pathPrefix: 'body[' },
    },
    {
      name: 'lone surrogate in a key',
      payload: JSON.stringify({ ...b, 'bad\udfffkey': 1 }),
      expect: { status: [400], pathPrefix: 'body[' },
    },
    {
      name: '1e309 in an extra key',
      payload: rawJson({ ...b, extra: RAW }, { [RAW]: '1e309' }),
      expect: { status: [400], path: 'body.extra' },
    },
  ];
}

export const PARAM_VALUES: [string, string, Expect][] = [
  ['not a uuid', 'not-a-uuid', { status: [400] }],
  ['injection', encodeURIComponent(INJECTIONS[0]!), { status: [400] }],
  ['script', encodeURIComponent(INJECTIONS[1]!), { status: [400] }],
  ['NUL', 'bad%00nul', { status: [400] }],
  // Not decodable, so no route matches: the field at fault is the URL.
  ['invalid UTF-8 (a lone surrogate)', 'bad%ED%A0%80', { status: [400], code: 'BAD_URL', path: 'url' }],
  ['1000 characters', 'a'.repeat(1000), { status: [400] }],
  ['10,000 characters', 'a'.repeat(10_000), { status: [400] }],
  [
    '70,000 characters (beyond the router limit)',
    'a'.repeat(70_000),
    { status: [414], code: 'PARAM_TOO_LONG' },
  ],
  ['bad percent-encoding', '%zz', { status: [400], code: 'BAD_URL' }],
];

export const QUERY_VALUES: [string, string][] = [
  ['1e309', '1e309'],
  ['-1e309', '-1e309'],
  ['-1', '-1'],
  ['2**63', '9223372036854775808'],
  ['hex', '0x10'],
  ['words', 'abc'],
  ['NUL', 'bad%00nul'],
  ['huge', 'x'.repeat(5000)],
  ['injection', encodeURIComponent(INJECTIONS[0]!)],
];

export function multipartBody(
  parts: { name: string; filename?: string; type?: string; value: string | Buffer }[],
) {
  const boundary = `----hostile${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`,
      ),
      Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
