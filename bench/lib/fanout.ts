/**
 * Helpers of bench/fanout.ts:
 *
 * - the servers under test, each run in a child process driven over IPC: the realtime gateway and a
 *   bare `ws` server that speaks just enough of the protocol and sends the same push frames;
 * - the publication schedules they run in-process (a fixed rate, and a saturating closed loop paced by
 *   credits from the clients);
 * - the lightweight protocol clients (plain `ws`, not the SDK) and what they count;
 * - measurement: latency histograms and machine information (RSS and CPU: bench/lib/cpu.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { Redis } from 'ioredis';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import {
  attachGateway,
  type Broker,
  Gateway,
  type GatewayUser,
  MemoryBroker,
  RedisBroker,
} from '../../src/realtime/index.ts';
import { type HostInfo, hostInfo } from './report.ts';

// ---------------------------------------------------------------------------------------------
// Wire format (see ../shared/reference/centrifugo-protocol.md)
// ---------------------------------------------------------------------------------------------

export const BROADCAST_CHANNEL = 'broadcast:0';
export const personalChannel = (user: number): string => `operator:${user}`;
const connectFrame = (user: number) =>
  JSON.stringify({ id: 1, connect: { token: `user-${user}`, name: 'bench' } });
const SUBSCRIBE_FRAME = JSON.stringify({ id: 2, subscribe: { channel: BROADCAST_CHANNEL } });
const PING = '{}';

/** A publication push, byte for byte what the gateway writes (protocol.ts `encodePubPush`). */
const pubPush = (channelJson: string, dataJson: string, offset: number): string =>
  `{"push":{"channel":${channelJson},"pub":{"data":${dataJson},"offset":${offset}}}}`;
const PUSH_PREFIX = '{"push":{"channel":"';
const PUB_INFIX = '","pub":{"data":';

/** The data of every publication: when it was due (server clock, ms) and padding to a realistic size. */
export interface PubData {
  t: number;
  pad: string;
}

/** The server's wall clock with sub-millisecond resolution (same clock in every process). */
export const wallClock = (): number => performance.timeOrigin + performance.now();

/** `user-<n>` → user n. */
function userOfToken(token: string | undefined): number | null {
  const m = token === undefined ? null : /^user-(\d+)$/.exec(token);
  return m ? Number(m[1]) : null;
}

// ---------------------------------------------------------------------------------------------
// Servers under test (child process)
// ---------------------------------------------------------------------------------------------

export type ServerKind = 'gateway' | 'bare';

export interface ServerConfig {
  kind: ServerKind;
  /** The gateway's broker: RedisBroker on this URL, else MemoryBroker. */
  redisUrl: string | null;
  /** Server ping interval, both servers (the gateway's default is 25 s); 0 sends no pings. */
  pingIntervalSec: number;
  /** The gateway's `tickMs` (its shared ping timer); null keeps the gateway's default. */
  tickMs: number | null;
}

/** The child's command-line arguments for a configuration (parsed back by bench/fanout.ts). */
function serverArgs(c: ServerConfig): string[] {
  return [
    '--serve',
    c.kind,
    '--ping-interval',
    String(c.pingIntervalSec),
    ...(c.redisUrl ? ['--redis-url', c.redisUrl] : []),
    ...(c.tickMs === null ? [] : ['--tick-ms', String(c.tickMs)]),
  ];
}

/** What a publication schedule needs from a server: publishing happens in the server's process. */
interface Fanout {
  personal(user: number, data: PubData): void;
  broadcast(data: PubData): void;
  stats(): Record<string, number>;
  close(): Promise<void>;
}

