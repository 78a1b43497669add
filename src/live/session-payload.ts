/** Builds the workspace view of a session: the data of chatSessionStarted and friends. */
import { hot, rowShape } from '../db/hot-sql.ts';
import { clients, messages, sessions } from '../db/schema.ts';
import type { ClientRow } from '../domain/client/client.repository.ts';
import type { Deps } from '../domain/deps.ts';
import type { MessageRow } from '../domain/message/message.repository.ts';
import { messageView } from '../domain/message/message.service.ts';
import type { SessionRow } from '../domain/session/session.repository.ts';
import type { ChatSession, ClientCoordinates } from './operator-events.ts';

const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
const seconds = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));

function botStatus(s: SessionRow): string | null {
  if (s.state === 'AssignedToBot') return 'BOT';
  if (s.state !== 'Waiting') return null;
  return s.offeredTo.length > 0 ? 'OFFERED' : 'HELP';
}

const S = rowShape<SessionRow>(sessions, 's');
const M = rowShape<MessageRow>(messages);
const C = rowShape<ClientRow>(clients);
// Everything the view needs in one statement (this runs for every assignment): the session, its
// client, channel type, last message, last operator message and the client's first message after
// it, and the previous operator. Message reads follow messages_session_seq_idx (seq DESC NULLS LAST).
const VIEW_SELECT = `SELECT ${S.columns},
    (SELECT row_to_json(c) FROM clients c WHERE c.id = s.client_id) AS v_client,
    (SELECT ch.type FROM channels ch WHERE ch.id = s.channel_id) AS v_channel_type,
    (SELECT row_to_json(m) FROM messages m WHERE m.session_id = s.id AND m.deleted_at IS NULL
      AND m.type <> 'note' ORDER BY m.seq DESC NULLS LAST LIMIT 1) AS v_last,
    lo.message AS v_last_operator,
    (SELECT row_to_json(m) FROM messages m
      WHERE m.session_id = s.id AND m.direction = 'incoming' AND m.seq > (lo.message->>'seq')::bigint
      ORDER BY m.seq ASC NULLS FIRST LIMIT 1) AS v_first_after,
    (SELECT json_build_object('id', u.id, 'name', u.name) FROM users u WHERE u.id = s.previous_operator_id) AS v_previous,
    (SELECT json_build_object('page_url', v.page_url, 'referer', v.referer, 'ip', v.ip, 'coordinates', v.coordinates)
      FROM livechat_visitors v JOIN clients c ON c.id = s.client_id
      WHERE v.channel_id = s.channel_id AND v.external_id = c.external_id) AS v_visit
  FROM sessions s
  LEFT JOIN LATERAL (
    SELECT row_to_json(m) AS message FROM messages m
    WHERE m.session_id = s.id AND m.direction = 'outgoing' AND m.sender_type = 'operator' AND m.type <> 'note'
    ORDER BY m.seq DESC NULLS LAST LIMIT 1
  ) lo ON true`;
const VIEW = `${VIEW_SELECT} WHERE s.id = $1`;
// The same view for many sessions at once (the desk's lists): ids as a JSON array.
const VIEWS = `${VIEW_SELECT} WHERE s.id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)`;

type Json = Record<string, unknown> | null;

export async function chatSession(deps: Deps, sessionId: string): Promise<ChatSession | null> {
  const [row] = await hot(deps.db)<Record<string, unknown>>(VIEW, [sessionId]);
  return row ? toChatSession(deps, row) : null;
}

/** The views of many sessions in one statement, each with its row, in no particular order. */
export async function chatSessions(
  deps: Deps,
  sessionIds: string[],
): Promise<{ session: SessionRow; view: ChatSession }[]> {
  if (sessionIds.length === 0) return [];
  const rows = await hot(deps.db)<Record<string, unknown>>(VIEWS, [JSON.stringify(sessionIds)]);
  return rows.map((row) => ({ session: S.map(row), view: toChatSession(deps, row) }));
}

function toChatSession(deps: Deps, row: Record<string, unknown>): ChatSession {
  const s = S.map(row);
  const json = (key: string) => row[key] as Json;
  const client = json('v_client') ? C.map(json('v_client')!) : undefined;
  const channel = row.v_channel_type ? { type: row.v_channel_type as string } : undefined;
  const last = json('v_last') ? M.map(json('v_last')!) : undefined;
  const lastOperator = json('v_last_operator') ? M.map(json('v_last_operator')!) : undefined;
  const firstAfter = json('v_first_after') ? M.map(json('v_first_after')!) : undefined;
  const previous = json('v_previous') as { id: string; name: string } | null;
  // Where a live-chat visitor chats from (their last page load): the page, where they came from, the address.
  const visit = json('v_visit') as {
    page_url: string | null;
    referer: string | null;
    ip: string | null;
    coordinates: ClientCoordinates | null;
  } | null;
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
    ...(visit && { referer: visit.referer ?? visit.page_url ?? undefined, pageUrl: visit.page_url }),
    clientIp: visit?.ip ?? null,
    coordinates: visit?.coordinates ?? null,
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
