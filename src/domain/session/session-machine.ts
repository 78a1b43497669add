/**
 * The session state machine: the one place where a session's state changes are decided.
 * `transition` is pure: services load the session, ask here, and apply the returned patch.
 *
 *   Waiting ──assignOperator──▶ AssignedToOperator ──close──▶ Closed ──markAsSpam──▶ MarkedAsSpam
 *      │  ▲                         │  ▲                                               │
 *   assignBot  enqueue / assignGroup  assignBot / assignOperator              unmarkAsSpam → Closed
 *      ▼  │                         ▼  │
 *   AssignedToBot ◀─────────────────┘
 *
 * Closed and MarkedAsSpam never reopen: a later client message opens a new, chained session.
 */
import type { ActorRef } from '../../db/schema.ts';
import { AppError, type CodeOf } from '../../errors.ts';
import { type ChannelType, SPAM_FORBIDDEN_CHANNEL_TYPES } from '../channel/channel.ts';
import { isOpen, type SessionState } from './session.ts';

export type SessionEvent =
  /** `accepted: false` reserves the session for the operator until they accept (or the offer times out). */
  | { type: 'assignOperator'; operatorId: string; accepted?: boolean }
  /** The operator takes the session: a reservation of theirs, or a Waiting session offered to them. */
  | { type: 'accept'; operatorId: string }
  | { type: 'assignBot'; botId: string }
  | { type: 'assignGroup'; groupId: string }
  | { type: 'enqueue' }
  /** `reason` (optional) is kept in the history, e.g. why a client's messenger ended the chat. */
  | { type: 'close'; by: ActorRef; reason?: string }
  | { type: 'markAsSpam'; by: ActorRef }
  | { type: 'unmarkAsSpam' };

export type SessionEventType = SessionEvent['type'];

/** The part of a session the machine reads and may change. */
export interface SessionSnapshot {
  state: SessionState;
  operatorId: string | null;
  operatorGroupId: string | null;
  botId: string | null;
  operatorAssignedAt: Date | null;
  closedAt: Date | null;
  closedBy: ActorRef | null;
  acceptedAt: Date | null;
  previousOperatorId: string | null;
  firstAssignedAt: Date | null;
  queuedAt: Date | null;
  offeredTo: string[];
  /** When the router last offered the session or told the line nobody took it, in this stay in the queue. */
  offeredAt: Date | null;
}

export interface TransitionContext {
  channelType: ChannelType;
  /** Whether the session is the newest of its client's chain in its channel. */
  isLastInChain: boolean;
  now: Date;
}

/** 409: the event is not allowed from the session's current state (or for its channel). */
export class InvalidTransition extends AppError {
  constructor(code: CodeOf<409>, message: string, from: SessionState, event: SessionEventType) {
    super(code, message, { from, event });
  }
}

export interface TransitionResult {
  state: SessionState;
  /** Fields to write, the new state included. Empty apart from state when nothing changes. */
  patch: Partial<SessionSnapshot>;
  /** False when the event leaves the session exactly as it was (idempotent repeats). */
  changed: boolean;
}

