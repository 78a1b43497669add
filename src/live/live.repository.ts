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
