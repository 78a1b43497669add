/**
 * The fetch providers get (`ProviderContext.fetch`), guarded against server-side request forgery:
 * a URL that came from outside (an attachment URL in a webhook) must not make this server call
 * itself, its network or the cloud's metadata service.
 *
 * - Trusted: the origins named in the channel's own settings (a provider's configured API host —
 *   Telegram's `apiRoot`, the api channel's `callbackUrl`; an admin wrote them) and the hosts of the
 *   operator's allow-list (OMNILINE_FETCH_ALLOW_PRIVATE). They are fetched as they are.
 * - Anything else may only reach public addresses: a host is resolved, and every address it resolves
 *   to is checked when the connection is made (the request connects to the address checked, so a
 *   name that resolves to a public address once and a private one next cannot slip through).
 *   Loopback, private, link-local (169.254.169.254 among them), unique-local, unspecified,
 *   multicast and reserved addresses are refused, also inside IPv4-mapped and NAT64 IPv6 forms.
 * - Redirects are followed here, at most `maxRedirects`, each hop checked again.
 * - A request with no signal of its own is aborted after `timeoutMs`.
 * A refusal is a permanent ProviderError (`FETCH_REFUSED`) naming the host and why, never the URL
 * (it may carry a token).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ProviderError } from './provider.ts';

export class FetchRefused extends ProviderError {
  constructor(host: string, why: string) {
    super('FETCH_REFUSED', `refused to fetch from ${host}: ${why}`, { retryable: false });
    this.name = 'FetchRefused';
  }
}

export interface FetchGuardOptions {
  /** Hosts that may be private (`name`, `address`, `name:port`, `[v6]:port`): OMNILINE_FETCH_ALLOW_PRIVATE. */
  allowPrivate?: readonly string[];
  /** Origins trusted as they are (a channel's configured API hosts). */
  trustedOrigins?: readonly string[];
  maxRedirects?: number;
  timeoutMs?: number;
  /** Why an address is refused, or null (default: refusedAddress); tests stand in for the internet. */
  refuse?: (address: string) => string | null;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const NULL_BODY = new Set([101, 204, 205, 304]);

/** The origins of the http(s) URLs among a channel's settings: the hosts its admin configured. */
export function configuredOrigins(settings: Record<string, unknown>): string[] {
  const out = new Set<string>();
  for (const value of Object.values(settings)) {
    if (typeof value !== 'string' || !/^https?:\/\//i.test(value)) continue;
    try {
      out.add(new URL(value).origin);
    } catch {
      // not a URL after all
    }
  }
  return [...out];
}

/** A fetch that follows the rules above, calling `inner` for trusted hosts. */
export function guardedFetch(inner: typeof fetch, opts: FetchGuardOptions = {}): typeof fetch {
  const trusted = new Set(opts.trustedOrigins ?? []);
  const allowed = (opts.allowPrivate ?? []).map(parseHostEntry);
  const maxRedirects = opts.maxRedirects ?? 5;
  const refuse = opts.refuse ?? refusedAddress;
  const isTrusted = (url: URL) =>
    trusted.has(url.origin) ||
    allowed.some((a) => a.host === bare(url.hostname) && (a.port === null || a.port === portOf(url)));

  return async (input, init = {}) => {
    if (input instanceof Request) throw new TypeError('guarded fetch takes a URL and options, not a Request');
    let url = new URL(String(input));
    const follow = init.redirect ?? 'follow';
    // Trusted hosts keep the caller's timing (a long poll); others are bounded in time.
    const bounded = init.signal ?? AbortSignal.timeout(opts.timeoutMs ?? 60_000);
    let request: RequestInit = { ...init, redirect: 'manual' };
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new FetchRefused(url.protocol, 'only http and https URLs are fetched');
      const res = isTrusted(url)
        ? await inner(url, request)
        : await publicRequest(url, { ...request, signal: bounded }, refuse);
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || location === null || follow === 'manual') return res;
      await res.body?.cancel().catch(() => undefined);
      if (follow === 'error') throw new TypeError(`redirected by ${url.host}`);
      if (hop >= maxRedirects) throw new FetchRefused(url.host, `more than ${maxRedirects} redirects`);
      const next = new URL(location, url);
      const method = (request.method ?? 'GET').toUpperCase();
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        const headers = new Headers(request.headers);
        headers.delete('content-type');
        request = { ...request, method: method === 'HEAD' ? 'HEAD' : 'GET', body: undefined, headers };
      }
      if (next.origin !== url.origin) {
        const headers = new Headers(request.headers);
        headers.delete('authorization');
        headers.delete('cookie');
        request = { ...request, headers };
      }
      url = next;
    }
  };
}

