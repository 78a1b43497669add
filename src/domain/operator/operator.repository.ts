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

  /** Counts a realtime connection closing; returns the operator's live connections left. */
  async connectionClosed(db: Db, id: string, at: Date): Promise<number> {
    const rows = await queryRows<{ connections: number }>(
      db,
      sql`UPDATE users SET connections = GREATEST(0, connections - 1),
            disconnected_at = ${at.toISOString()}::timestamptz
          WHERE id = ${id} RETURNING connections`,
    );
    return rows[0]?.connections ?? 0;
  },

  /**
   * Counts a realtime connection opening with the login (API token id) `login`, and decides which
   * login holds the operator's workspace (`live_client`), in one atomic update across every node:
   * a login issued after the holder takes it over (its older workspaces are to be closed:
   * chatUserExists); the same login (a reload, a reconnect, another tab) changes nothing; a login
   * issued before the holder while the holder is connected is itself the older workspace. With no
   * live connection the connecting login takes the workspace, whatever its age.
   * Returns the holder now, the holder before, the live connections before this one, and whether
   * the login is still valid (not revoked or expired, the user neither blocked nor deleted): a
   * revocation that committed after the connect read the token is seen here.
   */
  async connectionOpened(
    db: Db,
    id: string,
    login: string,
  ): Promise<{ holder: string | null; previous: string | null; before: number; valid: boolean }> {
    const rows = await queryRows<{
      holder: string | null;
      previous: string | null;
      before: number;
      valid: boolean;
    }>(
      db,
      sql`UPDATE users u SET connections = GREATEST(0, old.connections) + 1, disconnected_at = NULL,
            live_client = CASE
              WHEN old.connections <= 0 OR old.live_client IS NULL OR old.live_client = ${login} THEN ${login}
              WHEN (SELECT t.created_at FROM api_tokens t WHERE t.id = ${login}::uuid)
                >= COALESCE((SELECT t.created_at FROM api_tokens t WHERE t.id = CASE
                     WHEN old.live_client ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                     THEN old.live_client::uuid END), '-infinity'::timestamptz) THEN ${login}
              ELSE old.live_client END
          FROM (SELECT id, connections, live_client FROM users WHERE id = ${id} FOR UPDATE) old
          WHERE u.id = old.id
          RETURNING u.live_client AS holder, old.live_client AS previous, old.connections AS before,
            (NOT u.blocked AND u.deleted_at IS NULL AND EXISTS (SELECT 1 FROM api_tokens t
               WHERE t.id = ${login}::uuid AND t.revoked_at IS NULL
                 AND (t.expires_at IS NULL OR t.expires_at > now()))) AS valid`,
    );
    return rows[0] ?? { holder: null, previous: null, before: 0, valid: false };
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