async function gatewayFanout(
  server: http.Server,
  { redisUrl, pingIntervalSec, tickMs }: ServerConfig,
): Promise<Fanout> {
  const prefix = `bench-fanout:${randomBytes(6).toString('hex')}:`;
  const broker: Broker = redisUrl ? new RedisBroker({ url: redisUrl, prefix }) : new MemoryBroker();
  await broker.ready();
  const gateway = new Gateway({
    broker,
    authenticate: async ({ token }): Promise<GatewayUser | null> => {
      const user = userOfToken(token);
      return user === null ? null : { userId: String(user) };
    },
    serverSideChannels: (u) => [personalChannel(Number(u.userId))],
    canSubscribe: () => true,
    pingIntervalSec,
    ...(tickMs === null ? {} : { tickMs }),
  });
  attachGateway(server, gateway);
  let failedPublishes = 0;
  const failed = () => {
    failedPublishes++;
  };
  return {
    personal: (user, data) => void gateway.publish(personalChannel(user), data).catch(failed),
    broadcast: (data) => void gateway.publish(BROADCAST_CHANNEL, data).catch(failed),
    stats: () => ({ ...gateway.stats(), failedPublishes }),
    async close() {
      await gateway.close();
      await broker.close();
      if (redisUrl) await deleteKeys(redisUrl, prefix);
    },
  };
}

/** Removes the keys a Redis run left (every key and channel of the broker carries `prefix`). */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The socket class of the bare server: its user, its channel's offset and its ping time. */
class BareSocket extends WebSocket {
  user = -1;
  offset = 0;
  nextPingAt = 0;
}

const TEXT_FRAME = { binary: false } as const;

/**
 * The baseline: a bare `ws` server that accepts the same connect and subscribe commands with minimal
 * replies, pings every 25 s, and sends the gateway's push frames with one `ws.send` per delivery (a
 * broadcast frame is encoded once and its bytes sent to every subscriber).
 */
class BareServer implements Fanout {
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: BareSocket,
  });
  private readonly sockets = new Map<number, BareSocket>();
  private readonly subscribers = new Set<BareSocket>();
  private readonly pinger = setInterval(() => this.ping(), 1000).unref();
  private broadcastOffset = 0;
  private readonly pingMs: number;

  constructor(server: http.Server, pingIntervalSec: number) {
    this.pingMs = pingIntervalSec * 1000;
    server.on('upgrade', (req, socket: Duplex, head: Buffer) =>
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws as BareSocket)),
    );
  }

  personal(user: number, data: PubData): void {
    const ws = this.sockets.get(user);
    if (ws === undefined) return;
    ws.offset++;
    ws.send(pubPush(`"${personalChannel(user)}"`, JSON.stringify(data), ws.offset));
  }

  broadcast(data: PubData): void {
    this.broadcastOffset++;
    const frame = Buffer.from(pubPush(`"${BROADCAST_CHANNEL}"`, JSON.stringify(data), this.broadcastOffset));
    for (const ws of this.subscribers) ws.send(frame, TEXT_FRAME);
  }

  stats(): Record<string, number> {
    return { sockets: this.sockets.size, subscribers: this.subscribers.size };
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const ws of this.sockets.values()) ws.terminate();
  }

  private accept(ws: BareSocket): void {
    ws.on('message', (data: RawData) => this.onFrame(ws, data.toString()));
    ws.on('close', () => this.forget(ws));
    ws.on('error', () => undefined);
  }

  private onFrame(ws: BareSocket, text: string): void {
    for (const line of text.split('\n')) {
      if (line === '' || line === PING) continue; // `{}` is the client's pong
      const cmd = JSON.parse(line) as { id: number; connect?: { token?: string }; subscribe?: object };
      if (cmd.connect) this.connect(ws, cmd.id, cmd.connect.token);
      else if (cmd.subscribe && ws.user >= 0) {
        this.subscribers.add(ws);
        ws.send(`{"id":${cmd.id},"subscribe":{}}`);
      } else ws.send(`{"id":${cmd.id},"ping":{}}`);
    }
  }

  private connect(ws: BareSocket, id: number, token: string | undefined): void {
    const user = userOfToken(token);
    if (user === null) {
      ws.close(3500, 'invalid token');
      return;
    }
    ws.user = user;
    ws.nextPingAt = Date.now() + this.pingMs;
    this.sockets.set(user, ws);
    const subs = `{"${personalChannel(user)}":{}}`;
    ws.send(
      `{"id":${id},"connect":{"client":"${user}","version":"bare","subs":${subs},"ping":25,"pong":true}}`,
    );
  }

  private forget(ws: BareSocket): void {
    if (this.sockets.get(ws.user) === ws) this.sockets.delete(ws.user);
    this.subscribers.delete(ws);
  }

  private ping(): void {
    if (this.pingMs === 0) return;
    const now = Date.now();
    for (const ws of this.sockets.values()) {
      if (now < ws.nextPingAt) continue;
      ws.send(PING);
      ws.nextPingAt = now + this.pingMs;
    }
  }
}

