/**
 * The batched recipe of recordMessage (record-message.ts) for the common case of Receive, in ONE
 * statement: a known client writing into their open session
 * (Waiting or with an operator) with a text message. De-duplication, the message, the session's
 * counters and timers and the domain event are written together in a single autocommit round trip
 * (a prepared statement on a server). The counter rule (`countIncomingFrom`), the events insert
 * (`domainEventRepository.insertSelect`) and the payload (`messageCreatedPayloadSql`) are the ones the
 * general path uses, not copies. Anything else — a new client, a client marked unreachable (writing makes
 * them reachable again), no open session, a bot session, attachments — goes the general way in a
 * transaction.
 *
 * Group commit: messages arriving while earlier statements are in flight are queued and written
 * together by the next statement (a JSON array in, one row out per message), so under load the database
 * parses, plans and commits once per batch instead of once per message; alone, a message is sent at
 * once. Each message's outcome is its own: if a batch fails as a whole, its messages are retried one
 * by one, so one bad message never fails another's acknowledgement.
 *
 * The open sessions are locked (FOR NO KEY UPDATE, one by one in id order, so concurrent batches never
 * deadlock) before the insert: a session closed concurrently is re-checked and drops out, so a message never
 * lands in a closed session. Clients and sessions are sought by index, one input row at a time (a
 * LATERAL ... LIMIT 1 keeps the planner from hashing a whole table for a batch of one); the counters
 * of a session written to twice in one batch add up.
 */
import type { Db } from '../../db/client.ts';
import { hot } from '../../db/hot-sql.ts';
import { domainEventRepository } from '../events/domain-event.repository.ts';
import type { DomainEvent } from '../events/domain-events.ts';
import { countIncomingFrom } from '../session/session.repository.ts';
import { messageCreatedPayload, messageCreatedPayloadSql } from './message.events.ts';
import type { MessageRow } from './message.repository.ts';

export const FAST_PATH_SQL = `
WITH i AS (
  SELECT * FROM jsonb_to_recordset($1::text::jsonb)
    AS i(ord int, channel_id uuid, external_user_id text, type text, text text, external_id text, at timestamptz)
),
c AS (
  SELECT i.ord, i.channel_id, k.id AS client_id, k.online
  FROM i CROSS JOIN LATERAL (
    SELECT id, online FROM clients
    WHERE clients.channel_id = i.channel_id AND clients.external_id = i.external_user_id
      AND clients.deleted_at IS NULL AND NOT clients.unreachable
    LIMIT 1
  ) k
),
open AS (
  SELECT DISTINCT x.id FROM c CROSS JOIN LATERAL (
    SELECT id FROM sessions
    WHERE sessions.client_id = c.client_id AND sessions.channel_id = c.channel_id
      AND sessions.state IN ('Waiting', 'AssignedToOperator')
    LIMIT 1
  ) x
  ORDER BY x.id
),
s AS (
  SELECT y.* FROM open CROSS JOIN LATERAL (
    SELECT sessions.id, sessions.client_id, sessions.channel_id, sessions.line_id, sessions.operator_id,
           sessions.offered_to
    FROM sessions
    WHERE sessions.id = open.id AND sessions.state IN ('Waiting', 'AssignedToOperator')
    FOR NO KEY UPDATE
  ) y
),
m AS (
  INSERT INTO messages (session_id, channel_id, direction, type, text, attachments, sender_type, sender_id,
                        external_id, status, created_at, updated_at)
  SELECT s.id, i.channel_id, 'incoming', i.type, i.text, '[]'::jsonb, 'client', c.client_id::text,
         i.external_id, 'delivered', i.at, i.at
  FROM i JOIN c ON c.ord = i.ord JOIN s ON s.client_id = c.client_id AND s.channel_id = c.channel_id
  ORDER BY i.ord
  ON CONFLICT (channel_id, direction, external_id) WHERE external_id IS NOT NULL DO NOTHING
  RETURNING id, seq, session_id, channel_id, external_id, created_at
),
u AS (
  ${countIncomingFrom(`(SELECT session_id, count(*)::int AS n, min(created_at) AS first_at, max(created_at) AS last_at
        FROM m GROUP BY session_id)`)}
),
e AS (
  ${domainEventRepository.insertSelect(`SELECT 'message.created', m.id, ${messageCreatedPayloadSql(
    { id: 'm.id', sessionId: 'm.session_id', direction: "'incoming'", senderType: "'client'" },
    's.line_id',
  )}
  FROM m JOIN s ON s.id = m.session_id
  ORDER BY m.seq`)}
)
SELECT i.ord, c.client_id, c.online AS client_online,
       s.id AS session_id, s.line_id, s.operator_id, s.offered_to,
       m.id AS message_id, m.seq AS message_seq, e.id AS event_id, e.created_at AS event_at
FROM i
LEFT JOIN c ON c.ord = i.ord
LEFT JOIN s ON s.client_id = c.client_id AND s.channel_id = c.channel_id
LEFT JOIN m ON m.channel_id = i.channel_id AND m.external_id = i.external_id
LEFT JOIN e ON e.aggregate_id = m.id
ORDER BY i.ord`;

