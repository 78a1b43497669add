/**
 * The process's Prometheus metrics (`GET /metrics`): one registry object, made by createPlatform and
 * handed to what reports into it — no module-level registry, so every test platform has its own.
 *
 * Two kinds, to be aggregated differently across a cluster:
 * - per node (sum them): HTTP latency, assignments, send failures, webhook rejections, router pass
 *   durations, live WebSocket connections, and the process's own metrics;
 * - the whole cluster's, read from the database at scrape time (every node says the same: take one,
 *   or `max`): open sessions by line and state, queue length and longest wait by line, unfinished
 *   jobs and the oldest one's age by kind.
 *
 * Each counter is incremented at the one place its event happens: assignments on the committed
 * `session.transitioned` event (the router's, an operator's accept, a supervisor's assign alike),
 * send failures in the outbox job (src/pipeline/outbound.ts), webhook rejections where the answer
 * to a webhook is sent (src/http/routes/webhooks.route.ts), pass durations around the router's pass.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client.ts';
import type { Clock } from '../domain/deps.ts';
import type { EventBus } from '../domain/events/domain-events.ts';
import { scrapeRepository } from './scrape.repository.ts';

export type RouterPassOutcome = 'committed' | 'raced' | 'failed';

export interface PrometheusSources {
  db: Db;
  clock: Clock;
  /** Job kinds reported even while none is pending (0 rather than no series). */
  jobKinds?: string[];
}

export class Prometheus {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'omniline_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly #assignments = new Counter({
    name: 'omniline_assignments_total',
    help: 'Sessions assigned to an operator, by line and by whom: router, accepted (an offer taken), manual',
    labelNames: ['line', 'by'] as const,
    registers: [this.registry],
  });
  readonly #sendFailures = new Counter({
    name: 'omniline_send_failures_total',
    help: 'Failed attempts to send a message through a provider, by provider, error code and outcome (retry, failed)',
    labelNames: ['provider', 'code', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly #webhookRejections = new Counter({
    name: 'omniline_webhook_rejections_total',
    help: 'Webhook requests answered with an error, by provider and error code',
    labelNames: ['provider', 'code'] as const,
    registers: [this.registry],
  });
  readonly #routerPass = new Histogram({
    name: 'omniline_router_pass_duration_seconds',
    help: 'Routing passes (one transaction over the head of a line queue), by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly #connections = new Gauge({
    name: 'omniline_realtime_connections',
    help: 'Open WebSocket connections of the realtime gateway on this node',
    registers: [this.registry],
  });
  readonly #sessions = new Gauge({
    name: 'omniline_sessions',
    help: 'Open sessions by line and state (cluster-wide, read at scrape time)',
    labelNames: ['line', 'state'] as const,
    registers: [this.registry],
  });
  readonly #queueLength = new Gauge({
    name: 'omniline_queue_length',
    help: 'Waiting sessions by line (cluster-wide, read at scrape time)',
    labelNames: ['line'] as const,
    registers: [this.registry],
  });
  readonly #queueOldest = new Gauge({
    name: 'omniline_queue_oldest_wait_seconds',
    help: 'How long the longest-waiting session of the line has been in its queue (0: none waiting)',
    labelNames: ['line'] as const,
    registers: [this.registry],
  });
  readonly #jobsPending = new Gauge({
    name: 'omniline_outbox_pending_jobs',
    help: 'Background jobs (sends, edits, downloads, bot deliveries) not yet done nor failed, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #jobsOldest = new Gauge({
    name: 'omniline_outbox_oldest_job_age_seconds',
    help: 'Age of the oldest unfinished job by kind (0: none)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly #databaseUp = new Gauge({
    name: 'omniline_metrics_database_up',
    help: '1 when the scrape read the cluster-wide gauges from the database, 0 when it could not',
    registers: [this.registry],
  });
  #connectionCount: () => number = () => 0;

  constructor(
    private readonly sources: PrometheusSources,
    opts: { processMetrics?: boolean } = {},
  ) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts assignments from the committed transitions on this node's bus. */
  watch(bus: EventBus): () => void {
    return bus.on('session.transitioned', ({ payload: p }) => {
      if (p.to !== 'AssignedToOperator') return;
      const by =
        p.event === 'accept'
          ? p.from === 'Waiting'
            ? 'accepted'
            : null // a reservation accepted: assigned already
          : p.event === 'assignOperator'
            ? p.actor.type === 'system'
              ? 'router'
              : 'manual'
            : null;
      if (by) this.#assignments.labels(p.lineId, by).inc();
    });
  }

  /** Where the live connection count comes from (the realtime gateway of this node). */
  countConnections(count: () => number): void {
    this.#connectionCount = count;
  }

  sendFailed(provider: string, code: string, outcome: 'retry' | 'failed'): void {
    this.#sendFailures.labels(provider, boundedCode(code), outcome).inc();
  }

  webhookRejected(provider: string, code: string): void {
    this.#webhookRejections.labels(provider, boundedCode(code)).inc();
  }

  /** Starts timing a routing pass; call the result with how it ended. */
  routerPass(): (outcome: RouterPassOutcome) => void {
    const end = this.#routerPass.startTimer();
    return (outcome) => {
      end({ outcome });
    };
  }

  /** The exposition text: the database's gauges read now, then every metric. */
  async scrape(): Promise<string> {
    this.#connections.set(this.#connectionCount());
    await this.#readDatabase();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async #readDatabase(): Promise<void> {
    const { db, clock } = this.sources;
    let sessions: Awaited<ReturnType<typeof scrapeRepository.openSessions>>;
    let jobs: Awaited<ReturnType<typeof scrapeRepository.pendingJobs>>;
    try {
      [sessions, jobs] = await Promise.all([
        scrapeRepository.openSessions(db, clock.now()),
        scrapeRepository.pendingJobs(db),
      ]);
    } catch {
      // Stale numbers would mislead: the series go away until the database answers again.
      for (const g of [
        this.#sessions,
        this.#queueLength,
        this.#queueOldest,
        this.#jobsPending,
        this.#jobsOldest,
      ])
        g.reset();
      this.#databaseUp.set(0);
      return;
    }
    this.#databaseUp.set(1);
    // Reset then set, in one synchronous stretch: lines and kinds that are gone leave no series.
    this.#sessions.reset();
    this.#queueLength.reset();
    this.#queueOldest.reset();
    for (const row of sessions) {
      this.#sessions.labels(row.line, row.state).set(row.sessions);
      if (row.state === 'Waiting') {
        this.#queueLength.labels(row.line).set(row.sessions);
        this.#queueOldest.labels(row.line).set(Math.max(0, row.oldestWaitSeconds));
      }
    }
    this.#jobsPending.reset();
    this.#jobsOldest.reset();
    for (const kind of this.sources.jobKinds ?? []) {
      this.#jobsPending.labels(kind).set(0);
      this.#jobsOldest.labels(kind).set(0);
    }
    for (const row of jobs) {
      this.#jobsPending.labels(row.kind).set(row.pending);
      this.#jobsOldest.labels(row.kind).set(Math.max(0, row.oldestAgeSeconds));
    }
  }
}

/** Error codes are ours (UPPER_SNAKE); anything else is folded into one series, never a label per value. */
function boundedCode(code: string): string {
  return /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'OTHER';
}
