import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { hot, rowShape } from '../../db/hot-sql.ts';
import { lineGroups, lineOperators, lines, operatorGroups, sessions, users } from '../../db/schema.ts';

export type LineRow = typeof lines.$inferSelect;

const L = rowShape<LineRow>(lines);
const BY_ID = `SELECT ${L.columns} FROM lines WHERE id = $1`;
const BY_ID_LOCKED = `${BY_ID} FOR NO KEY UPDATE`;

export const lineRepository = {
  async byId(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<LineRow | undefined> {
    const [row] = await hot(db)(opts.forUpdate ? BY_ID_LOCKED : BY_ID, [id]);
    return row && L.map(row);
  },

  /** The open sessions (Waiting, with a bot or an operator) of a line. */
  async openSessionIds(db: Db, lineId: string): Promise<string[]> {
    const rows = await db
      .select({ id: sessions.id })
      .from(sessions)
      .where(
        and(
          eq(sessions.lineId, lineId),
          inArray(sessions.state, ['Waiting', 'AssignedToBot', 'AssignedToOperator']),
        ),
      );
    return rows.map((r) => r.id);
  },

  async insert(db: Db, values: typeof lines.$inferInsert): Promise<LineRow> {
    const [row] = await db.insert(lines).values(values).returning();
    return row!;
  },

  async update(db: Db, id: string, patch: Partial<typeof lines.$inferInsert>): Promise<LineRow | undefined> {
    const [row] = await db
      .update(lines)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(lines.id, id), isNull(lines.deletedAt)))
      .returning();
    return row;
  },

  async members(
    db: Db,
    lineIds: string[],
  ): Promise<Map<string, { operatorIds: string[]; groupIds: string[] }>> {
    const out = new Map(lineIds.map((id) => [id, { operatorIds: [] as string[], groupIds: [] as string[] }]));
    if (lineIds.length === 0) return out;
    const [ops, groups] = await Promise.all([
      db.select().from(lineOperators).where(inArray(lineOperators.lineId, lineIds)),
      db.select().from(lineGroups).where(inArray(lineGroups.lineId, lineIds)),
    ]);
    for (const o of ops) out.get(o.lineId)?.operatorIds.push(o.userId);
    for (const g of groups) out.get(g.lineId)?.groupIds.push(g.groupId);
    return out;
  },

  async setOperators(db: Db, lineId: string, userIds: string[]): Promise<void> {
    await db.delete(lineOperators).where(eq(lineOperators.lineId, lineId));
    if (userIds.length) await db.insert(lineOperators).values(userIds.map((userId) => ({ lineId, userId })));
  },

  async setGroups(db: Db, lineId: string, groupIds: string[]): Promise<void> {
    await db.delete(lineGroups).where(eq(lineGroups.lineId, lineId));
    if (groupIds.length) await db.insert(lineGroups).values(groupIds.map((groupId) => ({ lineId, groupId })));
  },

  /** Of the given ids, those that are live staff users. */
  async existingUsers(db: Db, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db
      .select({ id: users.id })
      .from(users)
      .where(and(inArray(users.id, ids), isNull(users.deletedAt)));
    return new Set(rows.map((r) => r.id));
  },

  async existingGroups(db: Db, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db
      .select({ id: operatorGroups.id })
      .from(operatorGroups)
      .where(and(inArray(operatorGroups.id, ids), isNull(operatorGroups.deletedAt)));
    return new Set(rows.map((r) => r.id));
  },
};
