/** Builds the workspace view of a session: the data of chatSessionStarted and friends. */
import { channelRepository } from '../domain/channel/channel.repository.ts';
import { clientRepository } from '../domain/client/client.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { messageRepository } from '../domain/message/message.repository.ts';
import { messageView } from '../domain/message/message.service.ts';
import { type SessionRow, sessionRepository } from '../domain/session/session.repository.ts';
import { userRepository } from '../domain/user/user.repository.ts';
import { liveRepository } from './live.repository.ts';
import type { ChatSession } from './operator-events.ts';

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const seconds = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));

function botStatus(s: SessionRow): string | null {
  if (s.state === 'AssignedToBot') return 'BOT';
  if (s.state !== 'Waiting') return null;
  return s.offeredTo.length > 0 ? 'OFFERED' : 'HELP';
}

export async function chatSession(deps: Deps, sessionId: string): Promise<ChatSession | null> {
  const db = deps.db;
  const s = await sessionRepository.byId(db, sessionId);
  if (!s) return null;
  const [client, channel, last, lastOperator, previous] = await Promise.all([
    clientRepository.byId(db, s.clientId),
    channelRepository.byId(db, s.channelId),
    messageRepository.last(db, s.id),
    liveRepository.lastOperatorMessage(db, s.id),
    s.previousOperatorId ? userRepository.byId(db, s.previousOperatorId) : undefined,
  ]);
  const firstAfter = lastOperator
    ? await liveRepository.firstClientMessageAfter(db, s.id, lastOperator.seq)
    : undefined;
  const now = deps.clock.now();
  const name =
    [client?.firstName, client?.lastName].filter(Boolean).join(' ') ||
    client?.username ||
    client?.externalId ||
    '';
  return {
    id: s.id,
    chatId: s.id,
    clientId: s.clientId,
    name,
    markedAsSpam: s.state === 'MarkedAsSpam',
    operatorId: s.operatorId ?? s.botId,
    operatorType: s.botId && s.state === 'AssignedToBot' ? 'bot' : 'operator',
    channel: channel?.type ?? '',
    botStatus: botStatus(s),
    status: s.state,
    startedAt: s.startedAt.toISOString(),
    clientOnlineAt: client?.online ? iso(client.lastSeenAt) : null,
    clientOfflineAt: client && !client.online ? iso(client.lastSeenAt) : null,
    lastMessageCreatedAt: iso(s.lastMessageAt),
    lastMessage: last ? messageView(last) : null,
    clientExternalId: client?.externalId ?? null,
    clientBanned: client?.banned ?? null,
    clientIp: null,
    coordinates: null,
    unreadClientMessageCount: s.unreadByOperator,
    unreadClientMessageExists: s.unreadByOperator > 0,
    messengerType: channel?.type ?? null,
    whatsappPhone: channel?.type === 'whatsapp' ? (client?.phone ?? client?.externalId ?? null) : null,
    timerFirstAnswer: seconds(s.startedAt, s.firstAnswerAt ?? now),
    timerNextAnswers: s.awaitingAnswerSince ? seconds(s.awaitingAnswerSince, now) : 0,
    lastOperatorMessage: lastOperator ? messageView(lastOperator) : null,
    firstClientMessageAfterLastOperatorMessage: firstAfter ? messageView(firstAfter) : null,
    operatorAssignedAt: iso(s.operatorAssignedAt),
    previousOperator: previous ? { id: previous.id, name: previous.name } : null,
  };
}
