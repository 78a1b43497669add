/**
 * The common case of Receive in ONE statement: a known client writing into their open session
 * (Waiting or with an operator) with a text message. De-duplication, the message, the session's
 * counters and timers and the domain event are written together in a single autocommit round trip
 * (a prepared statement on a server). Anything else — a new client, no open session, a bot session,
 * attachments — goes the general way in a transaction.
 *
 * The session row is locked (FOR UPDATE) before the insert: a session closed concurrently is
 * re-checked and drops out, so a message never lands in a closed session.
 */
import type { RawQuery } from '../db/client.ts';

export const FAST_PATH_SQL = `
WITH c AS (
  SELECT id, online FROM clients
  WHERE channel_id = $1::uuid AND external_id = $2::text AND deleted_at IS NULL
),
s AS (
  SELECT sessions.id, sessions.line_id FROM sessions, c
  WHERE sessions.client_id = c.id AND sessions.channel_id = $1::uuid
    AND sessions.state IN ('Waiting', 'AssignedToOperator')
  FOR UPDATE OF sessions
),
m AS (
  INSERT INTO messages (session_id, channel_id, direction, type, text, attachments, sender_type, sender_id,
                        external_id, status, created_at, updated_at)
  SELECT s.id, $1::uuid, 'incoming', $3::text, $4::text, '[]'::jsonb, 'client', c.id::text, $5::text, 'delivered', $6::timestamptz, $6::timestamptz FROM s, c
  ON CONFLICT (channel_id, direction, external_id) WHERE external_id IS NOT NULL DO NOTHING
  RETURNING id, session_id
),
u AS (
  UPDATE sessions SET last_message_at = $6::timestamptz, last_client_message_at = $6::timestamptz,
    unread_by_operator = unread_by_operator + 1,
    awaiting_answer_since = COALESCE(awaiting_answer_since, $6::timestamptz), updated_at = $6::timestamptz
  FROM m WHERE sessions.id = m.session_id
  RETURNING sessions.id
),
e AS (
  INSERT INTO domain_events (name, aggregate_id, payload)
  SELECT 'message.created', m.id, jsonb_build_object('messageId', m.id, 'sessionId', m.session_id,
    'lineId', s.line_id, 'direction', 'incoming', 'senderType', 'client')
  FROM m, s
  RETURNING id, payload, created_at
)
SELECT (SELECT id FROM c) AS client_id, (SELECT online FROM c) AS client_online,
       (SELECT id FROM s) AS session_id, (SELECT id FROM m) AS message_id,
       (SELECT id FROM e) AS event_id, (SELECT payload FROM e) AS event_payload, (SELECT created_at FROM e) AS event_at,
       (SELECT count(*) FROM u) AS updated`;

export interface FastPathRow {
  client_id: string | null;
  client_online: boolean | null;
  session_id: string | null;
  message_id: string | null;
  event_id: string | number | null;
  event_payload: unknown;
  event_at: Date | string | null;
}

export type FastPathResult =
  /** Stored; the event is to be published. */
  | {
      kind: 'stored';
      clientId: string;
      clientOnline: boolean;
      event: { id: number; payload: Record<string, unknown>; createdAt: Date };
    }
  /** The message was stored before. */
  | { kind: 'duplicate' }
  /** Not the common case: take the general path (the client id is passed on when known). */
  | { kind: 'general'; clientId: string | null; clientOnline: boolean | null };

export async function tryFastPath(
  raw: RawQuery,
  m: {
    channelId: string;
    externalUserId: string;
    type: string;
    text: string | null;
    externalMessageId: string;
    at: Date;
  },
): Promise<FastPathResult> {
  const [row] = await raw<FastPathRow>(FAST_PATH_SQL, [
    m.channelId,
    m.externalUserId,
    m.type,
    m.text,
    m.externalMessageId,
    m.at.toISOString(),
  ]);
  if (!row?.client_id || !row.session_id) {
    return { kind: 'general', clientId: row?.client_id ?? null, clientOnline: row?.client_online ?? null };
  }
  if (!row.message_id) return { kind: 'duplicate' };
  const payload = typeof row.event_payload === 'string' ? JSON.parse(row.event_payload) : row.event_payload;
  return {
    kind: 'stored',
    clientId: row.client_id,
    clientOnline: !!row.client_online,
    event: {
      id: Number(row.event_id),
      payload: payload as Record<string, unknown>,
      createdAt: new Date(row.event_at!),
    },
  };
}
