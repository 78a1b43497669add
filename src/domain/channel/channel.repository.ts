import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { channels } from '../../db/schema.ts';

export type ChannelRow = typeof channels.$inferSelect;

export const channelRepository = {
  async byId(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<ChannelRow | undefined> {
    const q = db
      .select()
      .from(channels)
      .where(and(eq(channels.id, id), isNull(channels.deletedAt)));
    const [row] = opts.forUpdate ? await q.for('no key update') : await q;
    return row;
  },

  async insert(db: Db, values: typeof channels.$inferInsert): Promise<ChannelRow> {
    const [row] = await db.insert(channels).values(values).returning();
    return row!;
  },

  async update(db: Db, id: string, patch: Partial<typeof channels.$inferInsert>): Promise<ChannelRow> {
    const [row] = await db
      .update(channels)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(channels.id, id))
      .returning();
    return row!;
  },

  async activeOfTypes(db: Db, types: string[]): Promise<ChannelRow[]> {
    if (types.length === 0) return [];
    return db
      .select()
      .from(channels)
      .where(and(inArray(channels.type, types), eq(channels.state, 'active'), isNull(channels.deletedAt)));
  },
};
