/**
 * What the operator workspace shows of a session, read in one statement for any number of sessions:
 * the session, its client, its channel's type, its last message, the last operator message and the
 * client's first message after it, and the previous operator. The live events map it to their
 * payload (live/session-payload.ts); a routing pass reads it for the sessions it assigns in its own
 * round trip, so the events of the assignments need no read of their own.
 */
import type { Db } from '../../db/client.ts';
import { hot, rowShape } from '../../db/hot-sql.ts';
import { clients, messages, sessions } from '../../db/schema.ts';
import type { ClientRow } from '../client/client.repository.ts';
import type { MessageRow } from '../message/message.repository.ts';
import type { SessionRow } from './session.repository.ts';

export interface SessionSnapshot {
  session: SessionRow;
  client: ClientRow | null;
  channelType: string | null;
  lastMessage: MessageRow | null;
  lastOperatorMessage: MessageRow | null;
  firstClientMessageAfter: MessageRow | null;
  previousOperator: { id: string; name: string } | null;
}

const S = rowShape<SessionRow>(sessions, 's');
const M = rowShape<MessageRow>(messages);
const C = rowShape<ClientRow>(clients);
// Message reads follow messages_session_seq_idx (seq DESC NULLS LAST).
const SNAPSHOTS = `SELECT ${S.columns},
    (SELECT row_to_json(c) FROM clients c WHERE c.id = s.client_id) AS v_client,
    (SELECT ch.type FROM channels ch WHERE ch.id = s.channel_id) AS v_channel_type,
    (SELECT row_to_json(m) FROM messages m WHERE m.session_id = s.id AND m.deleted_at IS NULL
      ORDER BY m.seq DESC NULLS LAST LIMIT 1) AS v_last,
    lo.message AS v_last_operator,
    (SELECT row_to_json(m) FROM messages m
      WHERE m.session_id = s.id AND m.direction = 'incoming' AND m.seq > (lo.message->>'seq')::bigint
      ORDER BY m.seq ASC NULLS FIRST LIMIT 1) AS v_first_after,
    (SELECT json_build_object('id', u.id, 'name', u.name) FROM users u WHERE u.id = s.previous_operator_id) AS v_previous
  FROM sessions s
  LEFT JOIN LATERAL (
    SELECT row_to_json(m) AS message FROM messages m
    WHERE m.session_id = s.id AND m.direction = 'outgoing' AND m.sender_type = 'operator'
    ORDER BY m.seq DESC NULLS LAST LIMIT 1
  ) lo ON true
  WHERE s.id = ANY($1::uuid[])`;

type Json = Record<string, unknown> | null;

/** The snapshots of these sessions, by id (a session that does not exist has none). */
export async function readSnapshots(db: Db, ids: string[]): Promise<Map<string, SessionSnapshot>> {
  const rows = await hot(db)<Record<string, unknown>>(SNAPSHOTS, [ids]);
  const out = new Map<string, SessionSnapshot>();
  for (const row of rows) {
    const json = (key: string) => row[key] as Json;
    const message = (key: string) => (json(key) ? M.map(json(key)!) : null);
    const session = S.map(row);
    out.set(session.id, {
      session,
      client: json('v_client') ? C.map(json('v_client')!) : null,
      channelType: (row.v_channel_type as string | null) ?? null,
      lastMessage: message('v_last'),
      lastOperatorMessage: message('v_last_operator'),
      firstClientMessageAfter: message('v_first_after'),
      previousOperator: json('v_previous') as { id: string; name: string } | null,
    });
  }
  return out;
}
