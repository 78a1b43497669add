/**
 * Who may see what, as SQL predicates added to every query of a caller (never filtered in memory).
 * A caller's lines are the lines they serve directly or through one of their groups.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { queryRows } from '../../db/client.ts';
import { type channels, clients, contacts, sessions, users } from '../../db/schema.ts';
import type { Caller } from '../user/user.ts';

/** SQL subquery: the ids of the lines a user serves. */
export function linesOfUser(userId: string): SQL {
  return sql`(SELECT lo.line_id FROM line_operators lo WHERE lo.user_id = ${userId}
    UNION SELECT lg.line_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
    WHERE gm.user_id = ${userId})`;
}

export async function lineIdsOfUser(db: Db, userId: string): Promise<string[]> {
  const rows = await queryRows<{ line_id: string }>(
    db,
    sql`SELECT line_id FROM ${linesOfUser(userId)} AS l(line_id)`,
  );
  return rows.map((r) => r.line_id);
}

/** Lines (by a line-id column) the caller may see. */
export function lineScope(caller: Caller, lineIdColumn: SQL | typeof channels.lineId): SQL {
  if (caller.role === 'admin') return sql`TRUE`;
  return sql`${lineIdColumn} IN ${linesOfUser(caller.id)}`;
}

/**
 * Sessions the caller may see: admins all; supervisors those of their lines and their own;
 * operators their own and the queue (Waiting) of their lines.
 */
export function sessionScope(caller: Caller): SQL {
  switch (caller.role) {
    case 'admin':
      return sql`TRUE`;
    case 'supervisor':
      return sql`(${sessions.operatorId} = ${caller.id} OR ${sessions.lineId} IN ${linesOfUser(caller.id)})`;
    case 'operator':
      return sql`(${sessions.operatorId} = ${caller.id} OR (${sessions.state} = 'Waiting' AND ${sessions.lineId} IN ${linesOfUser(caller.id)}))`;
    case 'bot':
      return sql`${sessions.botId} = ${caller.id}`;
  }
}

/** Clients of the channels of the caller's lines. */
export function clientScope(caller: Caller): SQL {
  if (caller.role === 'admin') return sql`TRUE`;
  return sql`${clients.channelId} IN (SELECT c.id FROM channels c WHERE c.line_id IN ${linesOfUser(caller.id)})`;
}

/**
 * Contacts the caller may see: admins all; others the contacts linked to a client they may see (a
 * client of a channel of their lines), and contacts no client links to yet (made by hand, to be
 * linked) — never a contact known only through another line's clients.
 */
export function contactScope(caller: Caller): SQL {
  if (caller.role === 'admin') return sql`TRUE`;
  const links = sql`SELECT 1 FROM clients cl WHERE cl.application_type = 'contact' AND cl.application_id = ${contacts.id}::text`;
  return sql`(EXISTS (${links} AND cl.channel_id IN (SELECT c.id FROM channels c WHERE c.line_id IN ${linesOfUser(caller.id)})) OR NOT EXISTS (${links}))`;
}

/**
 * Staff the caller may see: admins everyone; others themselves and the live staff of their lines
 * (serving one of them directly or through a group).
 */
export function staffScope(caller: Caller): SQL {
  if (caller.role === 'admin') return sql`TRUE`;
  const lines = linesOfUser(caller.id);
  return sql`${users.deletedAt} IS NULL AND (${users.id} = ${caller.id} OR ${users.id} IN (
    SELECT lo.user_id FROM line_operators lo WHERE lo.line_id IN ${lines}
    UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
    WHERE lg.line_id IN ${lines}))`;
}
