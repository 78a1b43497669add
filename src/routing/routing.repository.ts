/** The SQL of routing: candidates with their load, row locks, queue order, and the timers' sweeps. */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { hot, rowShape } from '../db/hot-sql.ts';
import { sessions } from '../db/schema.ts';
import type { SessionRow } from '../domain/session/session.repository.ts';

const ts = (d: Date) => d.toISOString();

// The hot statements of a routing pass, as constant text (see db/hot-sql.ts).
const LINE_STAFF = `SELECT lo.user_id FROM line_operators lo WHERE lo.line_id = $1
  UNION SELECT gm.user_id FROM line_groups lg JOIN group_members gm ON gm.group_id = lg.group_id WHERE lg.line_id = $1`;
// A pass reads its staff in the same round trip as the queue head, before it knows whether the
// head is empty: the read returns nothing when the line has no Waiting session.
const queued = (line: string) =>
  `EXISTS (SELECT 1 FROM sessions q WHERE q.line_id = ${line} AND q.state = 'Waiting' AND q.deleted_at IS NULL)`;
const staffOf = (staff: string, guard: string) =>
  `SELECT u.id, u.role, u.max_sessions, u.last_assigned_at, u.open_sessions AS open
  FROM users u
  WHERE u.id IN (${staff}) AND u.status = 'online' AND NOT u.blocked AND u.deleted_at IS NULL
    AND u.role IN ('operator', 'supervisor', 'admin')${guard}`;
const STAFF_OF_LINE = staffOf(LINE_STAFF, ` AND ${queued('$1')}`);
const STAFF_OF_GROUP = staffOf('SELECT gm.user_id FROM group_members gm WHERE gm.group_id = $1', '');
const Q = rowShape<SessionRow>(sessions);
// Exactly the order of sessions_waiting_idx (DESC alone would mean NULLS FIRST: a full sort).
const QUEUE_HEAD = `SELECT ${Q.columns} FROM sessions
  WHERE line_id = $1 AND state = 'Waiting' AND deleted_at IS NULL AND NOT (id = ANY($3::uuid[]))
  ORDER BY priority DESC NULLS LAST, queued_at ASC LIMIT $2 FOR NO KEY UPDATE SKIP LOCKED`;
const HAS_WAITING = `SELECT EXISTS (SELECT 1 FROM sessions WHERE line_id = $1 AND state = 'Waiting'
  AND deleted_at IS NULL AND NOT (id = ANY($2::uuid[]))) AS found`;
const QUEUE_ONLY = `SELECT ${Q.columns} FROM sessions
  WHERE id = ANY($2::uuid[]) AND line_id = $1 AND state = 'Waiting' AND deleted_at IS NULL
  ORDER BY priority DESC NULLS LAST, queued_at ASC FOR NO KEY UPDATE SKIP LOCKED`;

/** The advisory lock class of a line's operator loads ('OL'; the object is hashtext(line id)). */
const LINE_LOADS_LOCK = 20300;

const OPERATOR_LOAD = `SELECT role, status, blocked, COALESCE(max_sessions, $2)::int AS capacity,
  open_sessions AS open FROM users WHERE id = $1 AND deleted_at IS NULL`;

interface OperatorLoad {
  role: string;
  status: string;
  blocked: boolean;
  capacity: number;
  open: number;
}

/** The error lockAssignees raises (SQLSTATE of omniline_raise, migration 0010). */
export function isOperatorFull(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'OL409' && (err as Error).message === 'OPERATOR_FULL';
}

export interface StaffRow {
  id: string;
  role: string;
  open: number;
  maxSessions: number | null;
  lastAssignedAt: Date | null;
}

