/**
 * Benchmark of routing (issue "Routing"), on PostgreSQL:
 *
 *   100 operators, 10,000 sessions arriving at 500/s with random closes: print assignment latency
 *   (session opened → assigned) p50/p99 and the fairness spread. Target: p99 < 20 ms, spread ≤ 1.
 *
 * The platform runs in this process as the server builds it (`createPlatform` on a pool opened by
 * `openDatabase`, `platform.start()`), so the real event-driven router routes each session right
 * after the commit that opened it, and its 500 ms sweep catches up. The load goes through the
 * services, without HTTP:
 *
 *   world     100 operators (online) serve one line, queue {routingRule: toAvailable,
 *             maxSessionsPerOperator: 10} (1,000 slots), one telegram channel;
 *   arrivals  an open loop (timer-driven, never waiting for earlier calls) of 10,000
 *             `sessions.create(channel, account, admin)` at 500/s, Poisson by default, each with a
 *             new account (a client can hold only one open session);
 *   closes    each assigned session is closed `hold` after its assignment through
 *             `sessions.apply(id, close by system)`; hold is uniform on [mean/3, 5·mean/3].
 *             Mean 1.5 s keeps ~750 of the 1,000 slots busy (75%), but sessions arriving in the
 *             middle fifth of the schedule (8–12 s) hold 2.5 s (125% offered): the slots fill, a
 *             queue forms, and it drains when the surge is over. With a steady load the queue would
 *             almost never fill: 1,000 pooled slots at 75% are ~9 standard deviations from full.
 *
 * What is measured (performance.now() in this process, from the domain events on the bus; our
 * listeners are registered before the router's, so they run first):
 *
 *   opened    `session.created` published: the commit of the opening transaction (the moment the
 *             router hears of the session);
 *   assigned  `session.transitioned` to AssignedToOperator published: the commit of the assignment;
 *   routing latency = assigned − opened. A session is "routable" when, at its opening, the open
 *             sessions plus the sessions already queued for lack of a slot (the router reported
 *             `session.operatorNotFound` for them) left a free slot; otherwise it is "queued" and its
 *             latency is time spent waiting for a close, reported apart. Sessions the router has not
 *             got to yet do not count against the slots: a router falling behind shows as latency.
 *   also      create() duration, scheduled arrival → assigned, timer lag, event-loop delay, CPU.
 *
 * Fairness: the spread (max − min of open sessions among online operators under capacity, 0
 * included) from the database every 250 ms, and from an in-memory mirror of the events right
 * after every assignment, both while sessions arrive (once they stop, closes alone widen the
 * spread: nothing arrives to fill the gaps); also the router's choice gap (the chosen operator's
 * load minus the least loaded one's, at the assignment), for every assignment. Closes land on
 * random operators whatever the router does, so the spread is also computed for a perfect router
 * (instant, always least-loaded) replaying the same sessions — their opening times and holds — as the
 * floor any router's spread is read against (perfectRouterSpread in lib/routing.ts). That router too
 * goes above 1 on this load (two closes on least-loaded operators between two arrivals are enough),
 * so the verdict that counts is "as fair as the perfect router" (spreadVsPerfect); "≤ 1" is printed
 * beside it.
 * At the end, session_history is checked: no session assigned twice, no operator above capacity at
 * any point of the replayed history; the database is also sampled for loads above capacity.
 *
 * A 300-session warm-up (not counted) runs first. If the platform cannot keep up, the arrivals
 * still fire on schedule and pile up; the run then waits at most 60 s after the last create()
 * returned for the queue to drain, and reports what did not finish.
 *
 * Results: bench/results/routing.json (figures, targets, verdicts, machine, a 250 ms timeline).
 * The summary also prints the CPU time per session (opening, routing, close) and the cores the
 * target rate takes at that cost, since on a small machine that, not routing, may be the limit.
 *
 * Everything happens in a scratch database `omniline_routing_<random>` on the server of DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), dropped at the end, also on failure.
 *
 *   npm run bench:routing        (npx tsx bench/routing.ts)
 *
 * Options: --operators 100 --capacity 10 --sessions 10000 --rate 500 --arrivals poisson|uniform
 * --hold 1.5 --surge-hold 2.5 (0: no surge) --surge 0.4-0.6 --warmup 300 --pool 10 --seed 7
 * --profile (time every repository call by operation; written to routing-profile.json) --out <file>.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { openDatabase } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { channelRepository } from '../src/domain/channel/channel.repository.ts';
import { clientRepository } from '../src/domain/client/client.repository.ts';
import type { EventBus } from '../src/domain/events/domain-events.ts';
import { lineRepository } from '../src/domain/line/line.repository.ts';
import { sessionRepository } from '../src/domain/session/session.repository.ts';
import type { Caller } from '../src/domain/user/user.ts';
import { SecretBox } from '../src/lib/secret-box.ts';
import { createPlatform, type Platform } from '../src/platform.ts';
import { routingRepository } from '../src/routing/routing.repository.ts';
import { stubProviders } from '../test/fakes/stub-providers.ts';
import { type CpuUse, cpuMeter, RssSampler } from './lib/cpu.ts';
import { createScratchDatabase, Rng, type Sql } from './lib/db.ts';
import { schedule } from './lib/load.ts';
import { cpuProbeMs, type LatencyStats, machineInfo, summarize, writeJson } from './lib/report.ts';
import {
  type ArrivalKind,
  arrivalOffsets,
  CallProfiler,
  checkHistory,
  type DbSample,
  eventLoopMeter,
  type HoldProfile,
  holdMs,
  OperatorLoads,
  perfectRouterSpread,
  type SafetyCheck,
  sampleDatabase,
  spreadUnderCapacity,
  Tally,
} from './lib/routing.ts';

const TARGETS = { p99Ms: 20, spread: 1 } as const;
const SAMPLE_MS = 250;
/**
 * How much more often than the perfect router the spread may be above the target (`above`), and
 * above it by more than one (`aboveNext`): see spreadVsPerfect.
 */