/** One request to a host that must resolve to public addresses only (checked as it connects). */
async function publicRequest(
  url: URL,
  init: RequestInit,
  refuse: (address: string) => string | null,
): Promise<Response> {
  const host = bare(url.hostname);
  if (isIP(host)) {
    const why = refuse(host);
    if (why) throw new FetchRefused(url.host, why);
  }
  // Request normalises the headers and the body (strings, buffers, forms) as fetch would.
  const normal = new Request(url, { ...init, redirect: 'manual' });
  const headers: Record<string, string> = {};
  normal.headers.forEach((value, key) => {
    if (key !== 'accept-encoding') headers[key] = value;
  });
  const lookup: NonNullable<http.RequestOptions['lookup']> = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.map((a) => refuse(a.address)).find((why) => why !== null);
      if (bad || addresses.length === 0)
        return callback(new FetchRefused(url.host, bad ?? 'it resolves to no address'), '', 0);
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Response>((resolve, reject) => {
    const req = client.request(
      url,
      { method: normal.method, headers, lookup, signal: init.signal ?? undefined, agent: false },
      (res) => {
        try {
          const out = new Headers();
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
            out.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
          const status = res.statusCode ?? 0;
          const empty = NULL_BODY.has(status) || normal.method === 'HEAD';
          if (empty) res.resume();
          const body = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
          resolve(new Response(body, { status, statusText: res.statusMessage, headers: out }));
        } catch (err) {
          res.destroy();
          reject(err);
        }
      },
    );
    req.on('error', reject);
    if (normal.body) {
      const body = Readable.fromWeb(normal.body as unknown as WebReadableStream);
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else req.end();
  });
}

/** Why an address may not be fetched from outside, or null when it is public. */
export function refusedAddress(address: string): string | null {
  const v = isIP(address);
  if (v === 4) return refusedV4(v4Number(address));
  if (v === 6) return refusedV6(v6Words(address));
  return 'not an IP address';
}

function refusedV4(n: number): string | null {
  const inNet = (base: string, bits: number) =>
    bits === 0 || n >>> (32 - bits) === v4Number(base) >>> (32 - bits);
  if (inNet('127.0.0.0', 8)) return 'a loopback address';
  if (inNet('0.0.0.0', 8)) return 'an unspecified address';
  if (inNet('169.254.0.0', 16)) return 'a link-local address (cloud metadata among them)';
  if (inNet('10.0.0.0', 8) || inNet('172.16.0.0', 12) || inNet('192.168.0.0', 16)) return 'a private address';
  if (inNet('100.64.0.0', 10)) return 'a shared (carrier-grade NAT) address';
  if (inNet('224.0.0.0', 4)) return 'a multicast address';
  if (
    inNet('240.0.0.0', 4) ||
    inNet('192.0.0.0', 24) ||
    inNet('192.0.2.0', 24) ||
    inNet('198.18.0.0', 15) ||
    inNet('198.51.100.0', 24) ||
    inNet('203.0.113.0', 24)
  )
    return 'a reserved address';
  return null;
}

function refusedV6(w: number[]): string | null {
  const embeddedV4 = () => (w[6]! << 16) | w[7]!;
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'an unspecified address';
  if (zeros(0, 7) && w[7] === 1) return 'a loopback address';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
  if ((zeros(0, 5) && w[5] === 0xffff) || zeros(0, 6) || (w[0] === 0x64 && w[1] === 0xff9b && zeros(2, 6)))
    return refusedV4(embeddedV4() >>> 0);
  if (w[0] === 0x2002) return refusedV4(((w[1]! << 16) | w[2]!) >>> 0); // 6to4
  if ((w[0]! & 0xfe00) === 0xfc00) return 'a unique-local address';
  if ((w[0]! & 0xffc0) === 0xfe80 || (w[0]! & 0xffc0) === 0xfec0) return 'a link-local address';
  if ((w[0]! & 0xff00) === 0xff00) return 'a multicast address';
  if ((w[0] === 0x2001 && w[1] === 0xdb8) || (w[0] === 0x100 && zeros(1, 4))) return 'a reserved address';
  return null;
}

function v4Number(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

/** The eight 16-bit words of an IPv6 address (zone dropped, a dotted IPv4 tail expanded). */
function v6Words(address: string): number[] {
  let a = address.split('%')[0]!.toLowerCase();
  const dotted = a.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const n = v4Number(dotted[1]!);
    a = `${a.slice(0, -dotted[1]!.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = a.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((x) => Number.parseInt(x, 16) || 0);
}

/** A hostname without IPv6 brackets, lower case. */
function bare(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** `name`, `address`, `name:port` or `[v6]:port` of the allow-list. */
function parseHostEntry(entry: string): { host: string; port: number | null } {
  const e = entry.trim().toLowerCase();
  const v6 = e.match(/^\[([^\]]+)\](?::(\d+))?$/);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : null };
  if (isIP(e) === 6) return { host: e, port: null };
  const [host, port] = e.split(':');
  return { host: host!, port: port ? Number(port) : null };
}

/** Checks an OMNILINE_FETCH_ALLOW_PRIVATE entry; null when it is one. */
export function hostEntryProblem(entry: string): string | null {
  const { host, port } = parseHostEntry(entry);
  if (!host || !/^[a-z0-9.:_-]+$/.test(host)) return `"${entry}" is not a host name or address`;
  if (port !== null && !(Number.isInteger(port) && port > 0 && port < 65536))
    return `"${entry}" has no valid port`;
  return null;
}
