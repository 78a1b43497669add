/**
 * The router: who answers a Waiting session. It runs right after the changes that can route
 * (a session enters the queue, an operator comes online or frees capacity) and on a short sweep
 * that also drives the timers, so a session waits at most about a second for free capacity even when
 * the change happened on another node.
 *
 * Correctness under concurrency, on one database shared by any number of nodes:
 * - a session is routed under its row lock taken with SKIP LOCKED (one router at a time per session);
 * - an operator's capacity is checked under their user-row lock (no operator exceeds capacity);
 * - the assignment itself goes through the session state machine (no session has two operators).
 * Locks are always taken session first, then operator, so routers cannot deadlock each other.
 */
import type { ActorRef } from '../db/schema.ts';
import type { Tx } from '../db/unit-of-work.ts';
import type { Deps } from '../domain/deps.ts';
import { lineRepository } from '../domain/line/line.repository.ts';
import { type SessionRow, sessionRepository } from '../domain/session/session.repository.ts';
import type { SessionService } from '../domain/session/session.service.ts';
import { userRepository } from '../domain/user/user.repository.ts';
import { isOpenAt, type QueueSettings, queueOf } from './queue-settings.ts';
import { routingRepository } from './routing.repository.ts';
import type { RoutingContext, RuleRegistry } from './rule.ts';

export type RouteOutcome = 'assigned' | 'offered' | 'waiting' | 'closedHours' | 'skipped';

const SYSTEM: ActorRef = { type: 'system', id: null };

export interface RouterOptions {
  /** Sweep period (timers, cross-node catch-up). */
  tickMs?: number;
  /** An operator with no live connection goes offline after this long. */
  presenceGraceMs?: number;
  log?: { error(obj: object, msg: string): void };
  /** Called once for a session that arrives outside business hours, with the line's auto-reply. */
  onOutsideHours?: (sessionId: string, text: string) => Promise<void>;
}

export class Router {
  #timer: NodeJS.Timeout | null = null;
  readonly #offs: (() => void)[] = [];
  readonly #draining = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly #autoReplied = new Set<string>();

  constructor(
    private readonly deps: Deps,
    private readonly sessions: SessionService,
    readonly rules: RuleRegistry,
    private readonly opts: RouterOptions = {},
  ) {}

  start(): void {
    const bus = this.deps.bus;
    this.#offs.push(
      bus.on('session.created', (e) => {
        // Through the line's drain, one pass at a time: in queue order, and never two routers of this
        // node racing for the same operators.
        if (e.payload.state === 'Waiting') void this.#guard(this.drainLine(e.payload.lineId));
      }),
      bus.on('session.transitioned', (e) => {
        const p = e.payload;
        // Anything that frees an operator's capacity, or puts a session in the queue, may route.
        if (p.to === 'Waiting' || p.from === 'AssignedToOperator') void this.#guard(this.drainLine(p.lineId));
      }),
      bus.on('operator.statusChanged', (e) => {
        if (e.payload.status === 'online') void this.#guard(this.#drainLinesOf(e.payload.userId));
      }),
    );
    this.#timer = setInterval(() => void this.#guard(this.tick()), this.opts.tickMs ?? 500);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    for (const off of this.#offs.splice(0)) off();
    await Promise.allSettled([...this.#draining.values()]);
  }

  async #guard(work: Promise<unknown>): Promise<void> {
    try {
      await work;
    } catch (err) {
      this.opts.log?.error({ err }, 'routing failed');
    }
  }

  /** Routes one Waiting session by its line's queue and rule. */
  async route(sessionId: string): Promise<RouteOutcome> {
    let autoReply: string | null = null;
    const outcome = await this.deps.uow.run(async (tx): Promise<RouteOutcome> => {
      const session = await routingRepository.lockWaiting(tx.db, sessionId);
      if (!session) return 'skipped';
      // One router per line at a time, across nodes: routers of a line would otherwise all read the
      // same loads and queue up on the same "best" operator.
      const line = await lineRepository.byId(tx.db, session.lineId, { forUpdate: true });
      if (!line) return 'skipped';
      const queue = queueOf(line.queue);
      const now = this.deps.clock.now();
      if (!isOpenAt(queue.businessHours, now)) {
        autoReply = queue.businessHours?.autoReply ?? null;
        return 'closedHours';
      }
      const rule = this.rules.get(queue.routingRule) ?? this.rules.get('toAvailable')!;
      const candidates = await routingRepository.candidates(
        tx.db,
        session.lineId,
        session.operatorGroupId,
        queue.maxSessionsPerOperator,
        session.declinedBy,
      );
      const ctx: RoutingContext = {
        candidates,
        lastRoutedOperatorId: line.lastRoutedOperatorId,
        now,
        findUsers: (filter) => this.#findUsers(tx, filter),
      };
      const previous = queue.returnToPreviousOperator ? await this.#previousOperator(tx, session) : null;
      const back = previous && candidates.some((c) => c.id === previous) ? [previous] : null;
      const picked = back ?? (await rule.pickOperators(routingSession(session), queue, ctx));
      if (picked.length === 0) return this.#nobody(tx, session, now);
      if (back || rule.mode === 'assign') return this.#assignFirst(tx, session, picked, queue, now);
      return this.#offer(tx, session, picked, now);
    });
    if (outcome === 'closedHours' && autoReply && !this.#autoReplied.has(sessionId)) {
      this.#autoReplied.add(sessionId);
      await this.opts.onOutsideHours?.(sessionId, autoReply);
    }
    return outcome;
  }