export function transition(
  session: SessionSnapshot,
  event: SessionEvent,
  ctx: TransitionContext,
): TransitionResult | InvalidTransition {
  const from = session.state;
  const refuse = (code: CodeOf<409>, message: string) =>
    new InvalidTransition(code, message, from, event.type);
  const closedRefusal = () =>
    from === 'MarkedAsSpam'
      ? refuse('SESSION_MARKED_AS_SPAM', 'the session is marked as spam; it never reopens')
      : refuse(
          'SESSION_CLOSED',
          'the session is closed; it never reopens (the client’s next message opens a new one)',
        );
  const to = (state: SessionState, patch: Partial<SessionSnapshot>): TransitionResult => {
    const full = { ...patch, state };
    const changed = Object.entries(full).some(([k, v]) => {
      const was = session[k as keyof SessionSnapshot];
      return Array.isArray(v) && Array.isArray(was) ? v.join() !== was.join() : was !== v;
    });
    return { state, patch: full, changed };
  };

  /** Leaving an operator remembers them (transfers keep the previous operator). */
  const leaving = (patch: Partial<SessionSnapshot>): Partial<SessionSnapshot> => ({
    ...patch,
    operatorId: null,
    acceptedAt: null,
    offeredTo: [],
    previousOperatorId: session.operatorId ?? session.previousOperatorId,
  });
  const toOperator = (operatorId: string, accepted: boolean) =>
    to('AssignedToOperator', {
      operatorId,
      botId: null,
      offeredTo: [],
      operatorAssignedAt: ctx.now,
      acceptedAt: accepted ? ctx.now : null,
      firstAssignedAt: session.firstAssignedAt ?? ctx.now,
      previousOperatorId:
        session.operatorId && session.operatorId !== operatorId
          ? session.operatorId
          : session.previousOperatorId,
    });

  switch (event.type) {
    case 'assignOperator': {
      if (!isOpen(from)) return closedRefusal();
      if (from === 'AssignedToOperator' && session.operatorId === event.operatorId) {
        return event.accepted !== false && !session.acceptedAt
          ? to(from, { acceptedAt: ctx.now })
          : to(from, {});
      }
      return toOperator(event.operatorId, event.accepted !== false);
    }
    case 'accept': {
      if (!isOpen(from)) return closedRefusal();
      if (from === 'AssignedToOperator') {
        if (session.operatorId !== event.operatorId) {
          return refuse('SESSION_ALREADY_ACCEPTED', 'another operator has the session');
        }
        return session.acceptedAt ? to(from, {}) : to(from, { acceptedAt: ctx.now });
      }
      if (from === 'AssignedToBot') return refuse('SESSION_WITH_BOT', 'a bot has the session');
      return toOperator(event.operatorId, true);
    }
    case 'assignBot':
      if (!isOpen(from)) return closedRefusal();
      if (from === 'AssignedToBot' && session.botId === event.botId) return to(from, {});
      return to('AssignedToBot', leaving({ botId: event.botId }));
    // Entering the queue starts a new stay: the router offers it, or tells the line nobody took it, afresh.
    case 'assignGroup':
      if (!isOpen(from)) return closedRefusal();
      return to(
        'Waiting',
        leaving({ operatorGroupId: event.groupId, botId: null, queuedAt: ctx.now, offeredAt: null }),
      );
    case 'enqueue':
      if (!isOpen(from)) return closedRefusal();
      if (from === 'Waiting') return to(from, {});
      return to('Waiting', leaving({ botId: null, queuedAt: ctx.now, offeredAt: null }));
    case 'close':
      if (!isOpen(from)) {
        return from === 'Closed'
          ? refuse('SESSION_ALREADY_CLOSED', 'the session is already closed')
          : closedRefusal();
      }
      return to('Closed', { closedAt: ctx.now, closedBy: event.by, offeredTo: [] });
    case 'markAsSpam':
      if (SPAM_FORBIDDEN_CHANNEL_TYPES.includes(ctx.channelType)) {
        return refuse(
          'SPAM_NOT_ALLOWED_FOR_CHANNEL_TYPE',
          `sessions of ${ctx.channelType} channels cannot be marked as spam`,
        );
      }
      if (from === 'MarkedAsSpam')
        return refuse('SESSION_ALREADY_SPAM', 'the session is already marked as spam');
      return to('MarkedAsSpam', {
        closedAt: session.closedAt ?? ctx.now,
        closedBy: session.closedBy ?? event.by,
      });
    case 'unmarkAsSpam':
      if (from !== 'MarkedAsSpam') return refuse('SESSION_NOT_SPAM', 'the session is not marked as spam');
      if (!ctx.isLastInChain && ctx.channelType !== 'inbox') {
        return refuse(
          'UNMARK_SPAM_NOT_LAST_IN_CHAIN',
          'only the last session of the client’s chain (or any session of an inbox channel) can leave spam',
        );
      }
      return to('Closed', {});
  }
}
