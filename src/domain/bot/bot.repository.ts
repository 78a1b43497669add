import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { bots } from '../../db/schema.ts';

export type BotRow = typeof bots.$inferSelect;

export const botRepository = {
  async byId(db: Db, id: string): Promise<BotRow | undefined> {
    const [row] = await db
      .select()
      .from(bots)
      .where(and(eq(bots.id, id), isNull(bots.deletedAt)));
    return row;
  },

  async insert(db: Db, values: typeof bots.$inferInsert): Promise<BotRow> {
    const [row] = await db.insert(bots).values(values).returning();
    return row!;
  },

  async update(db: Db, id: string, patch: Partial<typeof bots.$inferInsert>): Promise<BotRow | undefined> {
    const [row] = await db
      .update(bots)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(bots.id, id), isNull(bots.deletedAt)))
      .returning();
    return row;
  },
};
