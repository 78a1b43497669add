/**
 * The router: who answers a Waiting session. It runs right after the changes that can route
 * (a session enters the queue, an operator comes online or frees capacity) and on a short sweep
 * that also drives the timers, so a session waits at most about a second for free capacity even when
 * the change happened on another node.
 *
 * Correctness under concurrency, on one database shared by any number of nodes:
 * - a session is routed under its row lock taken with SKIP LOCKED (one router at a time per session);
 * - an operator's capacity is checked under their user-row lock, against the load kept on that row
 *   (users.open_sessions, maintained by a trigger with every session change): no operator exceeds
 *   capacity. A pass plans on loads read without locks, then locks only the operators it chose and
 *   checks, in that same statement, that each still has room for what the pass gives them; if one
 *   filled up meanwhile, the statement fails, the pass rolls back and runs again;
 * - the assignment itself goes through the session state machine (no session has two operators);
 * - a pass holds its line's load lock (an advisory lock, exclusive): one pass per line at a time,
 *   across nodes (they would otherwise all read the same loads and pile onto the same operator),
 *   and no operator of the line loses a session while it runs — a close, a transfer away or a return
 *   to the queue takes the same lock, shared, in the trigger that keeps the loads, before touching
 *   the operator's row. So the loads a pass reads stay true until its COMMIT: every session goes to
 *   an operator with the fewest open sessions, not to one who had the fewest a close ago.
 * Locks are always taken line, then sessions (skipping held ones), then operators in id order, and
 * every other path takes a session, then the line's load lock (shared), then an operator (the
 * trigger locks the operator after the session), so routers cannot deadlock each other nor the
 * closes. The one later session lock — telling a full line's queue that nobody is available — skips
 * held rows and never waits.
 */
import type { ActorRef } from '../db/schema.ts';
import type { Tx } from '../db/unit-of-work.ts';
import type { Deps } from '../domain/deps.ts';
import { lineRepository } from '../domain/line/line.repository.ts';
import { type SessionRow, sessionRepository } from '../domain/session/session.repository.ts';
import type { SessionService } from '../domain/session/session.service.ts';
import { userRepository } from '../domain/user/user.repository.ts';
import type { Prometheus } from '../observability/prometheus.ts';
import { isOpenAt, queueOf } from './queue-settings.ts';
import { isOperatorFull, routingRepository } from './routing.repository.ts';
import type { RoutingContext, RuleRegistry } from './rule.ts';
import { StaffLoads } from './staff-loads.ts';

interface PassResult {
  outcomes: Map<string, RouteOutcome>;
  more: boolean;
  /** The pass rolled back: an operator it chose filled up (another line's router) before its lock. */
  raced?: boolean;
}

export type RouteOutcome = 'assigned' | 'offered' | 'waiting' | 'closedHours' | 'skipped';

const SYSTEM: ActorRef = { type: 'system', id: null };
/** Sessions routed per transaction when a line's queue is drained, and passes per drain at most. */
const PASS_SIZE = 30;
/**
 * Sessions a pass takes while the whole line is full: a close frees one slot, not thirty, but closes
 * may come at several hundred a second, faster than passes of a few sessions would fill them.
 */
const FULL_PASS_SIZE = 10;
const MAX_PASSES = 100;

export interface RouterOptions {
  /** Sweep period (timers, cross-node catch-up). */
  tickMs?: number;
  /** An operator with no live connection goes offline after this long. */
  presenceGraceMs?: number;
  log?: { error(obj: object, msg: string): void };
  /** Called once for a session that arrives outside business hours, with the line's auto-reply. */
  onOutsideHours?: (sessionId: string, text: string) => Promise<void>;
  /** Times every pass (`omniline_router_pass_duration_seconds`). */
  metrics?: Pick<Prometheus, 'routerPass'>;
}

