import { eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { files } from '../db/schema.ts';

export type FileRow = typeof files.$inferSelect;

export const fileRepository = {
  async insert(db: Db, values: typeof files.$inferInsert): Promise<FileRow> {
    const [row] = await db.insert(files).values(values).returning();
    return row!;
  },

  async byId(db: Db, id: string): Promise<FileRow | undefined> {
    const [row] = await db.select().from(files).where(eq(files.id, id));
    return row;
  },

  async byIds(db: Db, ids: string[]): Promise<FileRow[]> {
    return ids.length ? db.select().from(files).where(inArray(files.id, ids)) : [];
  },

  async attachToSession(db: Db, ids: string[], sessionId: string): Promise<void> {
    if (ids.length) await db.update(files).set({ sessionId }).where(inArray(files.id, ids));
  },
};