  async #previousOperator(tx: Tx, session: SessionRow): Promise<string | null> {
    if (session.previousOperatorId) return session.previousOperatorId;
    if (!session.previousSessionId) return null;
    const prev = await sessionRepository.byId(tx.db, session.previousSessionId);
    return prev?.operatorId ?? prev?.previousOperatorId ?? null;
  }

  async #findUsers(tx: Tx, filter: { role?: string; login?: string }) {
    if (filter.login) {
      const u = await userRepository.byLogin(tx.db, filter.login);
      return u && (!filter.role || u.role === filter.role)
        ? [{ id: u.id, login: u.login, status: u.status }]
        : [];
    }
    return [];
  }

  async #nobody(tx: Tx, session: SessionRow, now: Date): Promise<RouteOutcome> {
    // Say so once per stay in the queue, not on every sweep.
    if (session.offeredAt === null || session.offeredTo.length > 0) {
      await routingRepository.markOffered(tx.db, session.id, [], now);
      tx.emit('session.operatorNotFound', session.id, { sessionId: session.id, lineId: session.lineId });
    }
    return 'waiting';
  }

  async #assignFirst(
    tx: Tx,
    session: SessionRow,
    picked: string[],
    queue: QueueSettings,
    now: Date,
  ): Promise<RouteOutcome> {
    for (const operatorId of picked) {
      const load = await routingRepository.lockOperator(tx.db, operatorId, queue.maxSessionsPerOperator);
      if (!load || load.blocked || load.status !== 'online' || load.open >= load.capacity) continue;
      await this.sessions.applyLocked(
        tx,
        session,
        { type: 'assignOperator', operatorId, accepted: queue.acceptTimeoutSeconds === 0 },
        SYSTEM,
      );
      await routingRepository.noteAssignment(
        tx.db,
        operatorId,
        session.lineId,
        now,
        queue.routingRule === 'roundRobin',
      );
      return 'assigned';
    }
    return this.#nobody(tx, session, now);
  }

  async #offer(tx: Tx, session: SessionRow, operatorIds: string[], now: Date): Promise<RouteOutcome> {
    const ids = [...new Set(operatorIds)].sort();
    if (ids.join() !== [...session.offeredTo].sort().join()) {
      await routingRepository.markOffered(tx.db, session.id, ids, now);
      tx.emit('session.offered', session.id, {
        sessionId: session.id,
        lineId: session.lineId,
        operatorIds: ids,
      });
    }
    return 'offered';
  }

  /**
   * Routes a line's queue in order. Concurrent calls for one line coalesce into one more pass. A pass
   * stops at the first session of the whole line that finds nobody (or at closed hours): the ones
   * behind it cannot fare better, so an unstaffed queue costs one routing attempt per pass, not one per
   * waiting session. Group-assigned sessions only speak for their group, so the pass goes on past them.
   */
  drainLine(lineId: string): Promise<void> {
    const running = this.#draining.get(lineId);
    if (running) {
      this.#again.add(lineId);
      return running;
    }
    const pass = (async () => {
      do {
        this.#again.delete(lineId);
        for (const { id, operator_group_id } of await routingRepository.waitingIds(
          this.deps.db,
          lineId,
          200,
        )) {
          const outcome = await this.route(id);
          if (outcome === 'closedHours' || (outcome === 'waiting' && !operator_group_id)) break;
        }
      } while (this.#again.has(lineId));
    })().finally(() => this.#draining.delete(lineId));
    this.#draining.set(lineId, pass);
    return pass;
  }

  async #drainLinesOf(operatorId: string): Promise<void> {
    for (const lineId of await routingRepository.linesOfOperator(this.deps.db, operatorId))
      await this.drainLine(lineId);
  }

  /** One sweep: timers first (they may free capacity or re-queue sessions), then every queue. */
  async tick(): Promise<void> {
    const db = this.deps.db;
    const now = this.deps.clock.now();
    for (const { id, operator_id } of await routingRepository.expiredReservations(db, now)) {
      await this.deps.uow.run(async (tx) => {
        const session = await sessionRepository.byId(tx.db, id, { forUpdate: true });
        if (
          session?.state !== 'AssignedToOperator' ||
          session.acceptedAt ||
          session.operatorId !== operator_id
        )
          return;
        await routingRepository.addDeclined(tx.db, id, operator_id);
        await this.sessions.applyLocked(
          tx,
          { ...session, declinedBy: [...session.declinedBy, operator_id] },
          { type: 'enqueue' },
          SYSTEM,
        );
      });
    }
    for (const { id } of await routingRepository.staleOffers(db, now)) {
      await routingRepository.markOffered(db, id, [], now);
    }
    for (const { id } of await routingRepository.idleSessions(db, now)) {
      await this.sessions.apply(id, { type: 'close', by: SYSTEM }, null, 'close').catch(() => undefined);
    }
    for (const lineId of await routingRepository.linesWithWaiting(db)) await this.drainLine(lineId);
  }
}

function routingSession(s: SessionRow) {
  return {
    id: s.id,
    lineId: s.lineId,
    operatorGroupId: s.operatorGroupId,
    previousOperatorId: s.previousOperatorId,
    declinedBy: s.declinedBy,
  };
}
