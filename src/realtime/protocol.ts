/**
 * The Centrifugo client protocol, JSON flavour: decoding command frames and encoding replies and pushes.
 *
 * A frame is one or more JSON objects separated by `\n` (the SDK sends `connect` and its `subscribe`s in
 * one frame). Commands are `{"id":N,"<method>":{...}}`; an empty object `{}` is the client's pong.
 * Field names are snake_case, empty fields are omitted, and `data` is raw JSON — so publications are
 * kept as JSON text from the broker to the socket and spliced into frames without re-serialising.
 */

import type { Disconnect, ProtocolError } from './codes.ts';

export * from './codes.ts';

/** Subscribe flag bit: answer 112 instead of `recovered: false` (the SDK sets it with getState). */
export const FLAG_REJECT_UNRECOVERED = 2;

export interface RecoverRequest {
  recover: boolean;
  offset: number;
  epoch: string;
}
export interface ConnectRequest {
  token: string;
  data: unknown;
  /** Positions of the server-side subscriptions the client had, for recovery. */
  subs: Record<string, RecoverRequest> | undefined;
  name: string;
}
export interface SubscribeRequest extends RecoverRequest {
  channel: string;
  token: string;
  data: unknown;
  flag: number;
}
export interface HistoryRequest {
  channel: string;
  /** Absent (0) means only the stream position; -1 means all retained. */
  limit: number;
  since: { offset: number; epoch: string } | undefined;
  reverse: boolean;
}

export type Command =
  | { id: number; method: 'connect'; req: ConnectRequest }
  | { id: number; method: 'subscribe'; req: SubscribeRequest }
  | { id: number; method: 'unsubscribe' | 'presence' | 'presence_stats' | 'sub_refresh'; channel: string }
  | { id: number; method: 'publish'; channel: string; data: unknown }
  | { id: number; method: 'history'; req: HistoryRequest }
  | { id: number; method: 'rpc'; rpc: string; data: unknown }
  | { id: number; method: 'send'; data: unknown }
  | { id: number; method: 'ping' | 'refresh' | 'pong' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Thrown by the decoders; the gateway answers it with disconnect 3501. */
export class BadRequest extends Error {}

const str = (v: unknown, what: string): string => {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new BadRequest(`${what} must be a string`);
  return v;
};
const uint = (v: unknown, what: string): number => {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new BadRequest(`${what} must be a uint`);
  return v;
};
const bool = (v: unknown, what: string): boolean => {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new BadRequest(`${what} must be a boolean`);
  return v;
};
/** Longest channel name accepted (Centrifugo's default limit). */
export const MAX_CHANNEL_LENGTH = 255;

const channelOf = (p: Obj): string => {
  const ch = str(p.channel, 'channel');
  if (ch === '' || ch.length > MAX_CHANNEL_LENGTH)
    throw new BadRequest('channel required, at most 255 characters');
  return ch;
};
const recoverOf = (p: Obj): RecoverRequest => ({
  recover: bool(p.recover, 'recover'),
  offset: uint(p.offset, 'offset'),
  epoch: str(p.epoch, 'epoch'),
});

function connectOf(p: Obj): ConnectRequest {
  let subs: Record<string, RecoverRequest> | undefined;
  if (p.subs !== undefined) {
    if (!isObj(p.subs)) throw new BadRequest('subs must be an object');
    subs = {};
    for (const [ch, s] of Object.entries(p.subs)) {
      if (!isObj(s)) throw new BadRequest('subs entries must be objects');
      subs[ch] = recoverOf(s);
    }
  }
  return { token: str(p.token, 'token'), data: p.data, subs, name: str(p.name, 'name') };
}

function historyOf(p: Obj): HistoryRequest {
  const limit = p.limit === undefined ? 0 : p.limit;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < -1) {
    throw new BadRequest('limit must be an integer ≥ -1');
  }
  let since: HistoryRequest['since'];
  if (p.since !== undefined) {
    if (!isObj(p.since)) throw new BadRequest('since must be an object');
    since = { offset: uint(p.since.offset, 'since.offset'), epoch: str(p.since.epoch, 'since.epoch') };
  }
  return { channel: channelOf(p), limit, since, reverse: bool(p.reverse, 'reverse') };
}

const METHODS = new Set([
  'connect',
  'subscribe',
  'unsubscribe',
  'publish',
  'presence',
  'presence_stats',
  'history',
  'ping',
  'send',
  'rpc',
  'refresh',
  'sub_refresh',
]);

/** One parsed JSON object → a typed command. Throws BadRequest for anything malformed. */
export function toCommand(raw: unknown): Command {
  if (!isObj(raw)) throw new BadRequest('command must be an object');
  let method = '';
  for (const key in raw) {
    if (key === 'id') continue;
    if (!METHODS.has(key)) continue; // unknown fields are ignored, as protobuf-JSON does
    if (method !== '') throw new BadRequest('more than one method');
    method = key;
  }
  const id = uint(raw.id, 'id');
  if (method === '') {
    // `{}` is a pong; an id without a known method is not a command we can answer.
    if (id !== 0) throw new BadRequest('unknown method');
    return { id: 0, method: 'pong' };
  }
  const p = raw[method] ?? {};
  if (!isObj(p)) throw new BadRequest(`${method} must be an object`);
  if (id === 0 && method !== 'send') throw new BadRequest('id required');
  switch (method) {
    case 'connect':
      return { id, method, req: connectOf(p) };
    case 'subscribe':
      return {
        id,
        method,
        req: {
          channel: channelOf(p),
          token: str(p.token, 'token'),
          data: p.data,
          flag: uint(p.flag, 'flag'),
          ...recoverOf(p),
        },
      };
    case 'unsubscribe':
    case 'presence':
    case 'presence_stats':
    case 'sub_refresh':
      return { id, method, channel: channelOf(p) };
    case 'publish':
      if (p.data === undefined) throw new BadRequest('data required');
      return { id, method, channel: channelOf(p), data: p.data };
    case 'history':
      return { id, method, req: historyOf(p) };
    case 'rpc':
      return { id, method, rpc: str(p.method, 'method'), data: p.data };
    case 'send':
      return { id, method, data: p.data };
    default:
      return { id, method: method as 'ping' | 'refresh' };
  }
}

