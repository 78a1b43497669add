/**
 * Benchmark of the realtime gateway's fan-out (the issue's benchmark, verbatim):
 *
 *   `bench/fanout.ts`: 10,000 concurrent connections (lightweight protocol clients), one publication
 *   per connection per second plus broadcasts to 1,000 recipients: print deliveries/s, p50/p99
 *   delivery latency and server RSS per connection; in the same run a bare `ws` server sending the
 *   same frames as the baseline, with the ratio. Targets: ≥ 0.7 of the bare throughput, p99 < 50 ms,
 *   ≤ 20 KB per idle connection.
 *
 * Each server runs in a child process (`node --expose-gc --import tsx bench/fanout.ts --serve <kind>`),
 * so its RSS is its own, and publishes in-process as domain events do in production:
 *
 *   gateway   `new Gateway({broker: MemoryBroker (RedisBroker with --redis), authenticate: user-<n>,
 *             serverSideChannels: operator:<n>, canSubscribe: all})` on `http.createServer()`, default
 *             limits and history (100 publications for 10 minutes per channel);
 *   bare      a `ws` server with the same connect/subscribe commands (minimal replies), pings, and the
 *             same push frames: one `ws.send` per delivery (a broadcast frame encoded once).
 *
 * This process holds 10,000 plain `ws` clients (connected 500 at a time): each sends
 * `{"id":1,"connect":{"token":"user-<n>","name":"bench"}}`, checks the reply lists `operator:<n>`, the
 * first 1,000 then subscribe to `broadcast:0`; they answer pings and count every publication, its
 * offset (gaps, repeats) and its latency: now − the due time the server put in the data (the two
 * clocks are the same wall clock; the small offset measured over IPC is corrected).
 *
 * Phases, for each server in turn (gateway, then bare):
 *   memory      RSS after GC before any connection, and with the 10,000 idle connections → KB each;
 *   warm-up     `--warmup` s of the fixed load, not counted;
 *   fixed load  `--seconds` s: one publication per connection per second to `operator:<n>`, spread
 *               evenly over the second (10,000/s), plus `--broadcast-rate` broadcasts/s to the 1,000
 *               subscribers (10,000 deliveries/s): 20,000 deliveries/s offered, so both servers should
 *               keep up (ratio ~1.0); latency p99 is judged here;
 *   saturation  `--saturate` s: the server publishes the same mix as fast as it can, in batches of
 *               one event-loop turn, with at most `--window` deliveries in flight (the clients report
 *               what they received every 10 ms); deliveries/s over the last part of it, and the server's
 *               CPU per delivery. The throughput target is judged on this ratio.
 *
 * Both processes share the machine's cores, and whatever else runs on it: CPU use of the server, the
 * clients and other processes is reported per phase, with a warning when others used > 0.25 core. The
 * fixed load also gets a per-second timeline (client p99, the server's largest schedule lag) with the
 * seconds in which the servers' 25 s pings fell due marked: they come in bursts, as fast as the
 * clients connected. Results: bench/results/fanout.json.
 *
 *   npm run bench:fanout        (npx tsx bench/fanout.ts)
 *
 * Options: --clients 10000 --subscribers 1000 --rate 1 (per connection per s) --broadcast-rate 10
 * --seconds 30 --warmup 3 --saturate 10 (s; 0 = off) --window 20000 --batch 2000 --pad 200 (characters
 * of padding in each publication) --connect-batch 500 --only gateway|bare --redis (RedisBroker on
 * REDIS_URL, default redis://127.0.0.1:6379) --ping-interval 25 (s, both servers; 0 = none)
 * --tick-ms <ms> (the gateway's shared ping timer; default: the gateway's own, 1000)
 * --server-args='<node flags>' (diagnostics in the server processes, e.g. '--trace-gc' or
 * '--cpu-prof --cpu-prof-dir=/tmp/prof') --out <file>.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CpuUse, cpuMeter, RssSampler } from './lib/cpu.ts';
import {
  Fleet,
  killServers,
  type LatencySummary,
  type LoadDone,
  type LoadPlan,
  type LoopDelay,
  loopDelayMeter,
  type Machine,
  type Memory,
  machine,
  openFilesLimit,
  round2,
  round3,
  type SaturateDone,
  type ServerKind,
  ServerProcess,
  serve,
  sleep,
  wallClock,
} from './lib/fanout.ts';
import { formatTable, writeJson } from './lib/report.ts';

const TARGETS = {
  /** Gateway ÷ bare deliveries/s at saturation. */
  throughputRatio: 0.7,
  p99Ms: 50,
  idleKbPerConnection: 20,
} as const;
const ENTRY = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(ENTRY), '..');
const DEFAULT_OUT = path.join(ROOT, 'bench/results/fanout.json');
/** How long to wait for deliveries still on their way after a phase. */
const DRAIN_MS = 3000;
/** Saturation: time to reach the steady state before measuring, and margin before the end. */
const RAMP_MS = 2000;
const TAIL_MS = 250;
/** Other processes using more than this (cores) during a phase make its figures suspect. */
const NOISE_CORES = 0.25;

