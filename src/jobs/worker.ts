/**
 * The job runner: each node claims due jobs from the `jobs` table (FOR UPDATE SKIP LOCKED), runs
 * them, and completes, reschedules (exponential backoff with jitter, a cap, Retry-After honoured) or
 * fails them. It polls, and is woken at once when this node enqueues work.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.ts';
import { type JobRow, jobRepository } from './job.repository.ts';

export interface JobOutcome {
  /** Retry later; `afterMs` overrides the backoff (e.g. Retry-After). */
  retry?: { error: string; afterMs?: number };
  /** Give up for good. */
  fail?: { error: string };
}

export type JobHandler = (job: JobRow) => Promise<JobOutcome | undefined>;

export interface WorkerOptions {
  pollIntervalMs?: number;
  leaseMs?: number;
  concurrency?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  log?: { error(obj: object, msg: string): void };
}

export function backoffMs(attempt: number, base: number, cap: number): number {
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

export class JobWorker {
  readonly holder = `node-${randomUUID()}`;
  readonly #handlers = new Map<string, JobHandler>();
  readonly #opts: Required<Omit<WorkerOptions, 'log'>> & Pick<WorkerOptions, 'log'>;
  #running = false;
  #timer: NodeJS.Timeout | null = null;
  #active = 0;
  #wakeRequested = false;
  #idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    opts: WorkerOptions = {},
  ) {
    this.#opts = {
      pollIntervalMs: opts.pollIntervalMs ?? 500,
      leaseMs: opts.leaseMs ?? 60_000,
      concurrency: opts.concurrency ?? 8,
      baseBackoffMs: opts.baseBackoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 5 * 60_000,
      log: opts.log,
    };
  }

  handle(kind: string, handler: JobHandler): void {
    this.#handlers.set(kind, handler);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#idle;
  }

  /** Runs a claim round soon (called after this node commits new jobs). */
  wake(): void {
    if (!this.#running) return;
    if (this.#active > 0) {
      this.#wakeRequested = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#round(), 0);
  }

  /** Claims and runs due jobs until none is left (tests call this instead of waiting). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.#runBatch();
      total += n;
      if (n === 0) return total;
    }
  }

  #round(): void {
    this.#timer = null;
    if (!this.#running) return;
    this.#active++;
    this.#idle = this.#runBatch()
      .catch((err) => this.#opts.log?.error({ err }, 'job round failed'))
      .then((n) => {
        this.#active--;
        if (!this.#running) return;
        const again = this.#wakeRequested || (n ?? 0) >= this.#opts.concurrency;
        this.#wakeRequested = false;
        this.#timer = setTimeout(() => this.#round(), again ? 0 : this.#opts.pollIntervalMs);
      });
  }

  async #runBatch(): Promise<number> {
    const kinds = [...this.#handlers.keys()];
    if (kinds.length === 0) return 0;
    const claimed = await jobRepository.claim(
      this.db,
      kinds,
      this.#opts.concurrency,
      this.holder,
      this.#opts.leaseMs,
    );
    await Promise.all(claimed.map((job) => this.#run(job)));
    return claimed.length;
  }

  async #run(job: JobRow): Promise<void> {
    const handler = this.#handlers.get(job.kind)!;
    let outcome: JobOutcome | undefined;
    try {
      outcome = await handler(job);
    } catch (err) {
      outcome = { retry: { error: (err as Error).message ?? String(err) } };
      this.#opts.log?.error({ err, jobId: job.id, kind: job.kind }, 'job threw');
    }
    if (outcome?.fail || (outcome?.retry && job.attempts >= job.maxAttempts)) {
      await jobRepository.fail(this.db, job.id, this.holder, (outcome.fail ?? outcome.retry)!.error);
    } else if (outcome?.retry) {
      const delay =
        outcome.retry.afterMs ?? backoffMs(job.attempts, this.#opts.baseBackoffMs, this.#opts.maxBackoffMs);
      await jobRepository.retryLater(
        this.db,
        job.id,
        this.holder,
        new Date(Date.now() + delay),
        outcome.retry.error,
      );
    } else {
      await jobRepository.complete(this.db, job.id, this.holder);
    }
  }
}
