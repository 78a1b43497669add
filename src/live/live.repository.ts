/** Reads for live events: the workspace view of a session, and who should hear about it. */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { messages, sessions } from '../db/schema.ts';
import type { MessageRow } from '../domain/message/message.repository.ts';

export const liveRepository = {
  /** A message with who follows its session: the operator, or the operators it is offered to. */
  async messageWithFollowers(
    db: Db,
    messageId: string,
  ): Promise<{ message: MessageRow; followers: string[] } | undefined> {
    const [row] = await db
      .select({ message: messages, operatorId: sessions.operatorId, offeredTo: sessions.offeredTo })
      .from(messages)
      .innerJoin(sessions, eq(sessions.id, messages.sessionId))
      .where(eq(messages.id, messageId));
    if (!row) return undefined;
    return { message: row.message, followers: row.operatorId ? [row.operatorId] : row.offeredTo };
  },

  /** The supervisors who serve a line (directly or through a group). */
  async lineSupervisors(db: Db, lineId: string): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`SELECT u.id FROM users u
          WHERE u.role = 'supervisor' AND u.deleted_at IS NULL AND u.id IN (
            SELECT user_id FROM line_operators WHERE line_id = ${lineId}
            UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
              WHERE lg.line_id = ${lineId})`,
    );
    return rows.map((r) => r.id);
  },

  /**
   * Whether the operator now given a Waiting session (by `event`: assignOperator or accept) takes it
   * from a bot: in the session's history, the entry that last gave the session to someone before
   * this one gave it to a bot (an operator's reservation that was never accepted does not count).
   * This assignment's entry is the newest one giving the session to this operator by this event.
   */
  async cameFromBot(db: Db, sessionId: string, event: string, operatorId: string): Promise<boolean> {
    const rows = await queryRows<{ to_state: string }>(
      db,
      sql`WITH mine AS (
            SELECT id FROM session_history
            WHERE session_id = ${sessionId} AND to_state = 'AssignedToOperator' AND event = ${event}
              AND details->>'operatorId' = ${operatorId}
            ORDER BY id DESC LIMIT 1)
          SELECT h.to_state FROM session_history h, mine
          WHERE h.session_id = ${sessionId} AND h.id < mine.id
            AND (h.to_state = 'AssignedToBot'
              OR (h.to_state = 'AssignedToOperator' AND COALESCE(h.details->>'accepted', 'true') <> 'false'))
          ORDER BY h.id DESC LIMIT 1`,
    );
    return rows[0]?.to_state === 'AssignedToBot';
  },

  /** Operators and supervisors who serve a line (directly or through a group). */
  async lineStaff(db: Db, lineId: string): Promise<string[]> {
    const rows = await queryRows<{ user_id: string }>(
      db,
      sql`SELECT user_id FROM line_operators WHERE line_id = ${lineId}
          UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id WHERE lg.line_id = ${lineId}`,
    );
    return rows.map((r) => r.user_id);
  },
};
