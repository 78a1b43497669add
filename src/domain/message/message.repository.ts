import { and, desc, eq, isNull, lt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { messages } from '../../db/schema.ts';

export type MessageRow = typeof messages.$inferSelect;

export const messageRepository = {
  async byId(db: Db, id: string): Promise<MessageRow | undefined> {
    const [row] = await db
      .select()
      .from(messages)
      .where(and(eq(messages.id, id), isNull(messages.deletedAt)));
    return row;
  },

  async insert(db: Db, values: typeof messages.$inferInsert): Promise<MessageRow> {
    const [row] = await db.insert(messages).values(values).returning();
    return row!;
  },

  /** A page of a session's messages, newest first, before a cursor (a message's seq). */
  async page(db: Db, sessionId: string, limit: number, beforeSeq: number | null): Promise<MessageRow[]> {
    return db
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.sessionId, sessionId),
          isNull(messages.deletedAt),
          beforeSeq === null ? undefined : lt(messages.seq, beforeSeq),
        ),
      )
      .orderBy(desc(messages.seq))
      .limit(limit);
  },

  async last(db: Db, sessionId: string): Promise<MessageRow | undefined> {
    const [row] = await messageRepository.page(db, sessionId, 1, null);
    return row;
  },
};