// ---- publication schedules -------------------------------------------------------------------

export interface LoadPlan {
  seconds: number;
  users: number;
  /** Publications per user per second (each user's personal channel). */
  perUserRate: number;
  /** Publications per second on the broadcast channel. */
  broadcastRate: number;
  /** Characters of padding in each publication's data. */
  pad: number;
}

export interface LoadDone {
  seconds: number;
  personal: number;
  broadcasts: number;
  /** How late publications were made relative to their schedule (server event loop), ms. */
  scheduleLagMs: { p50: number; p99: number; max: number };
  /** The largest schedule lag in each second of the load (server stalls), ms. */
  maxLagPerSecondMs: number[];
  loopDelayMs: LoopDelay;
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Event-loop delay while enabled (what exceeds the sampling resolution), ms. */
export function loopDelayMeter(): () => LoopDelay {
  const resolutionMs = 10;
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  return () => {
    h.disable();
    const ms = (ns: number) => Math.max(0, round2(ns / 1e6 - resolutionMs));
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  };
}

/**
 * Publishes at a fixed rate, spread evenly over each second: personal publication i is due at
 * i / rate and goes to user i mod users; broadcasts are spread the same way. A 1 ms timer publishes
 * whatever is due; each publication carries its due time, so latency counts any lag of the server.
 */
function runLoad(fanout: Fanout, plan: LoadPlan): Promise<LoadDone> {
  const pad = 'x'.repeat(plan.pad);
  const personalEvery = 1000 / (plan.users * plan.perUserRate);
  const broadcastEvery = plan.broadcastRate > 0 ? 1000 / plan.broadcastRate : Number.POSITIVE_INFINITY;
  const durationMs = plan.seconds * 1000;
  const lag = createHistogram();
  const maxLag: number[] = [];
  const loopDelay = loopDelayMeter();
  const start = performance.now();
  let personal = 0;
  let broadcasts = 0;
  const publishDue = (now: number) => {
    const until = Math.min(now - start, durationMs);
    for (; personal * personalEvery < until; personal++) {
      const due = start + personal * personalEvery;
      fanout.personal(personal % plan.users, { t: performance.timeOrigin + due, pad });
      lag.record(Math.max(1, Math.round((now - due) * 1000)));
      const second = Math.floor((due - start) / 1000);
      maxLag[second] = Math.max(maxLag[second] ?? 0, round2(now - due));
    }
    for (; broadcasts * broadcastEvery < until; broadcasts++) {
      fanout.broadcast({ t: performance.timeOrigin + start + broadcasts * broadcastEvery, pad });
    }
  };
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      publishDue(now);
      if (now - start < durationMs) return;
      clearInterval(timer);
      const q = (p: number) => Math.round(lag.percentile(p) / 10) / 100;
      resolve({
        seconds: (now - start) / 1000,
        personal,
        broadcasts,
        scheduleLagMs: { p50: q(50), p99: q(99), max: Math.round(lag.max / 10) / 100 },
        maxLagPerSecondMs: Array.from(maxLag, (v) => v ?? 0),
        loopDelayMs: loopDelay(),
      });
    }, 1);
  });
}

export interface SaturatePlan {
  seconds: number;
  users: number;
  /** Subscribers of the broadcast channel: deliveries per broadcast. */
  recipients: number;
  /** Deliveries published but not yet received by the clients, at most. */
  window: number;
  /** Deliveries published per event-loop turn, at most. */
  batch: number;
  pad: number;
}

export interface SaturateDone {
  seconds: number;
  personal: number;
  broadcasts: number;
  /** Turns in which the window was full (the server waited for the clients). */
  stalls: number;
  loopDelayMs: LoopDelay;
}

/**
 * Publishes as fast as the server goes, in batches of one event-loop turn each (setImmediate, so the
 * sockets are written between batches), while fewer than `window` deliveries are in flight: the
 * clients report what they received (`credit`), so queues cannot grow without bound. Deliveries are
 * half personal, half broadcast, as in the fixed load.
 */