const PERFECT_SLACK = { above: 0.05, aboveNext: 0.01 } as const;
/** CPU used by other processes above which the summary warns (cores). */
const NOISE_CORES = 0.2;
const SYSTEM = { type: 'system', id: null } as const;
const log = (...args: unknown[]) => console.log(...args);

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

interface Config {
  operators: number;
  capacity: number;
  sessions: number;
  rate: number;
  arrivals: ArrivalKind;
  hold: HoldProfile;
  warmup: number;
  pool: number;
  tickMs: number;
  seed: number;
  profile: boolean;
  out: string;
}

function parseConfig(argv: string[]): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      operators: { type: 'string', default: '100' },
      capacity: { type: 'string', default: '10' },
      sessions: { type: 'string', default: '10000' },
      rate: { type: 'string', default: '500' },
      arrivals: { type: 'string', default: 'poisson' },
      hold: { type: 'string', default: '1.5' },
      'surge-hold': { type: 'string', default: '2.5' },
      surge: { type: 'string', default: '0.4-0.6' },
      warmup: { type: 'string', default: '300' },
      pool: { type: 'string', default: '10' },
      seed: { type: 'string', default: '7' },
      profile: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const [from, to] = values.surge.split('-').map(Number);
  const surgeHold = Number(values['surge-hold']);
  if (values.arrivals !== 'poisson' && values.arrivals !== 'uniform')
    throw new Error('--arrivals is poisson or uniform');
  const results = (name: string) => fileURLToPath(new URL(`./results/${name}`, import.meta.url));
  return {
    operators: Number(values.operators),
    capacity: Number(values.capacity),
    sessions: Number(values.sessions),
    rate: Number(values.rate),
    arrivals: values.arrivals,
    hold: {
      meanS: Number(values.hold),
      surge: surgeHold > 0 ? { from: from ?? 0.4, to: to ?? 0.6, meanS: surgeHold } : null,
    },
    warmup: Number(values.warmup),
    pool: Number(values.pool),
    tickMs: 500,
    seed: Number(values.seed),
    profile: values.profile,
    out: values.out ?? results(values.profile ? 'routing-profile.json' : 'routing.json'),
  };
}

// ---------------------------------------------------------------------------------------------
// The world: operators, line, channel
// ---------------------------------------------------------------------------------------------

interface World {
  admin: Caller;
  operatorIds: string[];
  lineId: string;
  channelId: string;
}

async function setupWorld(platform: Platform, cfg: Config): Promise<World> {
  const { users, lines, channels } = platform.services;
  const password = 'routing-bench-password';
  const admin = await users.create({ login: 'bench-admin', name: 'Bench admin', role: 'admin', password });
  const operators = await Promise.all(
    Array.from({ length: cfg.operators }, (_, i) =>
      users.create({ login: `operator-${i}`, name: `Operator ${i}`, role: 'operator', password }),
    ),
  );
  const operatorIds = operators.map((o) => o.id);
  for (const id of operatorIds) await platform.workspace.setStatus(id, 'online');
  const line = await lines.create({
    name: 'Bench line',
    operatorIds,
    queue: { routingRule: 'toAvailable', maxSessionsPerOperator: cfg.capacity },
  });
  const channel = await channels.create({ lineId: line.id, name: 'Bench telegram', type: 'telegram' });
  return {
    admin: { id: admin.id, login: admin.login, name: admin.name, role: 'admin', tokenId: 'x' },
    operatorIds,
    lineId: line.id,
    channelId: channel.id,
  };
}

// ---------------------------------------------------------------------------------------------
// Tracking sessions from the domain events
// ---------------------------------------------------------------------------------------------

type Phase = 'warmup' | 'run';

interface SessionRecord {
  phase: Phase;
  /** `session.created` published (the opening transaction committed). */
  openedAt: number;
  /** A slot was free for it at opening: open sessions + sessions queued for lack of one < slots. */
  routable: boolean;
  /** The router reported nobody available for it (`session.operatorNotFound`). */
  notFound: boolean;
  scheduledAt: number | null;
  createMs: number | null;
  holdMs: number | null;
  assignedAt: number | null;
  closedAt: number | null;
}

