import { type ActorRef, sessions } from '../../db/schema.ts';
import type { EntitySearchSpec } from '../search/filter.ts';
import type { SessionHistoryRow, SessionRow } from './session.repository.ts';
import { type Priority, priorityName, SESSION_STATES, type SessionState } from './session.ts';

export interface SessionView {
  id: string;
  lineId: string;
  channelId: string;
  clientIds: string[];
  state: SessionState;
  markedAsSpam: boolean;
  priority: Priority;
  operatorId: string | null;
  operatorGroupId: string | null;
  botId: string | null;
  previousSessionId: string | null;
  /** What the conversation is about (an e-mail thread's subject); null where the messenger names nothing. */
  title: string | null;
  startedAt: string;
  operatorAssignedAt: string | null;
  firstAnswerAt: string | null;
  lastMessageAt: string | null;
  closedAt: string | null;
  closedBy: ActorRef | null;
  /** Client messages the operator has not read. */
  unreadClientMessageCount: number;
  /** Operator messages the client has not read. */
  unreadOperatorMessageCount: number;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function sessionView(r: SessionRow): SessionView {
  const state = r.state as SessionState;
  return {
    id: r.id,
    lineId: r.lineId,
    channelId: r.channelId,
    clientIds: r.clientIds,
    state,
    markedAsSpam: state === 'MarkedAsSpam',
    priority: priorityName(r.priority),
    operatorId: r.operatorId,
    operatorGroupId: r.operatorGroupId,
    botId: r.botId,
    previousSessionId: r.previousSessionId,
    title: r.title,
    startedAt: r.startedAt.toISOString(),
    operatorAssignedAt: iso(r.operatorAssignedAt),
    firstAnswerAt: iso(r.firstAnswerAt),
    lastMessageAt: iso(r.lastMessageAt),
    closedAt: iso(r.closedAt),
    closedBy: r.closedBy,
    unreadClientMessageCount: r.unreadByOperator,
    unreadOperatorMessageCount: r.unreadByClient,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    deletedAt: iso(r.deletedAt),
  };
}

export function historyView(h: SessionHistoryRow) {
  return {
    id: h.id,
    event: h.event,
    fromState: h.fromState,
    toState: h.toState,
    actor: h.actor,
    details: h.details,
    at: h.createdAt.toISOString(),
  };
}

export const sessionSearch: EntitySearchSpec = {
  fields: {
    id: { column: sessions.id, kind: 'uuid', sortable: true },
    lineId: { column: sessions.lineId, kind: 'uuid' },
    channelId: { column: sessions.channelId, kind: 'uuid' },
    clientIds: { column: sessions.clientIds, kind: 'uuidArray' },
    state: { column: sessions.state, kind: 'enum', values: SESSION_STATES, sortable: true },
    priority: { column: sessions.priority, kind: 'priority', sortable: true },
    operatorId: { column: sessions.operatorId, kind: 'uuid' },
    operatorGroupId: { column: sessions.operatorGroupId, kind: 'uuid' },
    botId: { column: sessions.botId, kind: 'uuid' },
    previousSessionId: { column: sessions.previousSessionId, kind: 'uuid' },
    startedAt: { column: sessions.startedAt, kind: 'timestamp', sortable: true },
    operatorAssignedAt: { column: sessions.operatorAssignedAt, kind: 'timestamp', sortable: true },
    firstAnswerAt: { column: sessions.firstAnswerAt, kind: 'timestamp', sortable: true },
    lastMessageAt: { column: sessions.lastMessageAt, kind: 'timestamp', sortable: true },
    closedAt: { column: sessions.closedAt, kind: 'timestamp', sortable: true },
    unreadClientMessageCount: { column: sessions.unreadByOperator, kind: 'int', sortable: true },
    createdAt: { column: sessions.createdAt, kind: 'timestamp', sortable: true },
    updatedAt: { column: sessions.updatedAt, kind: 'timestamp', sortable: true },
    deletedAt: { column: sessions.deletedAt, kind: 'timestamp', sortable: true },
  },
  aliases: {
    clients: 'clientIds',
    channel: 'channelId',
    line: 'lineId',
    operator: 'operatorId',
    bot: 'botId',
  },
  defaultSort: [{ field: 'startedAt', dir: 'desc' }],
  tieBreaker: sessions.id,
  deletedField: 'deletedAt',
};