class Saturator {
  private personal = 0;
  private broadcasts = 0;
  private received = 0;
  private stalls = 0;
  private waiting = false;
  private finished = false;
  private readonly pad: string;
  private readonly start = performance.now();
  private readonly loopDelay = loopDelayMeter();

  constructor(
    private readonly fanout: Fanout,
    private readonly plan: SaturatePlan,
    private readonly done: (d: SaturateDone) => void,
  ) {
    this.pad = 'x'.repeat(plan.pad);
    setTimeout(() => this.finish(), plan.seconds * 1000);
    setImmediate(this.pump);
  }

  credit(received: number): void {
    this.received = received;
    if (!this.waiting) return;
    this.waiting = false;
    setImmediate(this.pump);
  }

  private get sent(): number {
    return this.personal + this.broadcasts * this.plan.recipients;
  }

  private readonly pump = (): void => {
    if (this.finished) return;
    let budget = Math.min(this.plan.batch, this.plan.window - (this.sent - this.received));
    if (budget <= 0) {
      this.stalls++;
      this.waiting = true;
      return;
    }
    const data: PubData = { t: wallClock(), pad: this.pad };
    const { recipients, users } = this.plan;
    while (budget > 0) {
      if (recipients > 0 && this.broadcasts * recipients <= this.personal) {
        this.fanout.broadcast(data);
        this.broadcasts++;
        budget -= recipients;
      } else {
        this.fanout.personal(this.personal % users, data);
        this.personal++;
        budget--;
      }
    }
    setImmediate(this.pump);
  };

  private finish(): void {
    this.finished = true;
    this.done({
      seconds: (performance.now() - this.start) / 1000,
      personal: this.personal,
      broadcasts: this.broadcasts,
      stalls: this.stalls,
      loopDelayMs: this.loopDelay(),
    });
  }
}

// ---- the child's IPC loop --------------------------------------------------------------------

export interface Memory {
  rssMb: number;
  heapUsedMb: number;
  externalMb: number;
}

/** What the parent asks of the server (each answered with a Reply of the same id). */
type Call =
  | { op: 'memory' | 'clock' | 'stats' | 'close' }
  | { op: 'load'; plan: LoadPlan }
  | { op: 'saturate'; plan: SaturatePlan };

/** Calls, and the clients' running count of deliveries received during saturation (no reply). */
type Request = (Call & { id: number }) | { op: 'credit'; received: number };

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 100) / 100;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Memory after garbage collection has settled (the child runs with --expose-gc). */
async function settledMemory(): Promise<Memory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(300);
  }
  const m = process.memoryUsage();
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external) };
}

/** The child process: starts the server, says `ready` with its port, then obeys the parent. */
export async function serve(config: ServerConfig): Promise<void> {
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const fanout =
    config.kind === 'gateway'
      ? await gatewayFanout(server, config)
      : new BareServer(server, config.pingIntervalSec);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', 4096, resolve));
  let saturator: Saturator | null = null;

  const handle = async (req: Call): Promise<unknown> => {
    switch (req.op) {
      case 'memory':
        return settledMemory();
      case 'clock':
        return wallClock();
      case 'stats':
        return fanout.stats();
      case 'load':
        return runLoad(fanout, req.plan);
      case 'saturate':
        return new Promise<SaturateDone>((resolve) => {
          saturator = new Saturator(fanout, req.plan, (d) => {
            saturator = null;
            resolve(d);
          });
        });
      case 'close':
        await fanout.close();
        server.closeAllConnections();
        server.close();
        return null;
    }
  };
  process.on('message', (req: Request) => {
    if (req.op === 'credit') {
      saturator?.credit(req.received);
      return;
    }
    handle(req).then(
      (result) => process.send!({ id: req.id, ok: true, result } satisfies Reply),
      (err: unknown) => process.send!({ id: req.id, ok: false, error: String(err) } satisfies Reply),
    );
  });
  process.on('disconnect', () => process.exit(0)); // the parent is gone
  process.send!({ op: 'ready', port: (server.address() as AddressInfo).port });
}

// ---------------------------------------------------------------------------------------------
// Server processes (parent side)
// ---------------------------------------------------------------------------------------------