const log = (...args: unknown[]) => console.log(...args);

interface Options {
  clients: number;
  subscribers: number;
  rate: number;
  broadcastRate: number;
  seconds: number;
  warmup: number;
  saturate: number;
  window: number;
  batch: number;
  pad: number;
  connectBatch: number;
  only: ServerKind | null;
  redisUrl: string | null;
  pingIntervalSec: number;
  tickMs: number | null;
  serverArgs: string[];
  out: string;
}

const OPTIONS = {
  serve: { type: 'string' },
  'redis-url': { type: 'string' },
  'ping-interval': { type: 'string', default: '25' },
  'tick-ms': { type: 'string' },
  clients: { type: 'string', default: '10000' },
  subscribers: { type: 'string', default: '1000' },
  rate: { type: 'string', default: '1' },
  'broadcast-rate': { type: 'string', default: '10' },
  seconds: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '3' },
  saturate: { type: 'string', default: '10' },
  window: { type: 'string', default: '20000' },
  batch: { type: 'string', default: '2000' },
  pad: { type: 'string', default: '200' },
  'connect-batch': { type: 'string', default: '500' },
  only: { type: 'string' },
  redis: { type: 'boolean', default: false },
  'server-args': { type: 'string', default: '' },
  out: { type: 'string', default: DEFAULT_OUT },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];

