/**
 * The operator workspace (the guide's chat and operator services): status, my chats, unread
 * counts, accept, mark as read, the actions available on a chat, transfer, priority.
 */

import { Conflict, Forbidden, NotFound } from '../../errors.ts';
import { queueOf } from '../../routing/queue-settings.ts';
import { routingRepository } from '../../routing/routing.repository.ts';
import { lineIdsOfUser } from '../access/access.repository.ts';
import type { ClientIntake } from '../client/client-intake.ts';
import type { Deps } from '../deps.ts';
import { lineRepository } from '../line/line.repository.ts';
import { messageRepository } from '../message/message.repository.ts';
import { messageView } from '../message/message.service.ts';
import { messageUpdates } from '../message/message-updates.ts';
import { type SessionRow, sessionRepository } from '../session/session.repository.ts';
import { actorOf, type SessionService } from '../session/session.service.ts';
import { type Priority, priorityRank, type SessionState } from '../session/session.ts';
import { sessionView } from '../session/session.view.ts';
import { userRepository } from '../user/user.repository.ts';
import type { Caller } from '../user/user.ts';
import { operatorRepository } from './operator.repository.ts';

export const OPERATOR_STATUSES = ['online', 'busy', 'away', 'offline'] as const;
export type OperatorStatus = (typeof OPERATOR_STATUSES)[number];

export class WorkspaceService {
  constructor(
    private readonly deps: Deps,
    private readonly sessions: SessionService,
    private readonly clients: ClientIntake,
  ) {}

  async status(caller: Caller) {
    const user = await userRepository.byId(this.deps.db, caller.id);
    if (!user) throw new NotFound('User', caller.id);
    return {
      status: user.status as OperatorStatus,
      maxSessions: user.maxSessions,
      statusChangedAt: user.statusChangedAt?.toISOString() ?? null,
    };
  }

  async setStatus(userId: string, status: OperatorStatus, opts: { maxSessions?: number | null } = {}) {
    await this.deps.uow.run(async (tx) => {
      const previous = await operatorRepository.setStatus(tx.db, userId, status, this.deps.clock.now());
      if (previous === null) throw new NotFound('User', userId);
      if (opts.maxSessions !== undefined)
        await operatorRepository.setCapacity(tx.db, userId, opts.maxSessions);
      if (previous !== status || opts.maxSessions !== undefined) {
        // Capacity growing counts as coming online for routing: queued sessions may now fit.
        tx.emit('operator.statusChanged', userId, { userId, status, previous });
      }
    });
  }

  /** My chats: sessions I hold and sessions offered to me, with unread counts and the last message. */
  async mySessions(caller: Caller) {
    const rows = await operatorRepository.workspace(this.deps.db, caller.id);
    const out = [];
    for (const r of rows) {
      const session = await sessionRepository.byId(this.deps.db, r.id);
      if (!session) continue;
      const last = r.last_message_id
        ? await messageRepository.byId(this.deps.db, r.last_message_id)
        : undefined;
      out.push({
        ...sessionView(session),
        offered: r.offered,
        accepted: session.acceptedAt !== null,
        lastMessage: last ? messageView(last) : null,
      });
    }
    return { items: out, total: out.length };
  }

  unread(caller: Caller) {
    return operatorRepository.unread(this.deps.db, caller.id);
  }

  /**
   * Takes a session: a reservation of mine, a session offered to me, or any queued session of my
   * lines. Atomic: of two concurrent accepts exactly one wins, the other gets 409.
   */
  async accept(sessionId: string, caller: Caller) {
    const row = await this.deps.uow.run(async (tx) => {
      const session = await sessionRepository.byId(tx.db, sessionId, { forUpdate: true });
      if (!session || session.deletedAt) throw new NotFound('Session', sessionId);
      if (session.state === 'AssignedToOperator' && session.operatorId !== caller.id) {
        throw new Conflict('SESSION_ALREADY_ACCEPTED', 'another operator has taken this session');
      }
      if (session.state === 'Waiting') {
        const offered = session.offeredTo.includes(caller.id);
        if (!offered && !(await lineIdsOfUser(tx.db, caller.id)).includes(session.lineId)) {
          throw new NotFound('Session', sessionId);
        }
        const line = await lineRepository.byId(tx.db, session.lineId);
        const load = await routingRepository.lockOperator(
          tx.db,
          caller.id,
          queueOf(line?.queue).maxSessionsPerOperator,
        );
        if (load && load.open >= load.capacity) {
          throw new Conflict(
            'OPERATOR_AT_CAPACITY',
            `you already hold ${load.open} of ${load.capacity} sessions`,
          );
        }
      }
      return this.sessions.applyLocked(
        tx,
        session,
        { type: 'accept', operatorId: caller.id },
        actorOf(caller),
      );
    });
    return sessionView(row);
  }

  /** Marks the client's messages read by the operator (MarkChatAsRead). */
  async markRead(sessionId: string, caller: Caller) {
    const session = await this.sessions.visible(sessionId, caller);
    await this.deps.uow.run((tx) => messageUpdates.readByOperator(tx, session, this.deps.clock.now()));
    return sessionView((await sessionRepository.byId(this.deps.db, session.id))!);
  }