/** Splits a text frame on newlines and decodes every command. Throws BadRequest. */
export function decodeFrame(text: string): Command[] {
  if (text.indexOf('\n') === -1) return [toCommand(parseJson(text))];
  const out: Command[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    out.push(toCommand(parseJson(line)));
  }
  if (out.length === 0) throw new BadRequest('empty frame');
  return out;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new BadRequest('invalid JSON');
  }
}

// ---- encoding ---------------------------------------------------------------------------------

/** A publication as it travels: `data` is JSON text. */
export interface WirePublication {
  offset: number;
  data: string;
}

/** The result of a subscribe (a reply, a connect reply's `subs[ch]`, or a subscribe push). */
export interface SubscribeResult {
  epoch: string;
  offset: number;
  recovered: boolean;
  wasRecovering: boolean;
  publications: readonly WirePublication[];
}

export const PING_FRAME = '{}';

export const encodeReply = (id: number, method: string, resultJson = '{}'): string =>
  `{"id":${id},"${method}":${resultJson}}`;

export function encodeError(id: number, err: ProtocolError): string {
  const e: { code: number; message: string; temporary?: true } = { code: err.code, message: err.message };
  if (err.temporary) e.temporary = true;
  return `{"id":${id},"error":${JSON.stringify(e)}}`;
}

/** `channelJson` is the channel name already JSON-encoded (cached per channel by the hub). */
export const encodePubPush = (channelJson: string, offset: number, data: string): string =>
  `{"push":{"channel":${channelJson},"pub":{"data":${data},"offset":${offset}}}}`;

/** A publication outside the stream (no offset): the SDK delivers it and keeps its position. */
export const encodePushOnly = (channel: string, data: string): string =>
  `{"push":{"channel":${JSON.stringify(channel)},"pub":{"data":${data}}}}`;

const encodePub = (p: WirePublication): string => `{"data":${p.data},"offset":${p.offset}}`;

/** Every stream of this gateway keeps history, so subscriptions are recoverable and positioned. */
export function encodeSubscribeResult(r: SubscribeResult): string {
  let s = `{"recoverable":true,"positioned":true`;
  if (r.epoch !== '') s += `,"epoch":${JSON.stringify(r.epoch)}`;
  if (r.offset !== 0) s += `,"offset":${r.offset}`;
  if (r.wasRecovering) s += `,"was_recovering":true`;
  if (r.recovered) s += `,"recovered":true`;
  if (r.publications.length > 0) s += `,"publications":[${r.publications.map(encodePub).join(',')}]`;
  return `${s}}`;
}

export function encodeConnectResult(
  client: string,
  version: string,
  pingSeconds: number,
  subs: ReadonlyMap<string, SubscribeResult>,
): string {
  let s = `{"client":"${client}","version":${JSON.stringify(version)}`;
  if (subs.size > 0) {
    const parts: string[] = [];
    for (const [ch, r] of subs) parts.push(`${JSON.stringify(ch)}:${encodeSubscribeResult(r)}`);
    s += `,"subs":{${parts.join(',')}}`;
  }
  if (pingSeconds > 0) s += `,"ping":${pingSeconds},"pong":true`;
  return `${s}}`;
}

export const encodeSubscribePush = (channel: string, r: SubscribeResult): string =>
  `{"push":{"channel":${JSON.stringify(channel)},"subscribe":${encodeSubscribeResult(r)}}}`;

export const encodeUnsubscribePush = (channel: string, u: Disconnect): string =>
  `{"push":{"channel":${JSON.stringify(channel)},"unsubscribe":${JSON.stringify(u)}}}`;

export const encodeHistoryResult = (
  pubs: readonly WirePublication[],
  offset: number,
  epoch: string,
): string => {
  let s = `{"publications":[${pubs.map(encodePub).join(',')}]`;
  if (epoch !== '') s += `,"epoch":${JSON.stringify(epoch)}`;
  if (offset !== 0) s += `,"offset":${offset}`;
  return `${s}}`;
};

/** `data` of an RPC result; undefined means an empty result. */
export const encodeRpcResult = (data: unknown): string =>
  data === undefined ? '{}' : `{"data":${JSON.stringify(data)}}`;

/** The token of the vendor form `data: {settings: {token}}`, else the connect `token`. */
export function connectToken(req: ConnectRequest): string {
  if (req.token !== '') return req.token;
  const settings = isObj(req.data) ? req.data.settings : undefined;
  const token = isObj(settings) ? settings.token : undefined;
  return typeof token === 'string' ? token : '';
}
