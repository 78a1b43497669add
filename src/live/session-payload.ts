/** Builds the workspace view of a session: the data of chatSessionStarted and friends. */
import type { Deps } from '../domain/deps.ts';
import { messageView } from '../domain/message/message.service.ts';
import type { SessionRow } from '../domain/session/session.repository.ts';
import { readSnapshots, type SessionSnapshot } from '../domain/session/session-snapshot.ts';
import type { ChatSession } from './operator-events.ts';

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const seconds = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));

function botStatus(s: SessionRow): string | null {
  if (s.state === 'AssignedToBot') return 'BOT';
  if (s.state !== 'Waiting') return null;
  return s.offeredTo.length > 0 ? 'OFFERED' : 'HELP';
}

/** Reads a session's snapshot and builds its view (null when there is no such session). */
export async function chatSession(deps: Deps, sessionId: string): Promise<ChatSession | null> {
  const snapshot = (await readSnapshots(deps.db, [sessionId])).get(sessionId);
  return snapshot ? chatSessionOf(snapshot, deps.clock.now()) : null;
}

/** A session's view from its snapshot; the answer timers run to `now`. */
export function chatSessionOf(snapshot: SessionSnapshot, now: Date): ChatSession {
  const { session: s, client } = snapshot;
  const channel = snapshot.channelType;
  const name =
    [client?.firstName, client?.lastName].filter(Boolean).join(' ') ||
    client?.username ||
    client?.externalId ||
    '';
  const view = (m: SessionSnapshot['lastMessage']) => (m ? messageView(m) : null);
  return {
    id: s.id,
    chatId: s.id,
    clientId: s.clientId,
    name,
    markedAsSpam: s.state === 'MarkedAsSpam',
    operatorId: s.operatorId ?? s.botId,
    operatorType: s.botId && s.state === 'AssignedToBot' ? 'bot' : 'operator',
    channel: channel ?? '',
    botStatus: botStatus(s),
    status: s.state,
    startedAt: s.startedAt.toISOString(),
    clientOnlineAt: client?.online ? iso(client.lastSeenAt) : null,
    clientOfflineAt: client && !client.online ? iso(client.lastSeenAt) : null,
    lastMessageCreatedAt: iso(s.lastMessageAt),
    lastMessage: view(snapshot.lastMessage),
    clientExternalId: client?.externalId ?? null,
    clientBanned: client?.banned ?? null,
    clientIp: null,
    coordinates: null,
    unreadClientMessageCount: s.unreadByOperator,
    unreadClientMessageExists: s.unreadByOperator > 0,
    messengerType: channel,
    whatsappPhone: channel === 'whatsapp' ? (client?.phone ?? client?.externalId ?? null) : null,
    timerFirstAnswer: seconds(s.startedAt, s.firstAnswerAt ?? now),
    timerNextAnswers: s.awaitingAnswerSince ? seconds(s.awaitingAnswerSince, now) : 0,
    lastOperatorMessage: view(snapshot.lastOperatorMessage),
    firstClientMessageAfterLastOperatorMessage: view(snapshot.firstClientMessageAfter),
    operatorAssignedAt: iso(s.operatorAssignedAt),
    previousOperator: snapshot.previousOperator
      ? { id: snapshot.previousOperator.id, name: snapshot.previousOperator.name }
      : null,
  };
}
