/**
 * Helpers of the routing benchmark (bench/routing.ts): the open-loop arrival schedule, the hold-time
 * profile of the close process, an in-memory mirror of the operators' loads fed by domain events,
 * spread tallies, database samples, the end-of-run safety checks, an event-loop meter and an opt-in
 * per-statement profiler (CPU and RSS: bench/lib/cpu.ts; the arrival schedule: bench/lib/load.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Rng, Sql } from './db.ts';
import { type LatencyStats, summarize } from './report.ts';

// ---------------------------------------------------------------------------------------------
// Arrivals and holds
// ---------------------------------------------------------------------------------------------

export type ArrivalKind = 'poisson' | 'uniform';

/** Offsets (ms from the start) of `n` arrivals at `ratePerS`: exponential or equal gaps. */
export function arrivalOffsets(n: number, ratePerS: number, rng: Rng, kind: ArrivalKind): number[] {
  const meanGapMs = 1000 / ratePerS;
  const offsets: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    offsets.push(t);
    t += kind === 'uniform' ? meanGapMs : -Math.log(1 - rng.next()) * meanGapMs;
  }
  return offsets;
}

export interface HoldProfile {
  /** Mean hold (assignment → close) in seconds; each hold is uniform on [mean/3, 5·mean/3]. */
  meanS: number;
  /** Sessions arriving in this share of the schedule hold `meanS` longer: a surge that fills the slots. */
  surge: { from: number; to: number; meanS: number } | null;
}

/** The hold time of the arrival at `position` (0..1 through the schedule), ms. */
export function holdMs(profile: HoldProfile, position: number, rng: Rng): number {
  const s = profile.surge;
  const mean = s && position >= s.from && position < s.to ? s.meanS : profile.meanS;
  return (mean / 3 + rng.next() * ((4 * mean) / 3)) * 1000;
}

// ---------------------------------------------------------------------------------------------
// Operator loads
// ---------------------------------------------------------------------------------------------

