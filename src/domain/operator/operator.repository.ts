import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { queryRows } from '../../db/client.ts';
import { users } from '../../db/schema.ts';

export const operatorRepository = {
  async setStatus(db: Db, id: string, status: string, at: Date): Promise<string | null> {
    const rows = await queryRows<{ previous: string }>(
      db,
      sql`UPDATE users u SET status = ${status}, status_changed_at = ${at.toISOString()}::timestamptz
          FROM (SELECT id, status AS previous FROM users WHERE id = ${id} FOR UPDATE) old
          WHERE u.id = old.id RETURNING old.previous`,
    );
    return rows[0]?.previous ?? null;
  },

  async setCapacity(db: Db, id: string, maxSessions: number | null): Promise<void> {
    await db.update(users).set({ maxSessions }).where(eq(users.id, id));
  },

  /**
   * Counts a realtime connection opening (+1, becoming the operator's newest) or closing (-1).
   * Returns the live count and the newest connection's id.
   */
  async connection(db: Db, id: string, delta: 1 | -1, at: Date, client?: string) {
    const rows = await queryRows<{ connections: number; live_client: string | null }>(
      db,
      sql`UPDATE users SET connections = GREATEST(0, connections + ${delta}),
            disconnected_at = CASE WHEN ${delta} < 0 THEN ${at.toISOString()}::timestamptz ELSE NULL END,
            live_client = CASE WHEN ${delta} > 0 THEN ${client ?? null} ELSE live_client END
          WHERE id = ${id} RETURNING connections, live_client`,
    );
    return rows[0] ?? { connections: 0, live_client: null };
  },

  /** The operator's workspace: open sessions they hold or are offered, with the last message and unread count. */
  async workspace(db: Db, id: string) {
    return queryRows<{
      id: string;
      state: string;
      accepted_at: string | null;
      offered: boolean;
      unread: number;
      last_message_id: string | null;
    }>(
      db,
      sql`SELECT s.id, s.state, s.accepted_at, (s.operator_id IS DISTINCT FROM ${id}) AS offered,
            s.unread_by_operator AS unread,
            (SELECT m.id FROM messages m WHERE m.session_id = s.id ORDER BY m.seq DESC LIMIT 1) AS last_message_id
          FROM sessions s
          WHERE (s.operator_id = ${id} AND s.state = 'AssignedToOperator')
             OR (s.state = 'Waiting' AND ${id}::uuid = ANY (s.offered_to))
          ORDER BY s.last_message_at DESC NULLS LAST, s.started_at DESC`,
    );
  },

  async unread(db: Db, id: string): Promise<{ chats: number; messages: number }> {
    const rows = await queryRows<{ chats: number; messages: number }>(
      db,
      sql`SELECT count(*) FILTER (WHERE unread_by_operator > 0)::int AS chats, COALESCE(sum(unread_by_operator), 0)::int AS messages
          FROM sessions WHERE operator_id = ${id} AND state = 'AssignedToOperator'`,
    );
    return rows[0] ?? { chats: 0, messages: 0 };
  },

  async isLive(db: Db, id: string): Promise<boolean> {
    const [row] = await db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.id, id), sql`${users.deletedAt} IS NULL`));
    return !!row;
  },
};