/** Follows every session through the bus: opened, not found, assigned, closed; mirrors the loads. */
class SessionTracker {
  readonly sessions = new Map<string, SessionRecord>();
  readonly loads: OperatorLoads;
  readonly choiceGap = new Tally();
  readonly spreadAfterAssign = new Tally();
  phase: Phase = 'warmup';
  /** Fairness is tallied while sessions arrive (after the last one, closes alone move the loads). */
  arriving = false;
  opened = 0;
  assigned = 0;
  closed = 0;
  /** Opened, not yet assigned (being routed or queued); and its peak during the run. */
  unassigned = 0;
  maxUnassigned = 0;
  /** Of those, the ones the router found nobody for; and its peak during the run. */
  queued = 0;
  maxQueued = 0;
  onAssigned: (sessionId: string, record: SessionRecord) => void = () => {};

  constructor(operatorIds: string[], capacity: number) {
    this.loads = new OperatorLoads(operatorIds, capacity);
  }

  listen(bus: EventBus): () => void {
    const offs = [
      bus.on('session.created', (e) => {
        if (e.payload.state === 'Waiting') this.#opened(e.payload.sessionId);
      }),
      bus.on('session.operatorNotFound', (e) => this.#notFound(e.payload.sessionId)),
      bus.on('session.transitioned', (e) => {
        const p = e.payload;
        if (p.to === 'AssignedToOperator' && p.from !== 'AssignedToOperator' && p.operatorId) {
          this.#assigned(p.sessionId, p.operatorId);
        } else if (p.from === 'AssignedToOperator' && p.to !== 'AssignedToOperator' && p.previousOperatorId) {
          this.#closed(p.sessionId, p.previousOperatorId);
        }
      }),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  #record(sessionId: string): SessionRecord {
    let r = this.sessions.get(sessionId);
    if (!r) {
      r = {
        phase: this.phase,
        openedAt: performance.now(),
        routable: this.loads.total + this.queued < this.loads.slots,
        notFound: false,
        scheduledAt: null,
        createMs: null,
        holdMs: null,
        assignedAt: null,
        closedAt: null,
      };
      this.sessions.set(sessionId, r);
    }
    return r;
  }

  #opened(sessionId: string): void {
    this.#record(sessionId);
    this.opened++;
    this.unassigned++;
    if (this.phase === 'run') this.maxUnassigned = Math.max(this.maxUnassigned, this.unassigned);
  }

  #notFound(sessionId: string): void {
    const r = this.#record(sessionId);
    if (r.notFound || r.assignedAt !== null) return;
    r.notFound = true;
    this.queued++;
    if (this.phase === 'run') this.maxQueued = Math.max(this.maxQueued, this.queued);
  }

  #assigned(sessionId: string, operatorId: string): void {
    const r = this.#record(sessionId);
    r.assignedAt = performance.now();
    this.assigned++;
    this.unassigned--;
    if (r.notFound) this.queued--;
    const gap = this.loads.assign(operatorId);
    if (r.phase === 'run') this.choiceGap.add(gap);
    if (this.arriving) {
      const spread = this.loads.spread();
      if (spread !== null) this.spreadAfterAssign.add(spread);
    }
    this.onAssigned(sessionId, r);
  }

  #closed(sessionId: string, operatorId: string): void {
    this.#record(sessionId).closedAt = performance.now();
    this.closed++;
    this.loads.release(operatorId);
  }

  ofPhase(phase: Phase): SessionRecord[] {
    return [...this.sessions.values()].filter((r) => r.phase === phase);
  }
}

// ---------------------------------------------------------------------------------------------
// Load: arrivals and closes
// ---------------------------------------------------------------------------------------------

/** Closes each assigned session after its hold; counts failures. */
class CloseProcess {
  readonly #timers = new Set<NodeJS.Timeout>();
  errors = 0;
  firstError: string | null = null;

  constructor(
    private readonly platform: Platform,
    private readonly defaultHoldMs: number,
  ) {}