interface FastPathRow {
  ord: number;
  client_id: string | null;
  client_online: boolean | null;
  session_id: string | null;
  line_id: string | null;
  operator_id: string | null;
  offered_to: string[] | null;
  message_id: string | null;
  message_seq: string | number | null;
  event_id: string | number | null;
  event_at: Date | string | null;
}

export interface FastPathMessage {
  channelId: string;
  externalUserId: string;
  type: string;
  text: string | null;
  externalMessageId: string;
  at: Date;
}

export type FastPathResult =
  /** Stored; the event is to be published. */
  | { kind: 'stored'; clientId: string; clientOnline: boolean; event: DomainEvent<'message.created'> }
  /** The message was stored before. */
  | { kind: 'duplicate' }
  /** Not the common case: take the general path (the client id is passed on when known). */
  | { kind: 'general'; clientId: string | null };

/** Writes a batch of messages in one statement; one result per message, in order. */
export async function insertMessageBatch(db: Db, batch: FastPathMessage[]): Promise<FastPathResult[]> {
  // One JSON parameter carries the batch: the same text on every driver, and one prepared plan.
  const input = batch.map((m, i) => ({
    ord: i + 1,
    channel_id: m.channelId,
    external_user_id: m.externalUserId,
    type: m.type,
    text: m.text,
    external_id: m.externalMessageId,
    at: m.at.toISOString(),
  }));
  const rows = await hot(db)<FastPathRow>(FAST_PATH_SQL, [JSON.stringify(input)]);
  const claimed = new Set<string>();
  const results: FastPathResult[] = batch.map(() => ({
    kind: 'general',
    clientId: null,
  }));
  for (const row of rows) {
    const index = row.ord - 1;
    const m = batch[index]!;
    if (!row.client_id || !row.session_id) {
      results[index] = { kind: 'general', clientId: row.client_id };
    } else if (!row.message_id || claimed.has(row.message_id)) {
      // Stored before, or by an earlier copy in this very batch.
      results[index] = { kind: 'duplicate' };
    } else {
      claimed.add(row.message_id);
      results[index] = stored(m, row);
    }
  }
  return results;
}

function stored(m: FastPathMessage, row: FastPathRow): FastPathResult {
  const messageId = row.message_id!;
  const sessionId = row.session_id!;
  // The whole stored row is known here: the notifier needs no read to tell operators.
  const message: MessageRow = {
    id: messageId,
    createdAt: m.at,
    updatedAt: m.at,
    deletedAt: null,
    seq: Number(row.message_seq),
    sessionId,
    channelId: m.channelId,
    direction: 'incoming',
    type: m.type,
    text: m.text,
    attachments: [],
    senderType: 'client',
    senderId: row.client_id,
    externalId: m.externalMessageId,
    status: 'delivered',
    error: null,
    editedAt: null,
    readAt: null,
  };
  return {
    kind: 'stored',
    clientId: row.client_id!,
    clientOnline: !!row.client_online,
    event: {
      id: Number(row.event_id),
      name: 'message.created',
      payload: messageCreatedPayload(message, row.line_id!),
      createdAt: new Date(row.event_at!),
      view: { message, followers: row.operator_id ? [row.operator_id] : (row.offered_to ?? []) },
    },
  };
}
