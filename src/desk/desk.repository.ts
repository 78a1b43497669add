/** SQL of the operator desk's lists, canned replies and staff loads. */
import { and, eq, isNull, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { cannedReplies, sessions } from '../db/schema.ts';
import { linesOfUser, sessionScope } from '../domain/access/access.repository.ts';
import type { Caller } from '../domain/user/user.ts';

export type CannedReplyRow = typeof cannedReplies.$inferSelect;

/** How many sessions a desk list holds at most (the lists are for working, search finds the rest). */
export const DESK_LIST_LIMIT = 1000;

export const deskRepository = {
  /** Waiting sessions the caller may see, in the router's order: priority, then queued longest. */
  async queueIds(db: Db, caller: Caller): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`SELECT s.id FROM sessions s WHERE s.state = 'Waiting' AND s.deleted_at IS NULL
            AND ${scoped(caller)}
          ORDER BY s.priority DESC, s.queued_at ASC NULLS LAST, s.started_at ASC LIMIT ${DESK_LIST_LIMIT}`,
    );
    return rows.map((r) => r.id);
  },

  /** Sessions the caller closed or held when they closed, newest close first, since `since`. */
  async closedIds(db: Db, caller: Caller, since: Date): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`SELECT s.id FROM sessions s
          WHERE s.state IN ('Closed', 'MarkedAsSpam') AND s.closed_at >= ${since.toISOString()}
            AND s.deleted_at IS NULL
            AND ${caller.role === 'operator' ? sql`s.operator_id = ${caller.id}` : scoped(caller)}
          ORDER BY s.closed_at DESC LIMIT 100`,
    );
    return rows.map((r) => r.id);
  },

  /** The staff of the caller's lines (all staff for admins) with their status and load. */
  async staff(db: Db, caller: Caller, lineId: string | undefined) {
    const lineFilter = lineId
      ? sql`AND u.id IN (SELECT lo.user_id FROM line_operators lo WHERE lo.line_id = ${lineId}
          UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
          WHERE lg.line_id = ${lineId})`
      : sql``;
    const lines =
      caller.role === 'admin' ? sql`(SELECT id FROM lines WHERE deleted_at IS NULL)` : linesOfUser(caller.id);
    return queryRows<{
      id: string;
      name: string;
      role: string;
      status: string;
      open_sessions: number;
      max_sessions: number | null;
      line_capacity: number | null;
    }>(
      db,
      sql`SELECT u.id, u.name, u.role, u.status, u.open_sessions, u.max_sessions,
            (SELECT max(COALESCE((l.queue->>'maxSessionsPerOperator')::int, 5)) FROM lines l
              WHERE l.id IN (SELECT lo.line_id FROM line_operators lo WHERE lo.user_id = u.id
                UNION SELECT lg.line_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
                WHERE gm.user_id = u.id)) AS line_capacity
          FROM users u
          WHERE u.deleted_at IS NULL AND u.role IN ('operator', 'supervisor')
            AND u.id IN (SELECT lo.user_id FROM line_operators lo WHERE lo.line_id IN ${lines}
              UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
              WHERE lg.line_id IN ${lines})
            ${lineFilter}
          ORDER BY (u.status = 'online') DESC, u.name`,
    );
  },

  /** Canned replies the caller may use: their own and those of their lines. */
  async cannedFor(db: Db, caller: Caller): Promise<CannedReplyRow[]> {
    const lines =
      caller.role === 'admin' ? sql`TRUE` : sql`${cannedReplies.lineId} IN ${linesOfUser(caller.id)}`;
    return db
      .select()
      .from(cannedReplies)
      .where(
        and(
          isNull(cannedReplies.deletedAt),
          sql`(${cannedReplies.userId} = ${caller.id} OR (${cannedReplies.lineId} IS NOT NULL AND ${lines}))`,
        ),
      )
      .orderBy(cannedReplies.shortcut);
  },

  async cannedById(db: Db, id: string): Promise<CannedReplyRow | undefined> {
    const [row] = await db
      .select()
      .from(cannedReplies)
      .where(and(eq(cannedReplies.id, id), isNull(cannedReplies.deletedAt)));
    return row;
  },

  /** Inserts a canned reply; undefined when its shortcut is taken in the same scope. */
  async insertCanned(db: Db, values: typeof cannedReplies.$inferInsert): Promise<CannedReplyRow | undefined> {
    const [row] = await db.insert(cannedReplies).values(values).onConflictDoNothing().returning();
    return row;
  },

  /** Changes a live canned reply; throws a unique violation when the new shortcut is taken in its scope. */
  async updateCanned(
    db: Db,
    id: string,
    values: Partial<Pick<CannedReplyRow, 'shortcut' | 'text' | 'updatedAt'>>,
  ): Promise<CannedReplyRow | undefined> {
    const [row] = await db
      .update(cannedReplies)
      .set(values)
      .where(and(eq(cannedReplies.id, id), isNull(cannedReplies.deletedAt)))
      .returning();
    return row;
  },

  async deleteCanned(db: Db, id: string, at: Date): Promise<void> {
    await db.update(cannedReplies).set({ deletedAt: at }).where(eq(cannedReplies.id, id));
  },
};

/** `sessionScope` on the alias `s` of the raw list queries. */
function scoped(caller: Caller): SQL {
  return sql`s.id IN (SELECT ${sessions.id} FROM ${sessions} WHERE ${sessionScope(caller)})`;
}