function parseOptions(values: Values): Options {
  const num = (name: keyof Values, min: number) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}`);
    return n;
  };
  const only = values.only ?? null;
  if (only !== null && only !== 'gateway' && only !== 'bare') throw new Error('--only is gateway or bare');
  const clients = Math.round(num('clients', 1));
  return {
    clients,
    subscribers: Math.min(clients, Math.round(num('subscribers', 0))),
    rate: num('rate', 0.001),
    broadcastRate: num('broadcast-rate', 0),
    seconds: num('seconds', 1),
    warmup: num('warmup', 0),
    saturate: num('saturate', 0),
    window: Math.round(num('window', 1)),
    batch: Math.round(num('batch', 1)),
    pad: Math.round(num('pad', 0)),
    connectBatch: Math.round(num('connect-batch', 1)),
    only,
    redisUrl: values.redis ? (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : null,
    pingIntervalSec: num('ping-interval', 0),
    tickMs: values['tick-ms'] === undefined ? null : num('tick-ms', 1),
    serverArgs: values['server-args'].split(' ').filter((a) => a !== ''),
    out: path.resolve(values.out),
  };
}

// ---------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------

interface Integrity {
  missed: number;
  gaps: number;
  duplicates: number;
  misrouted: number;
  parseMismatches: number;
  negativeLatencies: number;
  unexpectedMessages: number;
  /** Close codes of client sockets that closed during the run, with counts. */
  closes: Record<string, number>;
}

interface LoadResult {
  seconds: number;
  published: { personal: number; broadcasts: number };
  expected: { personal: number; broadcast: number };
  received: { personal: number; broadcast: number };
  deliveriesPerS: { total: number; personal: number; broadcast: number };
  latencyMs: { all: LatencySummary; personal: LatencySummary; broadcast: LatencySummary };
  integrity: Integrity;
  server: {
    scheduleLagMs: LoadDone['scheduleLagMs'];
    maxLagPerSecondMs: number[];
    loopDelayMs: LoopDelay;
    rssMb: { median: number; peak: number };
    usPerDelivery: number;
  };
  clientsLoopDelayMs: LoopDelay;
  cpu: CpuUse;
  /** Deliveries received, p99 and max latency in each second of the phase. */
  timeline: ReturnType<Fleet['stats']['timeline']>;
  /**
   * Seconds of the load (from its start) in which the servers sent their periodic pings: a ping is
   * due `--ping-interval` s after each connect, so the pings come in bursts as fast as clients connected.
   */
  pingWindowsS: [number, number][];
}

interface SaturationResult {
  seconds: number;
  /** Measured over [RAMP_MS, end − TAIL_MS]. */
  measuredSeconds: number;
  deliveriesPerS: number;
  published: { personal: number; broadcasts: number };
  window: number;
  stalls: number;
  latencyMs: LatencySummary;
  integrity: Integrity;
  server: { loopDelayMs: LoopDelay; usPerDelivery: number; deliveriesPerCoreS: number };
  cpu: CpuUse;
}

interface ServerRun {
  kind: ServerKind;
  broker: string;
  connect: { clients: number; seconds: number; perS: number };
  memory: { before: Memory; idle: Memory; idleKbPerConnection: number; heapKbPerConnection: number };
  clock: { offsetMs: number; rttMs: number };
  serverStats: Record<string, number>;
  load: LoadResult;
  saturation: SaturationResult | null;
}

function integrity(fleet: Fleet, expected: number): Integrity {
  const s = fleet.stats;
  return {
    missed: expected - s.received,
    gaps: s.gaps,
    duplicates: s.duplicates,
    misrouted: s.misrouted,
    parseMismatches: s.parseMismatches,
    negativeLatencies: s.negativeLatencies,
    unexpectedMessages: s.unexpected,
    closes: Object.fromEntries(s.closes),
  };
}

/** Waits until `expected` deliveries arrived, or DRAIN_MS passed. */
async function drain(fleet: Fleet, expected: number): Promise<void> {
  const until = performance.now() + DRAIN_MS;
  while (fleet.stats.received < expected && performance.now() < until) await sleep(20);
}

/** When the connections' pings fall due during a load starting at `loadStart` (wall clock, ms). */
function pingWindows(
  connected: { from: number; to: number },
  loadStart: number,
  o: Options,
): [number, number][] {
  const out: [number, number][] = [];
  const every = o.pingIntervalSec * 1000;
  if (every === 0) return out;
  for (let k = 1; connected.from + k * every - loadStart < o.seconds * 1000; k++) {
    const from = (connected.from + k * every - loadStart) / 1000;
    const to = (connected.to + k * every - loadStart) / 1000;
    if (to >= 0) out.push([round2(Math.max(0, from)), round2(to)]);
  }
  return out;
}

async function fixedLoad(
  server: ServerProcess,
  fleet: Fleet,
  plan: LoadPlan,
  o: Options,
  connected: { from: number; to: number },
): Promise<LoadResult> {
  fleet.stats.reset();
  const loadStart = wallClock();
  const rss = new RssSampler(server.pid).start(500);
  const cpu = cpuMeter({ server: server.pid });
  const clientsLoop = loopDelayMeter();
  const done = await server.request<LoadDone>({ op: 'load', plan });
  const cpuUse = cpu();
  const expected = { personal: done.personal, broadcast: done.broadcasts * o.subscribers };
  await drain(fleet, expected.personal + expected.broadcast);
  const s = fleet.stats;
  const rate = (n: number) => Math.round(n / done.seconds);
  rss.stop();
  return {
    seconds: round3(done.seconds),
    published: { personal: done.personal, broadcasts: done.broadcasts },
    expected,
    received: { personal: s.personal, broadcast: s.broadcast },
    deliveriesPerS: { total: rate(s.received), personal: rate(s.personal), broadcast: rate(s.broadcast) },
    latencyMs: {
      all: s.latency.all.summary(),
      personal: s.latency.personal.summary(),
      broadcast: s.latency.broadcast.summary(),
    },
    integrity: integrity(fleet, expected.personal + expected.broadcast),
    server: {
      scheduleLagMs: done.scheduleLagMs,
      maxLagPerSecondMs: done.maxLagPerSecondMs,
      loopDelayMs: done.loopDelayMs,
      rssMb: { median: rss.median(), peak: rss.peak },
      usPerDelivery: round2(((cpuUse.server * done.seconds) / Math.max(1, s.received)) * 1e6),
    },
    clientsLoopDelayMs: clientsLoop(),
    cpu: cpuUse,
    timeline: s.timeline(),
    pingWindowsS: pingWindows(connected, loadStart, o),
  };
}

async function saturation(server: ServerProcess, fleet: Fleet, o: Options): Promise<SaturationResult> {
  fleet.stats.reset();
  const credits = setInterval(() => server.credit(fleet.stats.received), 10);
  const plan = {
    seconds: o.saturate,
    users: o.clients,
    recipients: o.subscribers,
    window: o.window,
    batch: o.batch,
    pad: o.pad,
  };
  const running = server.request<SaturateDone>({ op: 'saturate', plan });
  const measureMs = Math.max(500, o.saturate * 1000 - RAMP_MS - TAIL_MS);
  await sleep(Math.min(RAMP_MS, o.saturate * 500));
  fleet.stats.resetLatency();
  const from = { received: fleet.stats.received, at: performance.now() };
  const cpu = cpuMeter({ server: server.pid });
  await sleep(measureMs);
  const delivered = fleet.stats.received - from.received;
  const seconds = (performance.now() - from.at) / 1000;
  const cpuUse = cpu();
  const latencyMs = fleet.stats.latency.all.summary();
  const done = await running;
  clearInterval(credits);
  const expected = done.personal + done.broadcasts * o.subscribers;
  await drain(fleet, expected);
  const usPerDelivery = (cpuUse.server * seconds * 1e6) / Math.max(1, delivered);
  return {
    seconds: round3(done.seconds),
    measuredSeconds: round3(seconds),
    deliveriesPerS: Math.round(delivered / seconds),
    published: { personal: done.personal, broadcasts: done.broadcasts },
    window: o.window,
    stalls: done.stalls,
    latencyMs,
    integrity: integrity(fleet, expected),
    server: {
      loopDelayMs: done.loopDelayMs,
      usPerDelivery: round2(usPerDelivery),
      deliveriesPerCoreS: Math.round(1e6 / usPerDelivery),
    },
    cpu: cpuUse,
  };
}

/** Connects the clients, measuring the server's memory before and with the idle connections. */
async function connectIdle(server: ServerProcess, fleet: Fleet, o: Options) {
  const before = await server.request<Memory>({ op: 'memory' });
  const from = wallClock();
  await fleet.connect(
    `ws://127.0.0.1:${server.port}/connection/websocket`,
    o.clients,
    o.subscribers,
    o.connectBatch,
  );
  const connected = { from, to: wallClock() };
  const seconds = (connected.to - from) / 1000;
  log(`  ${o.clients} clients connected in ${seconds.toFixed(1)} s (${o.subscribers} on broadcast:0)`);
  await sleep(1000);
  const idle = await server.request<Memory>({ op: 'memory' });
  const perConn = (mb: number) => round3((mb * 1024) / o.clients);
  const memory = {
    before,
    idle,
    idleKbPerConnection: perConn(idle.rssMb - before.rssMb),
    heapKbPerConnection: perConn(idle.heapUsedMb - before.heapUsedMb),
  };
  log(
    `  RSS ${before.rssMb} MB before, ${idle.rssMb} MB idle: ${memory.idleKbPerConnection} KB per connection`,
  );
  const connect = { clients: o.clients, seconds: round3(seconds), perS: Math.round(o.clients / seconds) };
  return { connect, connected, memory };
}