/** Spread (max − min) of the loads of operators under capacity; null with fewer than two of them. */
export function spreadUnderCapacity(loads: Iterable<number>, capacity: number): number | null {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let n = 0;
  for (const v of loads) {
    if (v >= capacity) continue;
    n++;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return n < 2 ? null : max - min;
}

/**
 * Open sessions per operator as the domain events tell it (assigned +1, left AssignedToOperator −1).
 * Events are published after their commits, so this lags the database by microseconds and two
 * commits racing on different connections may be seen in either order.
 */
export class OperatorLoads {
  readonly #open: Map<string, number>;
  #total = 0;

  constructor(
    operatorIds: readonly string[],
    readonly capacity: number,
  ) {
    this.#open = new Map(operatorIds.map((id) => [id, 0]));
  }

  get total(): number {
    return this.#total;
  }

  get operators(): number {
    return this.#open.size;
  }

  get slots(): number {
    return this.#open.size * this.capacity;
  }

  /**
   * Counts an assignment and returns the choice gap: the chosen operator's load before it minus the
   * lowest load of any operator under capacity (0 = the router picked a least-loaded operator).
   */
  assign(operatorId: string): number {
    const before = this.#open.get(operatorId) ?? 0;
    let min = before;
    for (const v of this.#open.values()) if (v < this.capacity && v < min) min = v;
    this.#open.set(operatorId, before + 1);
    this.#total++;
    return before - min;
  }

  release(operatorId: string): void {
    this.#open.set(operatorId, (this.#open.get(operatorId) ?? 0) - 1);
    this.#total--;
  }

  spread(): number | null {
    return spreadUnderCapacity(this.#open.values(), this.capacity);
  }

  max(): number {
    return Math.max(...this.#open.values());
  }

  snapshot(): Map<string, number> {
    return new Map(this.#open);
  }
}

/**
 * The fairness a perfect router would reach on the same load: every session assigned the instant it
 * opens (or, with no free slot, the instant a close frees one, oldest first) to an operator with the
 * fewest open sessions, and closed its hold after that. Closes land on random operators, so even this
 * router sees the spread above 1 whenever two closes hit least-loaded operators between arrivals: the
 * floor the measured spread should be read against. Spreads are tallied after each assignment and
 * every `sampleMs`, both within `window` (ms, the arrivals of the measured run), as the bench does.
 */
export function perfectRouterSpread(
  sessions: readonly { openedAt: number; holdMs: number }[],
  operators: number,
  capacity: number,
  window: { from: number; to: number },
  sampleMs: number,
): { afterEachAssignment: Tally; samples: Tally } {
  const open = new Array<number>(operators).fill(0);
  const lastAssigned = new Array<number>(operators).fill(Number.NEGATIVE_INFINITY);
  const closes = new MinHeap<{ at: number; operator: number }>((a, b) => a.at - b.at);
  const queue: number[] = [];
  const afterEachAssignment = new Tally();
  const samples = new Tally();
  const assign = (holdMs: number, at: number): boolean => {
    let best = -1;
    for (let i = 0; i < operators; i++) {
      if (open[i]! >= capacity) continue;
      if (
        best < 0 ||
        open[i]! < open[best]! ||
        (open[i] === open[best] && lastAssigned[i]! < lastAssigned[best]!)
      )
        best = i;
    }
    if (best < 0) return false;
    open[best]!++;
    lastAssigned[best] = at;
    closes.push({ at: at + holdMs, operator: best });
    if (at >= window.from && at <= window.to) {
      const spread = spreadUnderCapacity(open, capacity);
      if (spread !== null) afterEachAssignment.add(spread);
    }
    return true;
  };
  let nextSample = window.from + sampleMs;
  const advance = (to: number) => {
    for (;;) {
      const close = closes.peek();
      const closeAt = close && close.at <= to ? close.at : Number.POSITIVE_INFINITY;
      if (nextSample <= Math.min(to, window.to) && nextSample < closeAt) {
        const spread = spreadUnderCapacity(open, capacity);
        if (spread !== null) samples.add(spread);
        nextSample += sampleMs;
        continue;
      }
      if (closeAt === Number.POSITIVE_INFINITY) return;
      closes.pop();
      open[close!.operator]!--;
      if (queue.length > 0) assign(queue.shift()!, closeAt);
    }
  };
  for (const s of [...sessions].sort((a, b) => a.openedAt - b.openedAt)) {
    advance(s.openedAt);
    if (queue.length > 0 || !assign(s.holdMs, s.openedAt)) queue.push(s.holdMs);
  }
  advance(window.to);
  return { afterEachAssignment, samples };
}

/** A binary min-heap. */
class MinHeap<T> {
  readonly #items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => number) {}

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const a = this.#items;
    a.push(item);
    for (let i = a.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (this.less(a[i]!, a[parent]!) >= 0) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l]!, a[m]!) < 0) m = l;
        if (r < a.length && this.less(a[r]!, a[m]!) < 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Counts of observed values (spreads, choice gaps) with the largest and the share above a limit. */
export class Tally {
  readonly counts: Record<string, number> = {};
  samples = 0;
  max = 0;

  add(value: number): void {
    this.samples++;
    this.counts[value] = (this.counts[value] ?? 0) + 1;
    if (value > this.max) this.max = value;
  }

  above(limit: number): number {
    return Object.entries(this.counts)
      .filter(([v]) => Number(v) > limit)
      .reduce((n, [, c]) => n + c, 0);
  }

  summary(limit: number) {
    const above = this.above(limit);
    return {
      samples: this.samples,
      max: this.max,
      aboveLimit: above,
      aboveLimitShare: this.samples ? Math.round((above / this.samples) * 10_000) / 10_000 : 0,
      /** The share above limit + 1. */
      aboveNextShare: this.samples ? Math.round((this.above(limit + 1) / this.samples) * 10_000) / 10_000 : 0,
      histogram: this.counts,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Database samples and checks
// ---------------------------------------------------------------------------------------------

export interface DbSample {
  /** ms since the run started. */
  atMs: number;
  loads: Map<string, number>;
  waiting: number;
}

/**
 * One consistent snapshot (a single statement): open sessions of every online operator (0
 * included) and the number of Waiting sessions.
 */
export async function sampleDatabase(raw: Sql, atMs: number): Promise<DbSample> {
  const rows = await raw<{ id: string; n: number }[]>`
    SELECT u.id::text AS id, count(s.id)::int AS n FROM users u
    LEFT JOIN sessions s ON s.operator_id = u.id AND s.state = 'AssignedToOperator'
    WHERE u.role = 'operator' AND u.status = 'online' GROUP BY u.id
    UNION ALL
    SELECT 'waiting', count(*)::int FROM sessions WHERE state = 'Waiting'`;
  const loads = new Map(rows.filter((r) => r.id !== 'waiting').map((r) => [r.id, r.n]));
  return { atMs, loads, waiting: rows.find((r) => r.id === 'waiting')?.n ?? 0 };
}

export interface SafetyCheck {
  /** Sessions with more than one assignOperator in session_history. */
  doubleAssigned: number;
  /** Sessions whose operator differs from the one their history assigned. */
  operatorMismatch: number;
  /** Highest open-session count of any operator replaying session_history in id order. */
  maxReplayedLoad: number;
  /** Operators whose replayed load went above capacity, with their peak. */
  overCapacity: { operatorId: string; peak: number }[];
  pass: boolean;
}

/**
 * The history checks: no session assigned twice, and no operator over capacity at any point of the
 * history replayed in id order (+1 on assignOperator, −1 when the session leaves
 * AssignedToOperator). Ids are taken at insert time, not commit time, but an assignment's history
 * row is inserted after the operator's row lock was taken, so assignments of one operator replay in
 * the order they happened.
 */
export async function checkHistory(raw: Sql, capacity: number): Promise<SafetyCheck> {
  const [doubles] = await raw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (
      SELECT session_id FROM session_history WHERE event = 'assignOperator'
      GROUP BY session_id HAVING count(*) > 1) d`;
  const [mismatch] = await raw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM sessions s JOIN session_history h
      ON h.session_id = s.id AND h.event = 'assignOperator'
    WHERE s.operator_id IS DISTINCT FROM (h.details->>'operatorId')::uuid`;
  const peaks = await raw<{ operator_id: string; peak: number }[]>`
    WITH ev AS (
      SELECT id, (details->>'operatorId')::uuid AS operator_id, 1 AS delta
      FROM session_history WHERE event = 'assignOperator' AND to_state = 'AssignedToOperator'
      UNION ALL
      SELECT c.id, a.operator_id, -1
      FROM session_history c
      CROSS JOIN LATERAL (
        SELECT (details->>'operatorId')::uuid AS operator_id FROM session_history a
        WHERE a.session_id = c.session_id AND a.event = 'assignOperator' AND a.id < c.id
        ORDER BY a.id DESC LIMIT 1) a
      WHERE c.from_state = 'AssignedToOperator' AND c.to_state <> 'AssignedToOperator')
    SELECT operator_id::text, max(running)::int AS peak FROM (
      SELECT operator_id, sum(delta) OVER (PARTITION BY operator_id ORDER BY id) AS running FROM ev) r
    GROUP BY operator_id ORDER BY peak DESC`;
  const overCapacity = peaks
    .filter((p) => p.peak > capacity)
    .map((p) => ({ operatorId: p.operator_id, peak: p.peak }));
  const doubleAssigned = doubles?.n ?? 0;
  const operatorMismatch = mismatch?.n ?? 0;
  return {
    doubleAssigned,
    operatorMismatch,
    maxReplayedLoad: peaks[0]?.peak ?? 0,
    overCapacity,
    pass: doubleAssigned === 0 && operatorMismatch === 0 && overCapacity.length === 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Machine meters
// ---------------------------------------------------------------------------------------------

/** Event-loop delay of this process while enabled, ms. */
export function eventLoopMeter() {
  const resolutionMs = 5;
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  return () => {
    h.disable();
    // The histogram records the timer's whole period; the delay is what exceeds the resolution.
    const ms = (ns: number) => Math.max(0, Math.round(ns / 1e4) / 100 - resolutionMs);
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean) };
  };
}

// ---------------------------------------------------------------------------------------------
// Profiling (opt-in): time every repository call, attributed to the operation that made it
// ---------------------------------------------------------------------------------------------

type AnyFn = (...args: any[]) => any;

/**
 * Wraps the methods of repository objects (module singletons) and of chosen instances to time each
 * call, keyed by the operation in progress (`scope`) and the method. Timings include waiting for a
 * pooled connection and for the event loop: they show where a session's latency goes, not pure
 * database time.
 */
export class CallProfiler {
  readonly #scope = new AsyncLocalStorage<string>();
  readonly #samples = new Map<string, number[]>();

  /** Runs `fn` with calls made inside it attributed to `scope`. */
  within<T>(scope: string, fn: () => T): T {
    return this.#scope.run(scope, fn);
  }

  /** Times every method of `target` under `label` (the original methods keep their `this`). */
  wrapAll(label: string, target: Record<string, unknown>): void {
    for (const [name, value] of Object.entries(target)) {
      if (typeof value === 'function') target[name] = this.#timed(`${label}.${name}`, value as AnyFn);
    }
  }

  /** Times one method of an instance and makes the calls inside it belong to `scope`. */
  wrapScope(target: object, method: string, scope: string): void {
    const obj = target as Record<string, AnyFn>;
    const original = obj[method]!.bind(target);
    const timed = this.#timed(`${scope} (whole)`, original);
    obj[method] = (...args: unknown[]) => this.within(scope, () => timed(...args));
  }

  #timed(key: string, fn: AnyFn): AnyFn {
    const profiler = this;
    return function (this: unknown, ...args: unknown[]) {
      const start = performance.now();
      const result = fn.apply(this, args);
      const scope = profiler.#scope.getStore() ?? 'other';
      const done = () => profiler.#record(`${scope} | ${key}`, performance.now() - start);
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        return (result as Promise<unknown>).finally(done);
      }
      done();
      return result;
    };
  }

  #record(key: string, ms: number): void {
    const list = this.#samples.get(key);
    if (list) list.push(ms);
    else this.#samples.set(key, [ms]);
  }

  report(): { key: string; calls: number; totalMs: number; stats: LatencyStats }[] {
    return [...this.#samples.entries()]
      .map(([key, samples]) => ({
        key,
        calls: samples.length,
        totalMs: Math.round(samples.reduce((s, v) => s + v, 0)),
        stats: summarize(samples),
      }))
      .sort((a, b) => a.key.localeCompare(b.key));
  }
}