  /** What the caller may do with the session now (GetChatActions). */
  async actions(sessionId: string, caller: Caller): Promise<string[]> {
    const s = await this.sessions.visible(sessionId, caller);
    const state = s.state as SessionState;
    const open = state === 'Waiting' || state === 'AssignedToBot' || state === 'AssignedToOperator';
    const own = s.operatorId === caller.id;
    const manager = caller.role === 'admin' || caller.role === 'supervisor';
    const out: string[] = ['read', 'history'];
    if (open && (state === 'Waiting' || (own && !s.acceptedAt))) out.push('accept');
    if (open && (own || manager)) out.push('send', 'close', 'transfer', 'assignBot', 'markRead');
    if (state === 'AssignedToOperator' && (own || manager)) out.push('returnToQueue');
    if (open && manager) out.push('assign', 'setPriority');
    if (state !== 'MarkedAsSpam' && (own || manager)) out.push('markAsSpam');
    if (state === 'MarkedAsSpam' && manager) out.push('unmarkAsSpam');
    return out;
  }

  /** Transfers a session to another operator or to a group's queue; the previous operator is kept. */
  async transfer(sessionId: string, target: { operatorId: string } | { groupId: string }, caller: Caller) {
    return this.sessions.assign(sessionId, target, caller);
  }

  /**
   * Returns a session an operator holds to its line's queue (the operator themselves, or a supervisor
   * or admin of the line). The operator is remembered as having let it pass, so the router offers it
   * to the others first (a new round may bring it back to them when nobody else takes it); the
   * session keeps its place by priority and is queued from now.
   */
  async returnToQueue(sessionId: string, caller: Caller) {
    await this.sessions.visible(sessionId, caller);
    const row = await this.deps.uow.run(async (tx) => {
      const session = await sessionRepository.byId(tx.db, sessionId, { forUpdate: true });
      if (!session) throw new NotFound('Session', sessionId);
      const manager = caller.role === 'admin' || caller.role === 'supervisor';
      if (session.state === 'AssignedToOperator' && session.operatorId !== caller.id && !manager) {
        throw new Forbidden('operators return only their own sessions', 'NOT_YOUR_SESSION');
      }
      if (session.state === 'Waiting' || session.state === 'AssignedToBot') {
        throw new Conflict('SESSION_NOT_WITH_OPERATOR', 'no operator has the session');
      }
      const declinedBy = session.operatorId
        ? [...session.declinedBy, session.operatorId]
        : session.declinedBy;
      if (session.operatorId) await routingRepository.addDeclined(tx.db, session.id, session.operatorId);
      return this.sessions.applyLocked(tx, { ...session, declinedBy }, { type: 'enqueue' }, actorOf(caller));
    });
    return sessionView(row);
  }

  async setPriority(sessionId: string, priority: Priority, caller: Caller) {
    if (caller.role === 'operator') throw new Forbidden('only supervisors and admins set priorities');
    const session = await this.sessions.visible(sessionId, caller);
    await sessionRepository.update(this.deps.db, session.id, { priority: priorityRank(priority) });
    return sessionView((await sessionRepository.byId(this.deps.db, session.id))!);
  }

  /** A bot hands its session over to the line's queue. */
  async handover(sessionId: string, caller: Caller) {
    const session = await this.sessions.visible(sessionId, caller);
    if (session.state !== 'AssignedToBot')
      throw new Conflict('SESSION_NOT_WITH_BOT', 'the session is not with a bot');
    return this.sessions.apply(session.id, { type: 'enqueue' }, caller, 'assign');
  }

  /** A blocked or logged-out operator goes offline; a blocked one's sessions go back to the queue. */
  async release(userId: string, opts: { requeue: boolean }): Promise<SessionRow[]> {
    await this.setStatus(userId, 'offline');
    if (!opts.requeue) return [];
    const moved: SessionRow[] = [];
    for (const id of await routingRepository.openSessionsOf(this.deps.db, userId)) {
      await this.sessions.apply(id, { type: 'enqueue' }, null, 'assign').catch(() => undefined);
      const s = await sessionRepository.byId(this.deps.db, id);
      if (s) moved.push(s);
    }
    return moved;
  }

  /**
   * Presence sweep: operators whose realtime connections are gone past the grace period turn
   * offline; clients silent for their line's timeout (else `clientOfflineSeconds`) go offline
   * (clientOffline).
   */
  async sweepPresence(
    graceMs: number,
    clientOfflineSeconds = DEFAULT_CLIENT_OFFLINE_SECONDS,
  ): Promise<string[]> {
    const now = this.deps.clock.now();
    const gone = await routingRepository.goneOperators(this.deps.db, now, graceMs);
    for (const id of gone) await this.setStatus(id, 'offline');
    await this.clients.sweepQuiet(clientOfflineSeconds);
    return gone;
  }
}

/** The client silence timeout when neither the line nor the server configures one (5 minutes). */
export const DEFAULT_CLIENT_OFFLINE_SECONDS = 300;
