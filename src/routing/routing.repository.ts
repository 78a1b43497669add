/** The SQL of routing: candidates with their load, row locks, queue order, and the timers' sweeps. */
import { and, asc, eq, inArray, isNull, notInArray, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { lines, sessions, users } from '../db/schema.ts';
import type { SessionRow } from '../domain/session/session.repository.ts';
import type { Candidate } from './rule.ts';

const ts = (d: Date) => d.toISOString();

export const routingRepository = {
  /**
   * Online, unblocked operators who serve the line (or, for a group-assigned session, its group),
   * under capacity, with their open-session counts.
   */
  async candidates(
    db: Db,
    lineId: string,
    groupId: string | null,
    defaultCapacity: number,
    exclude: string[],
  ): Promise<Candidate[]> {
    const staff = groupId
      ? sql`SELECT gm.user_id FROM group_members gm WHERE gm.group_id = ${groupId}`
      : sql`SELECT lo.user_id FROM line_operators lo WHERE lo.line_id = ${lineId}
            UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id WHERE lg.line_id = ${lineId}`;
    const rows = await queryRows<{
      id: string;
      role: string;
      open: number;
      capacity: number;
      last_assigned_at: string | Date | null;
    }>(
      db,
      sql`SELECT u.id, u.role, COALESCE(u.max_sessions, ${defaultCapacity})::int AS capacity, u.last_assigned_at,
            (SELECT count(*) FROM sessions s WHERE s.operator_id = u.id AND s.state = 'AssignedToOperator')::int AS open
          FROM users u
          WHERE u.id IN (${staff}) AND u.status = 'online' AND NOT u.blocked AND u.deleted_at IS NULL
            AND u.role IN ('operator', 'supervisor', 'admin')`,
    );
    return rows
      .filter((r) => r.open < r.capacity && !exclude.includes(r.id))
      .map((r) => ({
        id: r.id,
        role: r.role,
        open: r.open,
        capacity: r.capacity,
        lastAssignedAt: r.last_assigned_at ? new Date(r.last_assigned_at) : null,
      }));
  },

  /** Locks an operator's row (serialises capacity checks per operator) and returns their load. */
  async lockOperator(db: Db, id: string, defaultCapacity: number) {
    // Lock first, count after: a count in the locking statement would read the snapshot taken before
    // waiting for the lock, missing the assignment the previous holder just committed.
    const [user] = await queryRows<{ role: string; status: string; blocked: boolean; capacity: number }>(
      db,
      sql`SELECT role, status, blocked, COALESCE(max_sessions, ${defaultCapacity})::int AS capacity
          FROM users WHERE id = ${id} AND deleted_at IS NULL FOR NO KEY UPDATE`,
    );
    if (!user) return undefined;
    const [load] = await queryRows<{ open: number }>(
      db,
      sql`SELECT count(*)::int AS open FROM sessions WHERE operator_id = ${id} AND state = 'AssignedToOperator'`,
    );
    return { ...user, open: load?.open ?? 0 };
  },

  /**
   * The head of a line's queue, locked for routing, in queue order (High before Medium before Low,
   * then longest waiting): sessions another router holds are skipped. `only` narrows it to given ids;
   * `skip` leaves some out.
   */
  async lockQueueHead(
    db: Db,
    lineId: string,
    limit: number,
    opts: { only?: string[]; skip?: Set<string> } = {},
  ): Promise<SessionRow[]> {
    return (
      db
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.lineId, lineId),
            eq(sessions.state, 'Waiting'),
            isNull(sessions.deletedAt),
            opts.only ? inArray(sessions.id, opts.only) : undefined,
            opts.skip?.size ? notInArray(sessions.id, [...opts.skip]) : undefined,
          ),
        )
        // Exactly the order of sessions_waiting_idx (DESC alone would mean NULLS FIRST: a full sort).
        .orderBy(sql`${sessions.priority} DESC NULLS LAST`, asc(sessions.queuedAt))
        .limit(limit)
        .for('no key update', { skipLocked: true })
    );
  },

  /**
   * Locks, in id order, the online operators who may take sessions of a line: its staff, and the
   * members of the given groups. Loads are counted after this, so they are exact while the locks last.
   */
  async lockStaff(db: Db, lineId: string, groupIds: string[]): Promise<void> {
    const groups: SQL = groupIds.length
      ? sql` UNION SELECT gm.user_id FROM group_members gm WHERE gm.group_id IN (${sql.join(
          groupIds.map((g) => sql`${g}`),
          sql`, `,
        )})`
      : sql``;
    await queryRows(
      db,
      sql`SELECT id FROM users
          WHERE id IN (SELECT lo.user_id FROM line_operators lo WHERE lo.line_id = ${lineId}
                       UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id
                       WHERE lg.line_id = ${lineId}${groups})
            AND status = 'online' AND NOT blocked AND deleted_at IS NULL
          ORDER BY id FOR NO KEY UPDATE`,
    );
  },

  async linesWithWaiting(db: Db): Promise<string[]> {
    const rows = await queryRows<{ line_id: string }>(
      db,
      sql`SELECT DISTINCT line_id FROM sessions WHERE state = 'Waiting'`,
    );
    return rows.map((r) => r.line_id);
  },

  /** Lines an operator serves, directly or through a group. */
  async linesOfOperator(db: Db, userId: string): Promise<string[]> {
    const rows = await queryRows<{ line_id: string }>(
      db,
      sql`SELECT line_id FROM line_operators WHERE user_id = ${userId}
          UNION SELECT lg.line_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id WHERE gm.user_id = ${userId}`,
    );
    return rows.map((r) => r.line_id);
  },

  async markOffered(db: Db, id: string, operatorIds: string[], at: Date): Promise<void> {
    await db.update(sessions).set({ offeredTo: operatorIds, offeredAt: at }).where(eq(sessions.id, id));
  },

  async addDeclined(db: Db, id: string, operatorId: string): Promise<void> {
    await db
      .update(sessions)
      .set({ declinedBy: sql`array_append(${sessions.declinedBy}, ${operatorId}::uuid)` })
      .where(eq(sessions.id, id));
  },

  /** Records who got sessions; the line's rotation position only for rules that read it. */
  async noteAssignments(
    db: Db,
    operatorIds: string[],
    lineId: string,
    at: Date,
    rotation: string | null,
  ): Promise<void> {
    if (operatorIds.length)
      await db.update(users).set({ lastAssignedAt: at }).where(inArray(users.id, operatorIds));
    if (rotation) await db.update(lines).set({ lastRoutedOperatorId: rotation }).where(eq(lines.id, lineId));
  },

  /** Reservations whose operator did not accept within the line's accept timeout. */
  async expiredReservations(db: Db, now: Date): Promise<{ id: string; operator_id: string }[]> {
    return queryRows(
      db,
      sql`SELECT s.id, s.operator_id FROM sessions s JOIN lines l ON l.id = s.line_id
          WHERE s.state = 'AssignedToOperator' AND s.accepted_at IS NULL
            AND COALESCE((l.queue->>'acceptTimeoutSeconds')::int, 0) > 0
            AND s.operator_assigned_at < ${ts(now)}::timestamptz - make_interval(secs => (l.queue->>'acceptTimeoutSeconds')::int)`,
    );
  },

  /** Offers (to several operators) nobody accepted within the accept timeout: offered again. */
  async staleOffers(db: Db, now: Date): Promise<{ id: string; line_id: string }[]> {
    return queryRows(
      db,
      sql`SELECT s.id, s.line_id FROM sessions s JOIN lines l ON l.id = s.line_id
          WHERE s.state = 'Waiting' AND cardinality(s.offered_to) > 0
            AND COALESCE((l.queue->>'acceptTimeoutSeconds')::int, 0) > 0
            AND s.offered_at < ${ts(now)}::timestamptz - make_interval(secs => (l.queue->>'acceptTimeoutSeconds')::int)`,
    );
  },

  /** Open sessions whose client has been silent past the line's completion timeout. */
  async idleSessions(db: Db, now: Date): Promise<{ id: string }[]> {
    return queryRows(
      db,
      sql`SELECT s.id FROM sessions s JOIN lines l ON l.id = s.line_id
          WHERE s.state IN ('Waiting', 'AssignedToBot', 'AssignedToOperator')
            AND COALESCE((l.queue->>'completionTimeoutMinutes')::int, 0) > 0
            AND COALESCE(s.last_client_message_at, s.started_at)
                < ${ts(now)}::timestamptz - make_interval(mins => (l.queue->>'completionTimeoutMinutes')::int)`,
    );
  },

  /** Operators marked present whose last connection closed longer ago than the grace period. */
  async goneOperators(db: Db, now: Date, graceMs: number): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`SELECT id FROM users WHERE status <> 'offline' AND connections <= 0 AND disconnected_at IS NOT NULL
            AND disconnected_at < ${ts(new Date(now.getTime() - graceMs))}::timestamptz`,
    );
    return rows.map((r) => r.id);
  },

  async openSessionsOf(db: Db, operatorId: string): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`SELECT id FROM sessions WHERE operator_id = ${operatorId} AND state = 'AssignedToOperator'`,
    );
    return rows.map((r) => r.id);
  },
};