/** A server child process: `node --expose-gc --import tsx <entry> --serve <kind>`. */
export class ServerProcess {
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 1;
  private exited = false;

  private constructor(
    readonly kind: ServerKind,
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on('message', (msg: Reply) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p?.resolve(msg.result);
      else p?.reject(new Error(`${kind} server: ${msg.error}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`${kind} server exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  /** `nodeArgs`: extra node flags for diagnostics (e.g. `--trace-gc`, `--cpu-prof`). */
  static start(
    config: ServerConfig,
    opts: { entry: string; cwd: string; nodeArgs: string[] },
  ): Promise<ServerProcess> {
    const kind = config.kind;
    const child = fork(opts.entry, serverArgs(config), {
      cwd: opts.cwd,
      execArgv: ['--expose-gc', ...opts.nodeArgs, '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind} server did not start`)), 30_000);
      child.once('exit', (code) => reject(new Error(`${kind} server exited at start (${code})`)));
      child.once('message', (msg: { op: string; port: number }) => {
        clearTimeout(timer);
        resolve(new ServerProcess(kind, child, msg.port));
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  request<T>(call: Call): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ ...call, id } satisfies Request);
    });
  }

  credit(received: number): void {
    if (!this.exited && this.child.connected) this.child.send({ op: 'credit', received } satisfies Request);
  }

  /** The server's clock minus ours (ms), from the IPC round trip with the smallest delay. */
  async clockOffsetMs(samples = 15): Promise<{ offsetMs: number; rttMs: number }> {
    let best = { offsetMs: 0, rttMs: Number.POSITIVE_INFINITY };
    for (let i = 0; i < samples; i++) {
      const sent = wallClock();
      const theirs = await this.request<number>({ op: 'clock' });
      const back = wallClock();
      if (back - sent < best.rttMs) best = { offsetMs: theirs - (sent + back) / 2, rttMs: back - sent };
    }
    return { offsetMs: round3(best.offsetMs), rttMs: round3(best.rttMs) };
  }

  /** Asks the server to close, then makes sure the process is gone. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    await Promise.race([this.request({ op: 'close' }).catch(() => undefined), sleep(10_000)]);
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Children still running: killed if this process exits early. */
const live = new Set<ChildProcess>();
export function killServers(): void {
  for (const child of live) child.kill('SIGKILL');
}

// ---------------------------------------------------------------------------------------------
// Clients (parent side)
// ---------------------------------------------------------------------------------------------

/** Latency samples (µs in an HDR histogram: constant memory), summarised in ms. */
export class Latency {
  private h: RecordableHistogram = createHistogram();

  record(ms: number): void {
    this.h.record(Math.max(1, Math.round(ms * 1000)));
  }

  reset(): void {
    this.h.reset();
  }

  summary(): LatencySummary {
    const ms = (us: number) => Math.round(us) / 1000;
    const n = this.h.count;
    return {
      count: n,
      p50: n ? ms(this.h.percentile(50)) : 0,
      p90: n ? ms(this.h.percentile(90)) : 0,
      p99: n ? ms(this.h.percentile(99)) : 0,
      max: n ? ms(this.h.max) : 0,
      mean: n ? ms(this.h.mean) : 0,
    };
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** What the clients received since the last reset. */
export class DeliveryStats {
  personal = 0;
  broadcast = 0;
  /** Offsets that skipped ahead (a delivery lost), or went back (a delivery repeated). */
  gaps = 0;
  duplicates = 0;
  /** Publications of a channel the client is not subscribed to. */
  misrouted = 0;
  /** Sampled pushes where the quick parse disagreed with JSON.parse. */
  parseMismatches = 0;
  /** Latencies below zero (clock offset error), counted as 0. */
  negativeLatencies = 0;
  pingsAnswered = 0;
  unexpected = 0;
  /** Close codes of sockets that closed while the run expected them open, with counts. */
  readonly closes = new Map<number, number>();
  readonly latency = { all: new Latency(), personal: new Latency(), broadcast: new Latency() };
  /** Latency of the deliveries received in each second since the last reset. */
  private seconds: Latency[] = [];
  private since = wallClock();

  get received(): number {
    return this.personal + this.broadcast;
  }

  record(kind: 'personal' | 'broadcast', latencyMs: number, now: number): void {
    this[kind]++;
    this.latency[kind].record(latencyMs);
    this.latency.all.record(latencyMs);
    const second = Math.max(0, Math.floor((now - this.since) / 1000));
    this.seconds[second] ??= new Latency();
    this.seconds[second].record(latencyMs);
  }

  /** Per second since the reset: deliveries received, p99 and max latency (ms). */
  timeline(): { second: number; count: number; p99: number; max: number }[] {
    return [...this.seconds.entries()].map(([second, l]) => {
      const s = l?.summary();
      return { second, count: s?.count ?? 0, p99: s?.p99 ?? 0, max: s?.max ?? 0 };
    });
  }

  reset(): void {
    this.personal = this.broadcast = this.gaps = this.duplicates = this.misrouted = 0;
    this.parseMismatches = this.negativeLatencies = this.pingsAnswered = this.unexpected = 0;
    this.closes.clear();
    this.resetLatency();
  }

  resetLatency(): void {
    for (const l of Object.values(this.latency)) l.reset();
    this.seconds = [];
    this.since = wallClock();
  }
}

type ClientState = 'connecting' | 'subscribing' | 'ready' | 'closed';

class BenchClient {
  state: ClientState = 'connecting';
  /** Offsets of the last publication received on the personal and the broadcast channel. */
  offset = 0;
  broadcastOffset = 0;
  settle: ((err?: Error) => void) | null = null;
  readonly channel: string;

  constructor(
    readonly user: number,
    readonly subscriber: boolean,
    readonly ws: WebSocket,
  ) {
    this.channel = personalChannel(user);
  }
}

interface ConnectReply {
  id?: number;
  connect?: { subs?: Record<string, { offset?: number }> };
  subscribe?: { offset?: number };
  error?: unknown;
}

/** One in this many pushes is also parsed with JSON.parse to check the quick parse. */
const CHECK_EVERY = 997;

/**
 * The lightweight clients: connect (checking the `operator:<n>` server-side subscription), optionally
 * subscribe to the broadcast channel, answer pings, and count every publication with its latency and
 * offset. A push is read with indexOf (channel, `t`, offset) rather than JSON.parse, to keep 10,000
 * clients in one process cheap; every 997th is also JSON-parsed to check the reading.
 */
export class Fleet {
  readonly stats = new DeliveryStats();
  /** The server's clock minus ours, added to our clock when computing latency. */
  clockOffsetMs = 0;
  private readonly clients: BenchClient[] = [];
  private checkCountdown = CHECK_EVERY;

  get size(): number {
    return this.clients.length;
  }

  /** Connects `count` clients, `batch` at a time; users below `subscribers` also subscribe. */
  async connect(url: string, count: number, subscribers: number, batch: number): Promise<void> {
    for (let first = 0; first < count; first += batch) {
      const users = Array.from({ length: Math.min(batch, count - first) }, (_, i) => first + i);
      await Promise.all(users.map((user) => this.connectOne(url, user, user < subscribers)));
    }
  }

  /** Drops every connection (no close handshake) and waits until their sockets are closed. */
  async terminate(): Promise<void> {
    const closed = this.clients.map(
      (c) =>
        new Promise<void>((resolve) =>
          c.state === 'closed' ? resolve() : c.ws.once('close', () => resolve()),
        ),
    );
    for (const c of this.clients) {
      c.state = 'closed';
      c.ws.terminate();
    }
    await Promise.race([Promise.all(closed), sleep(10_000)]);
    this.clients.length = 0;
  }

  private connectOne(url: string, user: number, subscriber: boolean): Promise<void> {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: 20_000,
    });
    const c = new BenchClient(user, subscriber, ws);
    this.clients.push(c);
    ws.on('open', () => ws.send(connectFrame(user)));
    ws.on('message', (data: RawData) => this.onFrame(c, data.toString()));
    ws.on('error', (err) => c.settle?.(err));
    ws.on('close', (code) => this.onClose(c, code));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => c.settle?.(new Error(`client ${user}: no connect reply`)), 30_000);
      c.settle = (err) => {
        clearTimeout(timer);
        c.settle = null;
        if (err) reject(err);
        else resolve();
      };
    });
  }

  private onClose(c: BenchClient, code: number): void {
    if (c.state === 'closed') return;
    c.settle?.(new Error(`client ${c.user}: closed with ${code} before it was ready`));
    c.state = 'closed';
    this.stats.closes.set(code, (this.stats.closes.get(code) ?? 0) + 1);
  }

  private onFrame(c: BenchClient, text: string): void {
    const now = wallClock() + this.clockOffsetMs;
    for (const line of text.split('\n')) {
      if (line.startsWith(PUSH_PREFIX)) this.onPush(c, line, now);
      else if (line === PING) {
        c.ws.send(PING);
        this.stats.pingsAnswered++;
      } else if (line !== '') this.onReply(c, JSON.parse(line) as ConnectReply);
    }
  }

  private onPush(c: BenchClient, line: string, now: number): void {
    const channelEnd = line.indexOf('"', PUSH_PREFIX.length);
    if (!line.startsWith(PUB_INFIX, channelEnd)) {
      this.stats.unexpected++;
      return;
    }
    const channel = line.slice(PUSH_PREFIX.length, channelEnd);
    const tAt = line.indexOf('"t":', channelEnd) + 4;
    const t = Number.parseFloat(line.slice(tAt, tAt + 32));
    const offset = Number.parseInt(line.slice(line.lastIndexOf('"offset":') + 9), 10);
    if (--this.checkCountdown === 0) this.check(line, channel, t, offset);
    const latencyMs = now - t;
    if (latencyMs < 0) this.stats.negativeLatencies++;
    if (channel === c.channel) {
      this.stats.record('personal', latencyMs, now);
      c.offset = this.advance(c.offset, offset);
    } else if (channel === BROADCAST_CHANNEL && c.subscriber) {
      this.stats.record('broadcast', latencyMs, now);
      c.broadcastOffset = this.advance(c.broadcastOffset, offset);
    } else this.stats.misrouted++;
  }

  /** Counts a gap or a repeat in a channel's offsets; returns the new last offset. */
  private advance(last: number, offset: number): number {
    if (offset <= last) this.stats.duplicates++;
    else if (offset !== last + 1) this.stats.gaps++;
    return Math.max(last, offset);
  }

  private check(line: string, channel: string, t: number, offset: number): void {
    this.checkCountdown = CHECK_EVERY;
    const push = (JSON.parse(line) as { push: { channel: string; pub: { data: PubData; offset: number } } })
      .push;
    if (push.channel !== channel || push.pub.data.t !== t || push.pub.offset !== offset) {
      this.stats.parseMismatches++;
    }
  }

  private onReply(c: BenchClient, reply: ConnectReply): void {
    if (c.state === 'connecting' && reply.id === 1) {
      const sub = reply.connect?.subs?.[c.channel];
      if (sub === undefined) {
        c.settle?.(
          new Error(`client ${c.user}: connect reply without ${c.channel}: ${JSON.stringify(reply)}`),
        );
        return;
      }
      c.offset = sub.offset ?? 0;
      if (c.subscriber) {
        c.state = 'subscribing';
        c.ws.send(SUBSCRIBE_FRAME);
      } else this.ready(c);
    } else if (c.state === 'subscribing' && reply.id === 2) {
      if (reply.subscribe === undefined) {
        c.settle?.(new Error(`client ${c.user}: subscribe failed: ${JSON.stringify(reply)}`));
        return;
      }
      c.broadcastOffset = reply.subscribe.offset ?? 0;
      this.ready(c);
    } else this.stats.unexpected++;
  }

  private ready(c: BenchClient): void {
    c.state = 'ready';
    c.settle?.();
  }
}

// ---------------------------------------------------------------------------------------------
// /proc: memory and CPU
// ---------------------------------------------------------------------------------------------

export const round3 = (v: number): number => Math.round(v * 1000) / 1000;
export const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The open-files limit of this process (children inherit it). */
export function openFilesLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

export interface Machine extends HostInfo {
  ws: string;
  openFilesLimit: number;
}

export function machine(): Machine {
  const wsVersion = (
    JSON.parse(readFileSync(new URL('../../node_modules/ws/package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;
  return { ...hostInfo(), ws: wsVersion, openFilesLimit: openFilesLimit() };
}

export { sleep };