export const routingRepository = {
  /**
   * Online, unblocked operators who serve the line (or, for a group-assigned session, its group),
   * with their open-session counts and own capacity (null: the queue's).
   */
  async staff(db: Db, lineId: string, groupId: string | null): Promise<StaffRow[]> {
    const rows = await hot(db)<{
      id: string;
      role: string;
      open: number;
      max_sessions: number | null;
      last_assigned_at: string | Date | null;
    }>(groupId ? STAFF_OF_GROUP : STAFF_OF_LINE, [groupId ?? lineId]);
    return rows.map((r) => ({
      id: r.id,
      role: r.role,
      open: r.open,
      maxSessions: r.max_sessions,
      lastAssignedAt: r.last_assigned_at ? new Date(r.last_assigned_at) : null,
    }));
  },

  /**
   * Locks an operator's row (serialises capacity checks per operator) and returns their load: the
   * row a lock returns is the newest committed one, so its counter is exact while the lock lasts.
   */
  async lockOperator(db: Db, id: string, defaultCapacity: number) {
    const [user] = await hot(db)<OperatorLoad>(`${OPERATOR_LOAD} FOR NO KEY UPDATE`, [id, defaultCapacity]);
    return user;
  },

  /**
   * Waits for the load changes under way on the line (closes, transfers away, sessions sent back to
   * the queue), and keeps new ones waiting until the transaction ends: they take the same advisory
   * lock, shared, in the trigger that keeps the loads (migration 0012).
   */
  async holdLineLoads(db: Db, lineId: string): Promise<void> {
    await hot(db)(`SELECT pg_advisory_xact_lock(${LINE_LOADS_LOCK}, hashtext($1::text))`, [lineId]);
  },

  /**
   * An operator's role, status and load, read without a lock: for a rule that picks beyond the line's
   * staff. lockAssignees checks the load again under the operator's lock.
   */
  async operatorLoad(db: Db, id: string, defaultCapacity: number) {
    const [user] = await hot(db)<OperatorLoad>(OPERATOR_LOAD, [id, defaultCapacity]);
    return user;
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
    const rows = opts.only
      ? await hot(db)(QUEUE_ONLY, [lineId, opts.only])
      : await hot(db)(QUEUE_HEAD, [lineId, limit, [...(opts.skip ?? [])]]);
    return rows.map(Q.map);
  },

  /**
   * Whether a line's queue holds a session routable now (not left out by `skip`): read without a
   * lock or a transaction, so a drain with nothing to route costs one cheap statement.
   */
  async hasWaiting(db: Db, lineId: string, skip: Set<string>): Promise<boolean> {
    const [row] = await hot(db)<{ found: boolean }>(HAS_WAITING, [lineId, [...skip]]);
    return row?.found === true;
  },

  /** Lines with a Waiting session: a probe of sessions_waiting_idx per line, never a scan of sessions. */
  async linesWithWaiting(db: Db): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      db,
      sql`SELECT l.id FROM lines l WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.line_id = l.id AND s.state = 'Waiting')`,
    );
    return rows.map((r) => r.id);
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

  /**
   * Marks the line's Waiting sessions that have not been told "nobody" since they (re)entered the
   * queue — group sessions aside, and skipping rows another transaction holds — and returns them.
   * With `only`, just those of the given sessions (found by id, not by reading the whole queue).
   */
  async markLineNobody(db: Db, lineId: string, at: Date, only?: string[]): Promise<string[]> {
    const which = only ? 'id = ANY($3::uuid[]) AND line_id = $1' : 'line_id = $1';
    const rows = await hot(db)<{ id: string }>(
      `UPDATE sessions SET offered_to = '{}', offered_at = $2
       WHERE id IN (SELECT id FROM sessions
                    WHERE ${which} AND state = 'Waiting' AND deleted_at IS NULL AND operator_group_id IS NULL
                      AND (offered_at IS NULL OR cardinality(offered_to) > 0)
                    FOR NO KEY UPDATE SKIP LOCKED)
       RETURNING id`,
      only ? [lineId, at, only] : [lineId, at],
    );
    return rows.map((r) => r.id);
  },

  async addDeclined(db: Db, id: string, operatorId: string): Promise<void> {
    await db
      .update(sessions)
      .set({ declinedBy: sql`array_append(${sessions.declinedBy}, ${operatorId}::uuid)` })
      .where(eq(sessions.id, id));
  },

  /** A new round: the operators who let the session pass may be given it again. */
  async resetDeclined(db: Db, id: string): Promise<void> {
    await db.update(sessions).set({ declinedBy: sql`'{}'::uuid[]` }).where(eq(sessions.id, id));
  },

  /**
   * Locks the operators a pass assigns to, in id order (passes never deadlock), checks that each
   * still has room for what the pass gives them, and records that they got sessions; the line's
   * rotation position only for rules that read it. Sent before the assignments. An operator filled
   * up since the pass read their load (by another line's router) makes the statement fail with
   * OPERATOR_FULL, which aborts the transaction: its COMMIT, already sent, rolls back.
   */
  async lockAssignees(
    db: Db,
    assignees: { id: string; sessions: number; capacity: number }[],
    lineId: string,
    at: Date,
    rotation: string | null,
  ): Promise<void> {
    const writes: Promise<unknown>[] = [];
    if (assignees.length)
      writes.push(
        hot(db)(
          `WITH w AS (SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[]) AS w(id, n, cap)),
           l AS MATERIALIZED (SELECT id, open_sessions FROM users WHERE id IN (SELECT id FROM w)
                              ORDER BY id FOR NO KEY UPDATE)
           UPDATE users u SET last_assigned_at = $4 FROM l JOIN w ON w.id = l.id
           WHERE u.id = l.id
             AND (CASE WHEN l.open_sessions + w.n > w.cap THEN omniline_raise('OPERATOR_FULL') END) IS NULL`,
          [
            assignees.map((a) => a.id),
            assignees.map((a) => a.sessions),
            assignees.map((a) => a.capacity),
            at,
          ],
        ),
      );
    if (rotation)
      writes.push(hot(db)('UPDATE lines SET last_routed_operator_id = $2 WHERE id = $1', [lineId, rotation]));
    await Promise.all(writes);
  },

  // The timers below run on every sweep: each starts from the lines whose queue sets the timer and
  // reads their sessions through sessions_queue_idx (line, state), so a sweep costs what the open
  // sessions of those lines cost, however many closed sessions the table holds.

  /** Reservations whose operator did not accept within the line's accept timeout. */
  async expiredReservations(db: Db, now: Date): Promise<{ id: string; operator_id: string }[]> {
    return queryRows(
      db,
      sql`SELECT s.id, s.operator_id FROM lines l
          JOIN sessions s ON s.line_id = l.id AND s.state = 'AssignedToOperator' AND s.deleted_at IS NULL
          WHERE COALESCE((l.queue->>'acceptTimeoutSeconds')::int, 0) > 0 AND s.accepted_at IS NULL
            AND s.operator_assigned_at < ${ts(now)}::timestamptz - make_interval(secs => (l.queue->>'acceptTimeoutSeconds')::int)`,
    );
  },

  /** Offers (to several operators) nobody accepted within the accept timeout: offered again. */
  async staleOffers(db: Db, now: Date): Promise<{ id: string; line_id: string }[]> {
    return queryRows(
      db,
      sql`SELECT s.id, s.line_id FROM lines l
          JOIN sessions s ON s.line_id = l.id AND s.state = 'Waiting' AND s.deleted_at IS NULL
          WHERE COALESCE((l.queue->>'acceptTimeoutSeconds')::int, 0) > 0 AND cardinality(s.offered_to) > 0
            AND s.offered_at < ${ts(now)}::timestamptz - make_interval(secs => (l.queue->>'acceptTimeoutSeconds')::int)`,
    );
  },

  /**
   * Open sessions whose client has been silent past the line's completion timeout after an answer:
   * an operator answered and no client message waits for an answer since, or a bot's session whose
   * last message is the bot's. The silence counts from the session's last message. A session nobody
   * has answered (Waiting for its first operator, say) is never closed by it.
   */
  async idleSessions(db: Db, now: Date): Promise<{ id: string }[]> {
    return queryRows(
      db,
      sql`SELECT s.id FROM lines l
          JOIN sessions s ON s.line_id = l.id AND s.state IN ('Waiting', 'AssignedToBot', 'AssignedToOperator')
            AND s.deleted_at IS NULL
          WHERE COALESCE((l.queue->>'completionTimeoutMinutes')::int, 0) > 0
            AND ((s.first_answer_at IS NOT NULL AND s.awaiting_answer_since IS NULL)
                 OR (s.state = 'AssignedToBot'
                     AND s.last_message_at > COALESCE(s.last_client_message_at, '-infinity'::timestamptz)))
            AND COALESCE(s.last_message_at, s.started_at)
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