export class Router {
  #timer: NodeJS.Timeout | null = null;
  /** The sweep under way: sweeps never overlap, and stop() waits for the last one. */
  #sweeping: Promise<void> | null = null;
  readonly #offs: (() => void)[] = [];
  readonly #draining = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly #autoReplied = new Set<string>();
  /** Lines this node queued a session in since their last drain round began. */
  readonly #queued = new Set<string>();
  /** Lines whose last pass found nobody of the whole line with room. */
  readonly #full = new Set<string>();
  /**
   * Sessions this node queued in a full line since it last told that line's queue that nobody has
   * room: during a full spell only they are told, not the whole queue read again.
   */
  readonly #untold = new Map<string, Set<string>>();

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
        if (e.payload.state === 'Waiting') {
          this.#queued.add(e.payload.lineId);
          this.#queuedInFull(e.payload.lineId, e.payload.sessionId);
          void this.#guard(this.drainLine(e.payload.lineId));
        }
      }),
      bus.on('session.transitioned', (e) => {
        const p = e.payload;
        if (p.to === 'Waiting') this.#queuedInFull(p.lineId, p.sessionId);
        // Anything that frees an operator's capacity, or puts a session in the queue, may route.
        if (p.to === 'Waiting' || p.from === 'AssignedToOperator') void this.#guard(this.drainLine(p.lineId));
      }),
      bus.on('operator.statusChanged', (e) => {
        if (e.payload.status === 'online') void this.#guard(this.#drainLinesOf(e.payload.userId));
      }),
    );
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.#guard(this.tick()).finally(() => {
        this.#sweeping = null;
      });
    }, this.opts.tickMs ?? 500);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    for (const off of this.#offs.splice(0)) off();
    await this.#sweeping;
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
    for (;;) {
      const session = await sessionRepository.byId(this.deps.db, sessionId);
      if (session?.state !== 'Waiting') return 'skipped';
      const { outcomes, raced } = await this.#pass(session.lineId, 1, { only: [sessionId] });
      if (!raced) return outcomes.get(sessionId) ?? 'skipped';
    }
  }

  /**
   * One routing pass over the head of a line's queue, in ONE transaction: the line's load lock is
   * taken (one router per line at a time, across nodes, and no close on the line until COMMIT; see
   * the top of this file), then up to `limit` Waiting sessions in queue order (SKIP LOCKED); the
   * staff's loads are read once and kept up to date in memory as sessions are assigned, so a burst
   * of arrivals costs a few statements per session, not a transaction each.
   * Only the operators who get sessions are locked (in id order), and their loads are checked again
   * under that lock: a load can only have grown meanwhile if another line's router assigned them,
   * and then the pass rolls back (`raced`) and is run again. The pass stops at the
   * first session of the whole line that finds nobody (the ones behind it cannot fare better);
   * group-assigned sessions only speak for their group. `more` tells whether the queue may hold more
   * routable sessions; `skip` leaves out sessions an earlier pass of the same drain left waiting
   * (offered, or nobody in their group).
   */
  async #pass(
    lineId: string,
    limit: number,
    opts: { only?: string[]; skip?: Set<string> } = {},
    onDecided?: (result: PassResult) => void,
  ): Promise<PassResult> {
    const outcomes = new Map<string, RouteOutcome>();
    let autoReply: string | null = null;
    // A pass's COMMIT does not wait for the WAL flush (asyncCommit): the line's next pass waits for
    // that COMMIT, and the flush was most of a pass's time. Should PostgreSQL itself crash before the
    // flush, the pass is lost whole: its sessions are Waiting again, and are routed again.
    const decide = async (tx: Tx): Promise<boolean> => {
      // A pass is two round trips. The first carries, in this order (one connection runs them in
      // order, which is the lock order): the line's load lock, the line, the head of its queue, the
      // staff's loads (no close can lower them until COMMIT; nothing when the queue is empty). The
      // second carries the chosen operators' locks, the assignments, the domain events and COMMIT,
      // none waited for on its own (tx.defer).
      const staff = new StaffLoads(tx, lineId);
      const [, line, waiting] = await Promise.all([
        routingRepository.holdLineLoads(tx.db, lineId),
        lineRepository.byId(tx.db, lineId),
        routingRepository.lockQueueHead(tx.db, lineId, limit, opts),
        staff.read(),
      ]);
      if (!line || waiting.length === 0) return false;
      const queue = queueOf(line.queue);
      staff.defaultCapacity = queue.maxSessionsPerOperator;
      const now = this.deps.clock.now();
      if (!isOpenAt(queue.businessHours, now)) {
        autoReply = queue.businessHours?.autoReply ?? null;
        for (const session of waiting) outcomes.set(session.id, 'closedHours');
        return false;
      }
      const rule = this.rules.get(queue.routingRule) ?? this.rules.get('toAvailable')!;
      let lastRouted = line.lastRoutedOperatorId;
      const assignments: { session: SessionRow; operatorId: string }[] = [];
      for (let session of waiting) {
        const able = await staff.candidates(session.operatorGroupId);
        let candidates = able.filter((c) => !session.declinedBy.includes(c.id));
        if (candidates.length === 0 && able.length > 0) {
          // Everyone who could take it now has let it pass (accept timeouts): a new round, and the
          // line's staff are told nobody took it. Without this the session would wait for good.
          session = this.#newRound(tx, session);
          candidates = able;
        }
        const ctx: RoutingContext = {
          candidates,
          lastRoutedOperatorId: lastRouted,
          now,
          findUsers: (filter) => this.#findUsers(tx, filter),
        };
        const previous = queue.returnToPreviousOperator ? await this.#previousOperator(tx, session) : null;
        const back = previous && candidates.some((c) => c.id === previous) ? [previous] : null;
        const picked = back ?? (await rule.pickOperators(routingSession(session), queue, ctx));
        let outcome: RouteOutcome;
        if (picked.length > 0 && (back || rule.mode === 'assign')) {
          const operatorId = await staff.firstWithRoom(picked);
          if (operatorId) {
            assignments.push({ session, operatorId });
            staff.assigned(operatorId, now);
            lastRouted = operatorId;
            outcome = 'assigned';
          } else outcome = await this.#nobody(tx, session, now);
        } else if (picked.length > 0) outcome = await this.#offer(tx, session, picked, now);
        else outcome = await this.#nobody(tx, session, now);
        outcomes.set(session.id, outcome);
        if (outcome === 'waiting' && !session.operatorGroupId) {
          // Nobody of the whole line has room: every session queued behind finds nobody too, and
          // is told so now rather than when it reaches the head. The whole queue is read when the
          // line fills up; while it stays full, only the sessions this node queued since are told.
          if ((await staff.candidates(null)).length === 0) {
            const since = this.#untold.get(line.id);
            this.#untold.delete(line.id);
            if (!this.#full.has(line.id)) await this.#nobodyForAll(tx, line.id, now);
            else if (since?.size) await this.#nobodyForAll(tx, line.id, now, [...since]);
            this.#full.add(line.id);
          }
          break;
        }
      }
      // The operators' locks and capacity check go out first, then the assignments.
      const given = new Map<string, number>();
      for (const { operatorId } of assignments) given.set(operatorId, (given.get(operatorId) ?? 0) + 1);
      tx.defer(
        routingRepository.lockAssignees(
          tx.db,
          [...given].map(([id, n]) => ({ id, sessions: n, capacity: staff.capacityOf(id) })),
          line.id,
          now,
          queue.routingRule === 'roundRobin' && lastRouted !== line.lastRoutedOperatorId ? lastRouted : null,
        ),
      );
      for (const { session, operatorId } of assignments) {
        const event = {
          type: 'assignOperator',
          operatorId,
          accepted: queue.acceptTimeoutSeconds === 0,
        } as const;
        tx.defer(this.sessions.applyLocked(tx, session, event, SYSTEM));
      }
      const more = waiting.length === limit && outcomes.size === waiting.length;
      if (outcomes.get(waiting.at(-1)!.id) === 'assigned') {
        this.#full.delete(line.id);
        this.#untold.delete(line.id);
      }
      onDecided?.({ outcomes, more });
      return more;
    };
    const timed = this.opts.metrics?.routerPass();
    const pass = this.deps.uow.run(decide, { asyncCommit: true });
    let more: boolean;
    try {
      more = await pass;
      timed?.('committed');
    } catch (err) {
      timed?.(isOperatorFull(err) ? 'raced' : 'failed');
      if (!isOperatorFull(err)) throw err;
      // Nothing was written (nor published); whoever drains this line runs the pass again.
      this.#again.add(lineId);
      return { outcomes: new Map(), more: true, raced: true };
    }

    if (autoReply) {
      for (const [sessionId, outcome] of outcomes) {
        if (outcome !== 'closedHours' || this.#autoReplied.has(sessionId)) continue;
        this.#autoReplied.add(sessionId);
        await this.opts.onOutsideHours?.(sessionId, autoReply);
      }
    }
    return { outcomes, more };
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
      tx.emit('session.operatorNotFound', session.id, {
        sessionId: session.id,
        lineId: session.lineId,
        reason: 'noneAvailable',
      });
    }
    return 'waiting';
  }

  /**
   * Starts a new round of a session every operator able to take it has let pass: they may be given
   * it again (declinedBy is emptied, written before the pass's assignments), and the line's staff
   * are told that nobody took it (operatorNotFound, once per round).
   */
  #newRound(tx: Tx, session: SessionRow): SessionRow {
    tx.defer(routingRepository.resetDeclined(tx.db, session.id));
    tx.emit('session.operatorNotFound', session.id, {
      sessionId: session.id,
      lineId: session.lineId,
      reason: 'noneAccepted',
    });
    return { ...session, declinedBy: [] };
  }

  /**
   * operatorNotFound for every session of the line's queue not told yet (group sessions aside), or
   * for those of `only` still in that case.
   */
  async #nobodyForAll(tx: Tx, lineId: string, now: Date, only?: string[]): Promise<void> {
    for (const id of await routingRepository.markLineNobody(tx.db, lineId, now, only))
      tx.emit('session.operatorNotFound', id, { sessionId: id, lineId, reason: 'noneAvailable' });
  }

  #queuedInFull(lineId: string, sessionId: string): void {
    if (!this.#full.has(lineId)) return;
    const ids = this.#untold.get(lineId) ?? new Set<string>();
    this.#untold.set(lineId, ids.add(sessionId));
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
   * Routes a line's queue in order, a pass (one transaction) per `PASS_SIZE` sessions. Concurrent
   * calls for one line coalesce into one more pass, so a burst of arrivals is routed in a few passes.
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
        const skip = new Set<string>();
        const inflight: Promise<PassResult>[] = [];
        for (let n = 0; n < MAX_PASSES; n++) {
          // Most drains follow a close while nothing waits: a read first, not a transaction that
          // locks the line — unless this node just queued a session there. A session queued after
          // the read triggers a drain of its own.
          if (
            n === 0 &&
            !this.#queued.delete(lineId) &&
            !(await routingRepository.hasWaiting(this.deps.db, lineId, skip))
          )
            break;
          // The next pass starts as soon as this one has decided, before its COMMIT: its line lock
          // waits in the database for that COMMIT, and the round trips in between are saved.
          let decided!: (result: PassResult) => void;
          const decision = new Promise<PassResult>((resolve) => {
            decided = resolve;
          });
          const size = this.#full.has(lineId) ? FULL_PASS_SIZE : PASS_SIZE;
          const pass = this.#pass(lineId, size, { skip }, decided);
          inflight.push(pass);
          const { outcomes, more } = await Promise.race([decision, pass]);
          // A pass that rolls back after it decided sets #again: the drain goes round once more.
          for (const [id, outcome] of outcomes) if (outcome !== 'assigned') skip.add(id);
          if (more) continue;
          // Asked to drain again meanwhile (a session queued, capacity freed): the next pass goes
          // out now as well, not after this one's COMMIT, and starts the round afresh.
          if (!this.#again.delete(lineId)) break;
          this.#queued.delete(lineId);
          skip.clear();
        }
        await Promise.all(inflight.splice(0));
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
