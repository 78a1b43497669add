import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { hot, rowShape } from '../../db/hot-sql.ts';
import { channels, sessions } from '../../db/schema.ts';

export type ChannelRow = typeof channels.$inferSelect;

const CH = rowShape<ChannelRow>(channels);
const OPEN_STATES = ['Waiting', 'AssignedToBot', 'AssignedToOperator'];
const BY_ID = `SELECT ${CH.columns} FROM channels WHERE id = $1 AND deleted_at IS NULL`;
const BY_ID_LOCKED = `${BY_ID} FOR NO KEY UPDATE`;

export const channelRepository = {
  async byId(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<ChannelRow | undefined> {
    const [row] = await hot(db)(opts.forUpdate ? BY_ID_LOCKED : BY_ID, [id]);
    return row && CH.map(row);
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

  /** The open sessions (Waiting, with a bot or an operator) of a channel. */
  async openSessionIds(db: Db, channelId: string): Promise<string[]> {
    const rows = await db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.channelId, channelId), inArray(sessions.state, OPEN_STATES)));
    return rows.map((r) => r.id);
  },

  /** The live channels of a line. */
  async liveOfLine(db: Db, lineId: string): Promise<ChannelRow[]> {
    return db
      .select()
      .from(channels)
      .where(and(eq(channels.lineId, lineId), isNull(channels.deletedAt)));
  },

  async activeOfTypes(db: Db, types: string[]): Promise<ChannelRow[]> {
    if (types.length === 0) return [];
    return db
      .select()
      .from(channels)
      .where(and(inArray(channels.type, types), eq(channels.state, 'active'), isNull(channels.deletedAt)));
  },
};