  schedule(sessionId: string, record: SessionRecord): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#close(sessionId);
    }, record.holdMs ?? this.defaultHoldMs);
    this.#timers.add(timer);
  }

  async #close(sessionId: string): Promise<void> {
    try {
      await this.platform.services.sessions.apply(sessionId, { type: 'close', by: SYSTEM }, null, 'close');
    } catch (err) {
      this.errors++;
      this.firstError ??= String(err);
    }
  }

  cancel(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

interface ArrivalsResult {
  scheduled: number;
  created: number;
  errors: number;
  firstError: string | null;
  /** Created sessions per second, from the first scheduled arrival to the last create() returning. */
  achievedRate: number;
  durationS: number;
  timerLag: LatencyStats;
}

/** Opens `n` sessions from an open-loop schedule; resolves when every create() has returned. */
async function arrive(
  ctx: { platform: Platform; world: World; tracker: SessionTracker; cfg: Config },
  opts: { n: number; prefix: string; hold: HoldProfile; rng: Rng },
): Promise<ArrivalsResult> {
  const { platform, world, tracker, cfg } = ctx;
  const creates: Promise<void>[] = [];
  let created = 0;
  let errors = 0;
  let firstError: string | null = null;
  let lastReturn = 0;
  const openOne = async (i: number, scheduledAt: number) => {
    const start = performance.now();
    try {
      const { session } = await platform.services.sessions.create(
        world.channelId,
        `${opts.prefix}_${i}`,
        world.admin,
      );
      const r = tracker.sessions.get(session.id);
      if (r) {
        r.scheduledAt = scheduledAt;
        r.createMs = performance.now() - start;
        r.holdMs = holds[i] ?? null;
      }
      created++;
    } catch (err) {
      errors++;
      firstError ??= String(err);
    }
    lastReturn = performance.now();
  };
  const offsets = arrivalOffsets(opts.n, cfg.rate, opts.rng, cfg.arrivals);
  const holds = offsets.map((_, i) => holdMs(opts.hold, i / opts.n, opts.rng));
  const loop = await schedule(offsets, (i, at) => creates.push(openOne(i, at)));
  await Promise.all(creates);
  const durationS = (lastReturn - loop.startedAt) / 1000;
  return {
    scheduled: opts.n,
    created,
    errors,
    firstError,
    achievedRate: Math.round((created / durationS) * 10) / 10,
    durationS: Math.round(durationS * 100) / 100,
    timerLag: loop.lag,
  };
}

/** Resolves true when `done()` holds, false after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Sampling the database
// ---------------------------------------------------------------------------------------------

interface TimelinePoint {
  t: number;
  waiting: number;
  open: number;
  spread: number | null;
  rssMb: number;
  arriving: boolean;
}

/** Samples operator loads and the queue from the database every 250 ms (skipping if one is running). */
class DbSampler {
  readonly spread = new Tally();
  readonly timeline: TimelinePoint[] = [];
  readonly rss = new RssSampler();
  maxOpen = 0;
  maxWaiting = 0;
  /** Samples in which fewer than two operators were under capacity (no spread to speak of). */
  saturated = 0;
  /** Spreads are tallied while sessions arrive; the drain after the last one is only in the timeline. */
  arriving = false;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #start = 0;

  constructor(
    private readonly raw: Sql,
    private readonly capacity: number,
  ) {}

  start(): void {
    this.#start = performance.now();
    this.#timer = setInterval(() => {
      this.rss.sample();
      this.#running ??= this.#sample().finally(() => {
        this.#running = null;
      });
    }, SAMPLE_MS);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
    this.rss.sample();
  }

  async #sample(): Promise<void> {
    const s: DbSample = await sampleDatabase(this.raw, performance.now() - this.#start);
    const values = [...s.loads.values()];
    const open = values.reduce((a, b) => a + b, 0);
    const spread = spreadUnderCapacity(values, this.capacity);
    const arriving = this.arriving;
    if (arriving && spread === null) this.saturated++;
    else if (arriving && spread !== null) this.spread.add(spread);
    this.maxOpen = Math.max(this.maxOpen, ...values);
    this.maxWaiting = Math.max(this.maxWaiting, s.waiting);
    this.timeline.push({
      t: Math.round(s.atMs),
      waiting: s.waiting,
      open,
      spread,
      rssMb: this.rss.last,
      arriving,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Profiling (--profile)
// ---------------------------------------------------------------------------------------------

function instrument(platform: Platform): CallProfiler {
  const profiler = new CallProfiler();
  const repositories = {
    routing: routingRepository,
    session: sessionRepository,
    line: lineRepository,
    channel: channelRepository,
    client: clientRepository,
  };
  for (const [name, repo] of Object.entries(repositories)) profiler.wrapAll(name, repo);
  profiler.wrapScope(platform.router, 'route', 'route');
  profiler.wrapScope(platform.services.sessions, 'create', 'create');
  profiler.wrapScope(platform.services.sessions, 'apply', 'close');
  return profiler;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

interface RunResult {
  arrivals: ArrivalsResult;
  completed: boolean;
  closeErrors: number;
  firstCloseError: string | null;
  cpu: CpuUse;
  eventLoopDelayMs: ReturnType<ReturnType<typeof eventLoopMeter>>;
  sampler: DbSampler;
  routingErrors: number;
}

async function runLoad(
  ctx: { platform: Platform; world: World; tracker: SessionTracker; cfg: Config; raw: Sql; database: string },
  closes: CloseProcess,
  errors: ErrorLog,
): Promise<RunResult> {
  const { tracker, cfg, raw } = ctx;
  const rng = new Rng(cfg.seed);
  if (cfg.warmup > 0) {
    log(`warm-up: ${cfg.warmup} sessions at ${cfg.rate}/s (not counted)…`);
    const hold: HoldProfile = { meanS: cfg.hold.meanS, surge: null };
    await arrive(ctx, { n: cfg.warmup, prefix: 'warmup', hold, rng });
    // Statistics, as autovacuum keeps them on a live system — taken while the warm-up's sessions
    // are open, as a live system's are. Without them every table looks empty, and the generic plans
    // that prepared statements settle on after five runs pick indexes at random (a client by id
    // through the (channel, external id) index; operators' loads through the open-sessions index,
    // reading every open session per operator).
    await raw`ANALYZE`;
    await until(() => tracker.closed === tracker.opened, 30_000);
  }
  const routingErrorsBefore = errors.count;
  tracker.phase = 'run';
  const sampler = new DbSampler(raw, cfg.capacity);
  // The sampling connection's backend is the bench's own work, not the product's.
  const [own] = await raw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  const cpu = cpuMeter({ server: 'self', database: ctx.database, loadgen: [own!.pid] });
  const loop = eventLoopMeter();
  sampler.start();
  log(`run: ${cfg.sessions} sessions at ${cfg.rate}/s (${cfg.arrivals})…`);
  tracker.arriving = sampler.arriving = true;
  const arrivals = await arrive(ctx, { n: cfg.sessions, prefix: 'client', hold: cfg.hold, rng });
  tracker.arriving = sampler.arriving = false;
  log(`  all created in ${arrivals.durationS} s; waiting for the queue to drain and the sessions to close…`);
  const completed = await until(() => tracker.closed === tracker.opened, 60_000);
  await sampler.stop();
  return {
    arrivals,
    completed,
    closeErrors: closes.errors,
    firstCloseError: closes.firstError,
    cpu: cpu(),
    eventLoopDelayMs: loop(),
    sampler,
    routingErrors: errors.count - routingErrorsBefore,
  };
}

/** The platform's logger: counts routing failures and keeps the first few. */
class ErrorLog {
  count = 0;
  readonly first: string[] = [];

  info(): void {}
  warn(): void {}
  error(obj: object, msg: string): void {
    this.count++;
    if (this.first.length < 5) this.first.push(`${msg}: ${String((obj as { err?: unknown }).err ?? '')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Figures and verdicts
// ---------------------------------------------------------------------------------------------

function latencies(records: SessionRecord[]) {
  const assigned = records.filter((r) => r.assignedAt !== null);
  const routable = assigned.filter((r) => r.routable);
  const queued = assigned.filter((r) => !r.routable);
  const wait = (r: SessionRecord) => r.assignedAt! - r.openedAt;
  return {
    routable: summarize(routable.map(wait)),
    queued: summarize(queued.map(wait)),
    routableFromSchedule: summarize(
      routable.filter((r) => r.scheduledAt !== null).map((r) => r.assignedAt! - r.scheduledAt!),
    ),
    create: summarize(records.filter((r) => r.createMs !== null).map((r) => r.createMs!)),
    /** Routable, yet the router found nobody at first (a race), so they waited for the next pass. */
    routableMissedFirstTry: routable.filter((r) => r.notFound).length,
    routableOverTarget: routable.filter((r) => wait(r) >= TARGETS.p99Ms).length,
    /**
     * The same, by second of the run (of opening): misses bunched in a second or two are a stall
     * (a lock, a pause), misses spread over the run a router or a machine short of capacity.
     */
    routableOverTargetBySecond: bySecond(
      routable.filter((r) => wait(r) >= TARGETS.p99Ms).map((r) => r.openedAt),
      Math.min(...records.map((r) => r.openedAt)),
      Math.max(...records.map((r) => r.openedAt)),
    ),
  };
}

/** How many of `times` fall in each second from `from` to `to`. */
function bySecond(times: number[], from: number, to: number): number[] {
  const counts = new Array<number>(Math.max(1, Math.ceil((to - from) / 1000))).fill(0);
  for (const t of times) counts[Math.min(counts.length - 1, Math.floor((t - from) / 1000))]!++;
  return counts;
}

function figures(tracker: SessionTracker, run: RunResult, safety: SafetyCheck, finalMismatch: number) {
  const records = tracker.ofPhase('run');
  const lat = latencies(records);
  const spreadDb = run.sampler.spread.summary(TARGETS.spread);
  const spreadEvents = tracker.spreadAfterAssign.summary(TARGETS.spread);
  const sampledOverCapacity = run.sampler.maxOpen > tracker.loads.capacity;
  const perfect = perfectSpread(tracker, records);
  const perfectEvents = perfect.afterEachAssignment.summary(TARGETS.spread);
  const verdicts = {
    latency: lat.routable.p99 < TARGETS.p99Ms,
    /** As the issue writes it: no router reaches it when closes are random (see spreadVsPerfect). */
    spread: spreadDb.max <= TARGETS.spread,
    /**
     * As fair as a perfect router on the same sessions, judged after each assignment (thousands of
     * samples, where the ~60 database samples are too few): the spread is above 1, and above 2, no
     * more often than the perfect router's, give or take PERFECT_SLACK (run to run, its own shares
     * move by a couple of points). Shares, not maxima: one wider spread in thousands of assignments
     * says little of a router that reacts in milliseconds rather than at once.
     */
    spreadVsPerfect:
      spreadEvents.aboveLimitShare <= perfectEvents.aboveLimitShare + PERFECT_SLACK.above &&
      spreadEvents.aboveNextShare <= perfectEvents.aboveNextShare + PERFECT_SLACK.aboveNext,
    safety: safety.pass && !sampledOverCapacity,
    complete: run.completed && run.arrivals.errors === 0 && run.closeErrors === 0 && run.routingErrors === 0,
  };
  return {
    sessions: {
      scheduled: run.arrivals.scheduled,
      created: run.arrivals.created,
      assigned: records.filter((r) => r.assignedAt !== null).length,
      closed: records.filter((r) => r.closedAt !== null).length,
      routableAtOpening: records.filter((r) => r.routable).length,
      queuedAtOpening: records.filter((r) => !r.routable).length,
      routerFoundNobody: records.filter((r) => r.notFound).length,
    },
    arrivals: run.arrivals,
    queue: {
      maxWaitingSampled: run.sampler.maxWaiting,
      maxUnassigned: tracker.maxUnassigned,
      maxQueued: tracker.maxQueued,
    },
    latencyMs: lat,
    fairness: {
      spreadDbSamples: { ...spreadDb, saturatedSamples: run.sampler.saturated },
      spreadAfterEachAssignment: spreadEvents,
      choiceGap: tracker.choiceGap.summary(0),
      perfectRouter: {
        spreadSamples: perfect.samples.summary(TARGETS.spread),
        spreadAfterEachAssignment: perfectEvents,
      },
    },
    safety: {
      ...safety,
      maxOpenSampled: run.sampler.maxOpen,
      maxOpenMirror: Math.max(0, ...[...tracker.loads.snapshot().values()]),
      finalMirrorMismatches: finalMismatch,
    },
    errors: { create: run.arrivals.errors, close: run.closeErrors, routing: run.routingErrors },
    process: {
      rssMb: { start: run.sampler.rss.first, peak: run.sampler.rss.peak, end: run.sampler.rss.last },
      eventLoopDelayMs: run.eventLoopDelayMs,
      cpuCores: run.cpu,
      cpuMsPerSession: cpuPerSession(run.cpu, records.length),
    },
    verdicts,
    // The spread as written is reported, not required: the perfect router shows it out of reach.
    pass: verdicts.latency && verdicts.spreadVsPerfect && verdicts.safety && verdicts.complete,
  };
}

/** A perfect router's spread on this run's sessions: as they opened, each held as long as it was. */
function perfectSpread(tracker: SessionTracker, run: SessionRecord[]) {
  const sessions = [...tracker.sessions.values()]
    .filter((r) => r.holdMs !== null)
    .map((r) => ({ openedAt: r.openedAt, holdMs: r.holdMs! }));
  const opened = run.map((r) => r.openedAt);
  const window = { from: Math.min(...opened), to: Math.max(...opened) };
  return perfectRouterSpread(sessions, tracker.loads.operators, tracker.loads.capacity, window, SAMPLE_MS);
}

/**
 * CPU time per session (its opening, routing and close, with the sweeps) and the cores the target
 * rate would take at that cost: whether the machine can carry the load at all.
 */
function cpuPerSession(cpu: CpuUse, sessions: number) {
  const ms = (cores: number) =>
    Math.round(((cores * cpu.seconds * 1000) / Math.max(1, sessions)) * 100) / 100;
  return { node: ms(cpu.server), postgresBackends: ms(cpu.postgresBackends) };
}

type Figures = ReturnType<typeof figures>;

const fmt = (s: LatencyStats) =>
  s.iterations === 0
    ? 'n=0'
    : `n=${s.iterations}  p50 ${s.p50.toFixed(2)}  p90 ${s.p90.toFixed(2)}  p99 ${s.p99.toFixed(2)}  max ${s.max.toFixed(2)} ms`;
const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

function printSummary(cfg: Config, f: Figures): void {
  const h = cfg.hold;
  const slots = cfg.operators * cfg.capacity;
  const surge = h.surge
    ? `; arrivals ${h.surge.from * 100}–${h.surge.to * 100}% of the schedule hold ${h.surge.meanS} s (${Math.round((cfg.rate * h.surge.meanS * 100) / slots)}% offered)`
    : '';
  const a = f.arrivals;
  const l = f.latencyMs;
  const fa = f.fairness;
  const s = f.safety;
  const p = f.process;
  log(`
=== routing: ${cfg.operators} operators × capacity ${cfg.capacity} (${slots} slots), ${cfg.sessions} sessions at ${cfg.rate}/s (${cfg.arrivals})
    holds uniform [${(h.meanS / 3).toFixed(2)}, ${((5 * h.meanS) / 3).toFixed(2)}] s, mean ${h.meanS} s (${Math.round((cfg.rate * h.meanS * 100) / slots)}% of the slots)${surge}

arrivals     scheduled ${cfg.rate}/s, achieved ${a.achievedRate}/s (${a.created}/${a.scheduled} in ${a.durationS} s); timer lag p99 ${a.timerLag.p99.toFixed(2)} ms
sessions     assigned ${f.sessions.assigned}, closed ${f.sessions.closed}; routable at opening ${f.sessions.routableAtOpening}, queued (no free slot) ${f.sessions.queuedAtOpening}
queue        max Waiting (DB, every ${SAMPLE_MS} ms) ${f.queue.maxWaitingSampled}; max unassigned (events) ${f.queue.maxUnassigned}; max queued after "nobody" ${f.queue.maxQueued}

latency, opened → assigned${f.sessions.created > f.sessions.assigned ? ` (assigned sessions only: ${f.sessions.created - f.sessions.assigned} were never assigned)` : ''}
  routable                ${fmt(l.routable)}
  queued (queue wait)     ${fmt(l.queued)}
  routable, from schedule ${fmt(l.routableFromSchedule)}   (includes create())
  create()                ${fmt(l.create)}
  routable sessions at or over ${TARGETS.p99Ms} ms: ${l.routableOverTarget}; routable but "nobody" on the first try: ${l.routableMissedFirstTry}
  … by second of the run: ${l.routableOverTargetBySecond.join(' ')}

fairness (spread = max − min open sessions among online operators under capacity)
  DB samples              max ${fa.spreadDbSamples.max}, > ${TARGETS.spread} in ${pct(fa.spreadDbSamples.aboveLimitShare)} of ${fa.spreadDbSamples.samples} samples ${JSON.stringify(fa.spreadDbSamples.histogram)} (+${fa.spreadDbSamples.saturatedSamples} with < 2 under capacity)
  after each assignment   max ${fa.spreadAfterEachAssignment.max}, > ${TARGETS.spread} in ${pct(fa.spreadAfterEachAssignment.aboveLimitShare)} of ${fa.spreadAfterEachAssignment.samples} ${JSON.stringify(fa.spreadAfterEachAssignment.histogram)}
  router choice gap       0 in ${pct(1 - fa.choiceGap.aboveLimitShare)} of ${fa.choiceGap.samples} assignments ${JSON.stringify(fa.choiceGap.histogram)}
  a perfect router on the same sessions (instant, always least-loaded; closes are random):
    every ${SAMPLE_MS} ms            max ${fa.perfectRouter.spreadSamples.max}, > ${TARGETS.spread} in ${pct(fa.perfectRouter.spreadSamples.aboveLimitShare)} of ${fa.perfectRouter.spreadSamples.samples} samples ${JSON.stringify(fa.perfectRouter.spreadSamples.histogram)}
    after each assignment max ${fa.perfectRouter.spreadAfterEachAssignment.max}, > ${TARGETS.spread} in ${pct(fa.perfectRouter.spreadAfterEachAssignment.aboveLimitShare)} of ${fa.perfectRouter.spreadAfterEachAssignment.samples} ${JSON.stringify(fa.perfectRouter.spreadAfterEachAssignment.histogram)}

safety       history: ${s.doubleAssigned} sessions assigned twice, ${s.operatorMismatch} operator mismatches, max replayed load ${s.maxReplayedLoad} (capacity ${cfg.capacity})${s.overCapacity.length ? `, ${s.overCapacity.length} operators above capacity` : ''}; max sampled load ${s.maxOpenSampled}; final mirror mismatches ${s.finalMirrorMismatches}
errors       create ${f.errors.create}, close ${f.errors.close}, routing ${f.errors.routing}
node         RSS ${p.rssMb.start} → peak ${p.rssMb.peak} → ${p.rssMb.end} MB; event-loop delay p50 ${p.eventLoopDelayMs.p50} p99 ${p.eventLoopDelayMs.p99} max ${p.eventLoopDelayMs.max} ms
cpu (cores)  node ${p.cpuCores.server}, postgres backends ${p.cpuCores.postgresBackends}, other processes ${p.cpuCores.otherProcesses}, machine ${p.cpuCores.machine} of ${os.cpus().length}${p.cpuCores.otherProcesses > NOISE_CORES ? '  (other work on the machine: figures are pessimistic)' : ''}
cpu/session  node ${p.cpuMsPerSession.node} ms + postgres ${p.cpuMsPerSession.postgresBackends} ms: ${cfg.rate}/s takes ${((cfg.rate * (p.cpuMsPerSession.node + p.cpuMsPerSession.postgresBackends)) / 1000).toFixed(2)} cores

${verdict(f.verdicts.latency)}  routable p99 ${l.routable.p99.toFixed(2)} ms < ${TARGETS.p99Ms} ms
${verdict(f.verdicts.spreadVsPerfect)}  spread as a perfect router's on the same sessions, after each assignment: > ${TARGETS.spread} in ${pct(fa.spreadAfterEachAssignment.aboveLimitShare)} (perfect ${pct(fa.perfectRouter.spreadAfterEachAssignment.aboveLimitShare)}, slack ${PERFECT_SLACK.above * 100} points), > ${TARGETS.spread + 1} in ${pct(fa.spreadAfterEachAssignment.aboveNextShare)} (perfect ${pct(fa.perfectRouter.spreadAfterEachAssignment.aboveNextShare)}, slack ${PERFECT_SLACK.aboveNext * 100})
${verdict(f.verdicts.spread)}  spread ${fa.spreadDbSamples.max} ≤ ${TARGETS.spread} as the issue writes it (DB samples)${f.verdicts.spread || fa.perfectRouter.spreadSamples.max <= TARGETS.spread ? '' : ` — beyond any router here: the perfect one reaches ${fa.perfectRouter.spreadSamples.max}`}
${verdict(f.verdicts.safety)}  no operator above capacity, no session with two operators
${verdict(f.verdicts.complete)}  every session created, assigned and closed without errors`);
}

function printProfile(profiler: CallProfiler): ReturnType<CallProfiler['report']> {
  const rows = profiler.report();
  log('\nprofile (ms per call; includes waiting for a pooled connection and for the event loop):');
  for (const r of rows) {
    log(
      `  ${r.key.padEnd(44)} calls ${String(r.calls).padStart(6)}  mean ${r.stats.mean.toFixed(2).padStart(7)}  p50 ${r.stats.p50.toFixed(2).padStart(7)}  p99 ${r.stats.p99.toFixed(2).padStart(7)}`,
    );
  }
  return rows;
}

/** Compares the event mirror with the database once everything has settled. */
async function finalMismatches(raw: Sql, tracker: SessionTracker): Promise<number> {
  const sample = await sampleDatabase(raw, 0);
  let n = 0;
  for (const [id, open] of tracker.loads.snapshot()) if ((sample.loads.get(id) ?? 0) !== open) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const cfg = parseConfig(argv);
  const started = Date.now();
  const scratch = await createScratchDatabase('omniline_routing');
  log(`scratch database ${scratch.name}`);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const database = await openDatabase({ url: scratch.url, dataDir: null, maxConnections: cfg.pool });
    closers.push(() => database.close());
    await migrate(database.db);
    const raw = postgres(scratch.url, { max: 1, onnotice: () => {} });
    closers.push(() => raw.end({ timeout: 5 }));
    const machine = await machineInfo(raw);
    log(
      `load average before the run: ${machine.loadAverage.join(' ')} on ${machine.cpus} CPUs; CPU probe ${machine.cpuProbeMs} ms`,
    );
    const filesDir = mkdtempSync(path.join(os.tmpdir(), 'omniline-routing-'));
    closers.push(async () => rmSync(filesDir, { recursive: true, force: true }));

    const errors = new ErrorLog();
    const platform = createPlatform({
      db: database.db,
      secrets: new SecretBox('omniline-routing-bench-secret-0123456789'),
      filesDir,
      router: { tickMs: cfg.tickMs },
      // Telegram user-account channels have no provider yet: a stand-in keeps the bench's username accounts.
      plugins: [stubProviders(['telegram'])],
      log: errors,
    });
    const world = await setupWorld(platform, cfg);
    log(`world: ${world.operatorIds.length} online operators, line ${world.lineId}, telegram channel`);
    const tracker = new SessionTracker(world.operatorIds, cfg.capacity);
    const closes = new CloseProcess(platform, cfg.hold.meanS * 1000);
    tracker.onAssigned = (id, record) => closes.schedule(id, record);
    // Registered before platform.start(): our listeners run before the router's.
    const unlisten = tracker.listen(platform.services.deps.bus);
    const profiler = cfg.profile ? instrument(platform) : null;
    platform.start();
    closers.push(async () => {
      closes.cancel();
      unlisten();
      await platform.stop();
    });

    const run = await runLoad({ platform, world, tracker, cfg, raw, database: scratch.name }, closes, errors);
    const safety = await checkHistory(raw, cfg.capacity);
    const f = figures(tracker, run, safety, await finalMismatches(raw, tracker));
    // The CPU's speed drifts on a shared host: probed again once the load is over.
    const cpuProbeAfterMs = cpuProbeMs();
    printSummary(cfg, f);
    log(`CPU probe ${machine.cpuProbeMs} ms before the run, ${cpuProbeAfterMs} ms after (lib.ts cpuProbeMs)`);
    if (errors.first.length) log(`routing errors: ${errors.first.join(' | ')}`);
    const profile = profiler ? printProfile(profiler) : null;
    writeJson(cfg.out, {
      benchmark: 'routing',
      issue: 'Routing',
      machine: { ...machine, cpuProbeAfterMs },
      config: { ...cfg, out: undefined, sampleMs: SAMPLE_MS },
      targets: { routableP99Ms: TARGETS.p99Ms, spread: TARGETS.spread },
      ...f,
      timeline: run.sampler.timeline,
      ...(profile && { profile }),
      durationS: Math.round((Date.now() - started) / 100) / 10,
    });
    log(`\nresults written to ${cfg.out}`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    await scratch.drop();
    log(`dropped ${scratch.name} (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