async function runServer(kind: ServerKind, o: Options): Promise<ServerRun> {
  const redisUrl = kind === 'gateway' ? o.redisUrl : null;
  log(`\n== ${kind} server${redisUrl ? ` (RedisBroker on ${redisUrl})` : ''} ==`);
  const config = { kind, redisUrl, pingIntervalSec: o.pingIntervalSec, tickMs: o.tickMs };
  const server = await ServerProcess.start(config, { entry: ENTRY, cwd: ROOT, nodeArgs: o.serverArgs });
  const fleet = new Fleet();
  try {
    const { connect, connected, memory } = await connectIdle(server, fleet, o);
    const serverStats = await server.request<Record<string, number>>({ op: 'stats' });
    const clock = await server.clockOffsetMs();
    fleet.clockOffsetMs = clock.offsetMs;
    const plan: LoadPlan = {
      seconds: o.seconds,
      users: o.clients,
      perUserRate: o.rate,
      broadcastRate: o.broadcastRate,
      pad: o.pad,
    };
    if (o.warmup > 0) await fixedLoad(server, fleet, { ...plan, seconds: o.warmup }, o, connected);
    log(`  fixed load for ${o.seconds} s…`);
    const load = await fixedLoad(server, fleet, plan, o, connected);
    log(
      `  ${load.deliveriesPerS.total} deliveries/s, p99 ${load.latencyMs.all.p99} ms, missed ${load.integrity.missed}`,
    );
    let sat: SaturationResult | null = null;
    if (o.saturate > 0) {
      log(`  saturation for ${o.saturate} s…`);
      sat = await saturation(server, fleet, o);
      log(`  ${sat.deliveriesPerS} deliveries/s, server ${sat.server.usPerDelivery} µs CPU per delivery`);
    }
    return {
      kind,
      broker: kind === 'bare' ? 'none' : redisUrl ? 'redis' : 'memory',
      connect,
      memory,
      clock,
      serverStats,
      load,
      saturation: sat,
    };
  } finally {
    await fleet.terminate();
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

interface Verdict {
  target: string;
  value: number | null;
  pass: boolean | null;
  note?: string;
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? null : round3(a / b);
const verdictText = (v: Verdict) => (v.pass === null ? 'n/a' : v.pass ? 'PASS' : 'FAIL');

function verdicts(gateway: ServerRun | undefined, bare: ServerRun | undefined) {
  const satRatio = ratio(gateway?.saturation?.deliveriesPerS, bare?.saturation?.deliveriesPerS);
  const p99 = gateway?.load.latencyMs.all.p99 ?? null;
  const kb = gateway?.memory.idleKbPerConnection ?? null;
  const throughput: Verdict = {
    target: `gateway ÷ bare deliveries/s at saturation ≥ ${TARGETS.throughputRatio}`,
    value: satRatio,
    pass: satRatio === null ? null : satRatio >= TARGETS.throughputRatio,
  };
  const latency: Verdict = {
    target: `gateway p99 delivery latency at the fixed load < ${TARGETS.p99Ms} ms`,
    value: p99,
    pass: p99 === null ? null : p99 < TARGETS.p99Ms,
  };
  const memory: Verdict = {
    target: `gateway RSS per idle connection ≤ ${TARGETS.idleKbPerConnection} KB`,
    value: kb,
    pass: kb === null ? null : kb <= TARGETS.idleKbPerConnection,
  };
  return { throughput, latency, memory };
}

function table(runs: ServerRun[]): string {
  const g = runs.find((r) => r.kind === 'gateway');
  const b = runs.find((r) => r.kind === 'bare');
  const cell = (v: number | undefined, digits = 0) =>
    v === undefined ? '-' : v.toLocaleString('en-US', { maximumFractionDigits: digits });
  const row = (label: string, f: (r: ServerRun) => number | undefined, digits = 0, withRatio = false) => {
    const gv = g ? f(g) : undefined;
    const bv = b ? f(b) : undefined;
    const r = withRatio ? ratio(gv, bv) : null;
    return [label, cell(gv, digits), cell(bv, digits), r === null ? '' : r.toFixed(3)];
  };
  const lat = (q: keyof LatencySummary) => (r: ServerRun) => r.load.latencyMs.all[q];
  const sat = (f: (s: SaturationResult) => number) => (r: ServerRun) =>
    r.saturation ? f(r.saturation) : undefined;
  const rows = [
    row('fixed load: deliveries/s', (r) => r.load.deliveriesPerS.total, 0, true),
    row('  personal/s', (r) => r.load.deliveriesPerS.personal),
    row('  broadcast/s', (r) => r.load.deliveriesPerS.broadcast),
    row('  latency p50 ms', lat('p50'), 2, true),
    row('  latency p90 ms', lat('p90'), 2, true),
    row('  latency p99 ms', lat('p99'), 2, true),
    row('  latency max ms', lat('max'), 2, true),
    row('  broadcast p99 ms', (r) => r.load.latencyMs.broadcast.p99, 2),
    row('  missed deliveries', (r) => r.load.integrity.missed),
    row('  gaps + repeats', (r) => r.load.integrity.gaps + r.load.integrity.duplicates),
    row('  server schedule lag p99 ms', (r) => r.load.server.scheduleLagMs.p99, 2),
    row('  server CPU µs/delivery', (r) => r.load.server.usPerDelivery, 1, true),
    row('  CPU cores server/clients/others', (r) => r.load.cpu.server, 2),
    row(
      'saturation: deliveries/s',
      sat((s) => s.deliveriesPerS),
      0,
      true,
    ),
    row(
      '  server CPU µs/delivery',
      sat((s) => s.server.usPerDelivery),
      1,
      true,
    ),
    row(
      '  server deliveries per core-s',
      sat((s) => s.server.deliveriesPerCoreS),
      0,
      true,
    ),
    row(
      '  latency p50 ms (window-bound)',
      sat((s) => s.latencyMs.p50),
      1,
    ),
    row(
      '  missed deliveries',
      sat((s) => s.integrity.missed),
    ),
    row('RSS before connections MB', (r) => r.memory.before.rssMb, 1),
    row('RSS with idle connections MB', (r) => r.memory.idle.rssMb, 1),
    row('  KB per idle connection', (r) => r.memory.idleKbPerConnection, 2, true),
    row('  of which JS heap KB', (r) => r.memory.heapKbPerConnection, 2),
    row('RSS during load MB (median)', (r) => r.load.server.rssMb.median, 1),
    row('RSS during load MB (peak)', (r) => r.load.server.rssMb.peak, 1),
  ];
  const cpuRow = rows.find((r) => r[0] === '  CPU cores server/clients/others')!;
  const cpuText = (r: ServerRun | undefined) =>
    r ? `${r.load.cpu.server} / ${r.load.cpu.loadgen} / ${r.load.cpu.otherProcesses}` : '-';
  cpuRow[1] = cpuText(g);
  cpuRow[2] = cpuText(b);
  return formatTable(['', 'gateway', 'bare', 'gateway ÷ bare'], rows);
}

function cpuNotes(runs: ServerRun[]): string[] {
  const out: string[] = [];
  for (const r of runs) {
    for (const [phase, cpu] of [
      ['fixed load', r.load.cpu],
      ['saturation', r.saturation?.cpu],
    ] as const) {
      if (!cpu) continue;
      const top = cpu.topOthers.map((p) => `${p.cores} ${p.cmd.slice(0, 50)}`).join('; ');
      out.push(
        `  ${r.kind} ${phase}: server ${cpu.server}, clients ${cpu.loadgen}, others ${cpu.otherProcesses} of ${cpu.machine} busy cores${top ? ` (top others: ${top})` : ''}`,
      );
    }
  }
  return out;
}

/** Per-second p99 of a load, with the seconds of a ping window in brackets. */
function timelineLine(r: ServerRun): string {
  const inPings = (s: number) => r.load.pingWindowsS.some(([from, to]) => s + 1 > from && s < to);
  const cells = r.load.timeline
    .filter((t) => t.second < r.load.seconds - 0.5)
    .map((t) => (inPings(t.second) ? `[${Math.round(t.p99)}]` : String(Math.round(t.p99))));
  return `  ${r.kind.padEnd(8)} ${cells.join(' ')}`;
}

/** Phases during which other work used the machine noticeably. */
function noiseWarnings(runs: ServerRun[]): string[] {
  const out: string[] = [];
  for (const r of runs) {
    const phases: [string, number][] = [['fixed load', r.load.cpu.otherProcesses]];
    if (r.saturation) phases.push(['saturation', r.saturation.cpu.otherProcesses]);
    for (const [phase, others] of phases) {
      if (others > NOISE_CORES) out.push(`${r.kind} ${phase}: other processes used ${others} cores`);
    }
  }
  return out;
}

function report(o: Options, m: Machine, runs: ServerRun[]): void {
  const g = runs.find((r) => r.kind === 'gateway');
  const b = runs.find((r) => r.kind === 'bare');
  const v = verdicts(g, b);
  const offered = o.clients * o.rate + o.broadcastRate * o.subscribers;
  log(
    `\nFan-out: ${o.clients} connections (${o.subscribers} on broadcast:0), ${o.rate} publication/connection/s + ${o.broadcastRate} broadcasts/s = ${offered.toLocaleString('en-US')} deliveries/s offered for ${o.seconds} s; saturation ${o.saturate} s (window ${o.window})`,
  );
  log(
    `machine: ${m.cpus} × ${m.cpuModel}, node ${m.node}, ws ${m.ws}, load average ${m.loadAverage.join(' ')}, CPU probe ${m.cpuProbeMs} ms\n`,
  );
  log(table(runs));
  log('\nFixed load, p99 latency per second (ms; [ping window]):');
  for (const r of runs) log(timelineLine(r));
  log('\nCPU (cores):');
  for (const line of cpuNotes(runs)) log(line);
  const noise = noiseWarnings(runs);
  if (noise.length > 0) {
    log(`\nWARNING: the machine was shared (${noise.join('; ')}): latency and throughput are disturbed.`);
  }
  log('');
  for (const x of Object.values(v)) log(`${verdictText(x).padEnd(4)}  ${x.target}: ${x.value ?? 'n/a'}`);
  writeJson(o.out, {
    benchmark: 'fanout',
    issue: 'Realtime gateway',
    machine: m,
    config: { ...o, out: undefined, offeredDeliveriesPerS: offered, rampMs: RAMP_MS, drainMs: DRAIN_MS },
    targets: TARGETS,
    verdicts: v,
    noise,
    ratios: {
      saturationThroughput: v.throughput.value,
      fixedLoadThroughput: ratio(g?.load.deliveriesPerS.total, b?.load.deliveriesPerS.total),
      saturationCpuPerDelivery: ratio(
        g?.saturation?.server.usPerDelivery,
        b?.saturation?.server.usPerDelivery,
      ),
      fixedLoadP99: ratio(g?.load.latencyMs.all.p99, b?.load.latencyMs.all.p99),
    },
    runs,
  });
  log(`\nwrote ${path.relative(process.cwd(), o.out)}`);
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(o: Options): Promise<void> {
  const limit = openFilesLimit();
  if (limit < o.clients + 200) {
    throw new Error(
      `open files limit ${limit} is below ${o.clients + 200}: raise it (ulimit -n) or use fewer --clients`,
    );
  }
  const m = machine();
  const kinds: ServerKind[] = o.only ? [o.only] : ['gateway', 'bare'];
  const runs: ServerRun[] = [];
  for (const kind of kinds) runs.push(await runServer(kind, o));
  report(o, m, runs);
}

const { values } = parseArgs({ options: OPTIONS });
if (values.serve === 'gateway' || values.serve === 'bare') {
  await serve({
    kind: values.serve,
    redisUrl: values['redis-url'] ?? null,
    pingIntervalSec: Number(values['ping-interval']),
    tickMs: values['tick-ms'] === undefined ? null : Number(values['tick-ms']),
  });
} else {
  process.on('exit', killServers);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killServers();
      process.exit(130);
    });
  }
  try {
    await main(parseOptions(values));
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  }
}
