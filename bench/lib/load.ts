/**
 * The ONE load loop of the benchmarks, closed and open. Closed: `concurrency` workers, each starting
 * its next operation when the previous one is answered. Open: operations start on a schedule
 * whatever the answers, each latency counted from its scheduled start, so a slow system cannot hide
 * its queueing (no coordinated omission).
 */
import { type LatencyStats, summarize } from './report.ts';

/**
 * One unit of load, given its number: resolves to a status (2xx, or no number at all: acknowledged)
 * or throws.
 */
export type Send = (i: number) => Promise<number | unknown>;

export interface LoadResult {
  /** Acknowledged operations. */
  acked: number;
  /** Failures by status code or error message. */
  errors: Record<string, number>;
  /** Latency of every acknowledged operation, ms. */
  latenciesMs: number[];
  elapsedMs: number;
  /** Acknowledgements per second of the run, second by second. */
  perSecond: number[];
}

const now = () => performance.now();

/** Counts, times and buckets the operations of one run. */
class Recorder {
  readonly result: LoadResult = { acked: 0, errors: {}, latenciesMs: [], elapsedMs: 0, perSecond: [] };
  #finished = false;

  constructor(readonly startedAt: number) {}

  async record(send: Send, i: number, since: number): Promise<void> {
    let failure: string | null = null;
    try {
      const status = await send(i);
      if (typeof status === 'number' && (status < 200 || status >= 300)) failure = String(status);
    } catch (err) {
      failure = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    if (this.#finished) return; // answered after the run was closed (counted as unfinished)
    if (failure !== null) {
      this.result.errors[failure] = (this.result.errors[failure] ?? 0) + 1;
      return;
    }
    const at = now();
    this.result.acked++;
    this.result.latenciesMs.push(at - since);
    const second = Math.floor((at - this.startedAt) / 1000);
    this.result.perSecond[second] = (this.result.perSecond[second] ?? 0) + 1;
  }

  finish(): LoadResult {
    this.#finished = true;
    this.result.elapsedMs = now() - this.startedAt;
    this.result.perSecond = Array.from(this.result.perSecond, (n) => n ?? 0);
    return this.result;
  }
}

/**
 * Closed loop: `concurrency` workers, each sending as soon as its previous operation is answered,
 * for `durationMs` or until `count` operations were started (whichever comes first).
 */
export async function closedLoop(opts: {
  concurrency: number;
  durationMs?: number;
  count?: number;
  send: Send;
}): Promise<LoadResult> {
  const recorder = new Recorder(now());
  const end = recorder.startedAt + (opts.durationMs ?? Number.POSITIVE_INFINITY);
  const count = opts.count ?? Number.POSITIVE_INFINITY;
  let next = 0;
  const worker = async () => {
    while (next < count && now() < end) await recorder.record(opts.send, next++, now());
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return recorder.finish();
}

export interface ScheduleResult {
  /** performance.now() of the first scheduled start. */
  startedAt: number;
  /** performance.now() when the last operation was started. */
  firedAllAt: number;
  /** How late the timer started each operation, ms. */
  lag: LatencyStats;
}

/**
 * The open loop's schedule: calls `fire(i, scheduledAt)` at each offset (ms from the start, ascending)
 * from a timer, never waiting for earlier calls. Operations whose time has passed when the timer
 * runs are started together (and their lateness recorded).
 */
export function schedule(
  offsetsMs: readonly number[],
  fire: (i: number, scheduledAt: number) => void,
): Promise<ScheduleResult> {
  return new Promise((resolve) => {
    const startedAt = now();
    const lags: number[] = [];
    let next = 0;
    const pump = () => {
      const elapsed = now() - startedAt;
      while (next < offsetsMs.length && offsetsMs[next]! <= elapsed) {
        lags.push(elapsed - offsetsMs[next]!);
        fire(next, startedAt + offsetsMs[next]!);
        next++;
      }
      if (next < offsetsMs.length) setTimeout(pump, Math.max(0, offsetsMs[next]! - (now() - startedAt)));
      else resolve({ startedAt, firedAllAt: now(), lag: summarize(lags) });
    };
    pump();
  });
}

/**
 * Open loop: `send` started at `rate` per second for `durationMs` (or at the given `offsetsMs`),
 * whatever the answers. Operations still unanswered `drainMs` after the schedule ends are counted
 * as errors ("unfinished").
 */
export async function openLoop(
  opts: { drainMs: number; send: Send } & ({ rate: number; durationMs: number } | { offsetsMs: number[] }),
): Promise<LoadResult & { schedule: ScheduleResult }> {
  const offsets =
    'offsetsMs' in opts
      ? opts.offsetsMs
      : Array.from(
          { length: Math.floor((opts.rate * opts.durationMs) / 1000) },
          (_, i) => (i * 1000) / opts.rate,
        );
  const recorder = new Recorder(now());
  const pending = new Set<Promise<void>>();
  const fired = await schedule(offsets, (i, at) => {
    const op = recorder.record(opts.send, i, at);
    pending.add(op);
    void op.finally(() => pending.delete(op));
  });
  const drained = Promise.all(pending).then(() => true);
  const timedOut = new Promise<false>((resolve) => setTimeout(() => resolve(false), opts.drainMs).unref());
  if (!(await Promise.race([drained, timedOut]))) recorder.result.errors.unfinished = pending.size;
  return { ...recorder.finish(), schedule: fired };
}
