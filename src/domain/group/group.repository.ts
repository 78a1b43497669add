import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { groupMembers, operatorGroups } from '../../db/schema.ts';

export type GroupRow = typeof operatorGroups.$inferSelect;

export const groupRepository = {
  async byId(db: Db, id: string): Promise<GroupRow | undefined> {
    const [row] = await db
      .select()
      .from(operatorGroups)
      .where(and(eq(operatorGroups.id, id), isNull(operatorGroups.deletedAt)));
    return row;
  },

  async insert(db: Db, name: string): Promise<GroupRow> {
    const [row] = await db.insert(operatorGroups).values({ name }).returning();
    return row!;
  },

  async update(
    db: Db,
    id: string,
    patch: Partial<typeof operatorGroups.$inferInsert>,
  ): Promise<GroupRow | undefined> {
    const [row] = await db
      .update(operatorGroups)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(operatorGroups.id, id), isNull(operatorGroups.deletedAt)))
      .returning();
    return row;
  },

  async memberIds(db: Db, groupIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map(groupIds.map((id) => [id, [] as string[]]));
    if (groupIds.length === 0) return out;
    const rows = await db.select().from(groupMembers).where(inArray(groupMembers.groupId, groupIds));
    for (const r of rows) out.get(r.groupId)?.push(r.userId);
    return out;
  },

  async setMembers(db: Db, groupId: string, userIds: string[]): Promise<void> {
    await db.delete(groupMembers).where(eq(groupMembers.groupId, groupId));
    if (userIds.length) await db.insert(groupMembers).values(userIds.map((userId) => ({ groupId, userId })));
  },
};
