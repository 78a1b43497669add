import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { hot, RowWriter, rowShape } from '../../db/hot-sql.ts';
import { type ActorRef, answerTimes, sessionHistory, sessions } from '../../db/schema.ts';
import { NotFound } from '../../errors.ts';
import {
  type AccountField,
  accountClientCtes,
  type ClientRow,
  clientShape,
} from '../client/client.repository.ts';
import { domainEventRepository, type EventRow } from '../events/domain-event.repository.ts';
import type { DomainEvent, PendingEvent } from '../events/domain-events.ts';
import { OPEN_SESSION_STATES } from './session.ts';

export type SessionRow = typeof sessions.$inferSelect;
export type SessionHistoryRow = typeof sessionHistory.$inferSelect;

const S = rowShape<SessionRow>(sessions);
const sessionWriter = new RowWriter<SessionRow>(sessions);
const OPEN_IN = OPEN_SESSION_STATES.map((s) => `'${s}'`).join(', ');
const BY_ID = `SELECT ${S.columns} FROM sessions WHERE id = $1`;
const BY_ID_LOCKED = `${BY_ID} FOR NO KEY UPDATE`;
// xmin (the transaction that wrote this version of the row) changes with every write of the row.
const BY_ID_VERSIONED = `SELECT ${S.columns}, xmin::text AS row_version FROM sessions WHERE id = $1`;
const OPEN_FOR = `SELECT ${S.columns} FROM sessions WHERE client_id = $1 AND channel_id = $2 AND state IN (${OPEN_IN})`;
// Matches sessions_chain_idx (its DESC columns sort NULLS LAST).
const OPEN_FOR_CLIENTS = `SELECT ${S.columns} FROM sessions
  WHERE client_id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::text::jsonb)::uuid)) AND channel_id = $2 AND state IN (${OPEN_IN})`;
const LAST_OF_CHAIN = `SELECT ${S.columns} FROM sessions WHERE client_id = $1 AND channel_id = $2
  ORDER BY started_at DESC NULLS LAST, created_at DESC NULLS LAST LIMIT 1`;

const LAST_CLIENT_MESSAGE_AT = `SELECT max(last_client_message_at) AS at FROM sessions
  WHERE client_id = $1 AND channel_id = $2`;

/** A session_history entry written with a change of the row (its to_state is the new state). */
export interface HistoryEntry {
  event: string;
  fromState: string | null;
  actor: ActorRef;
  details?: Record<string, unknown>;
}

/** Records `history` for each row (id, state) of the CTE `source`; its 4 parameters from `$first`. */
const historyInsert = (source: string, first: number) =>
  `INSERT INTO session_history (session_id, event, from_state, to_state, actor, details)
   SELECT id, $${first}, $${first + 1}, state, $${first + 2}::jsonb, $${first + 3}::jsonb FROM ${source}`;
const historyParams = (h: HistoryEntry) => [
  h.event,
  h.fromState,
  JSON.stringify(h.actor),
  JSON.stringify(h.details ?? {}),
];

/**
 * The session counter rule for incoming messages, said once: `source` gives per session (session_id)
 * `n` new client messages, the first at `first_at`, the last at `last_at`. The last message times
 * move, the operator's unread count adds up and the next-answer timer starts unless it runs. The
 * general path (touchOnMessage) and the batched ingest statement (message-batch.repository.ts) use it.
 */
export const countIncomingFrom = (source: string) =>
  `UPDATE sessions SET last_message_at = g.last_at, last_client_message_at = g.last_at,
    unread_by_operator = unread_by_operator + g.n,
    awaiting_answer_since = COALESCE(awaiting_answer_since, g.first_at), updated_at = g.last_at
  FROM ${source} g WHERE sessions.id = g.session_id`;
const COUNT_INCOMING = countIncomingFrom(
  '(SELECT $1::uuid AS session_id, 1 AS n, $2::timestamptz AS first_at, $2::timestamptz AS last_at)',
);

/** countIncomingFrom for many sessions at once: $1 is a JSON array of {session_id, n, first_at, last_at}. */
const COUNT_INCOMING_MANY = countIncomingFrom(
  '(SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS x(session_id uuid, n int, first_at timestamptz, last_at timestamptz))',
);

const eventInsert = domainEventRepository.insertFrom;
const eventParams = domainEventRepository.fromParams;

/** The hot statements are hand-written SQL (see db/hot-sql.ts); the rest is Drizzle. */
export const sessionRepository = {
  /**
   * `forUpdate` takes FOR NO KEY UPDATE: it excludes every other writer and locker of the row, but
   * not the foreign-key checks of rows that point at it (a message stored into the session).
   */
  async byId(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<SessionRow | undefined> {
    const [row] = await hot(db)(opts.forUpdate ? BY_ID_LOCKED : BY_ID, [id]);
    return row && S.map(row);
  },

  /** The row and its version, for a write on condition that the row is unchanged (transitionIf). */
  async byIdVersioned(db: Db, id: string): Promise<{ row: SessionRow; version: string } | undefined> {
    const [row] = await hot(db)<Record<string, unknown> & { row_version: string }>(BY_ID_VERSIONED, [id]);
    return row && { row: S.map(row), version: row.row_version };
  },

  async openFor(db: Db, clientId: string, channelId: string): Promise<SessionRow | undefined> {
    const [row] = await hot(db)(OPEN_FOR, [clientId, channelId]);
    return row && S.map(row);
  },

  /** When the client last wrote in the channel, over all their sessions there (reply windows). */
  async lastClientMessageAt(db: Db, clientId: string, channelId: string): Promise<Date | null> {
    const [row] = await hot(db)<{ at: Date | string | null }>(LAST_CLIENT_MESSAGE_AT, [clientId, channelId]);
    return row?.at ? new Date(row.at) : null;
  },

  /** The newest session of a client's chain in a channel. */
  async lastOfChain(db: Db, clientId: string, channelId: string): Promise<SessionRow | undefined> {
    const [row] = await hot(db)(LAST_OF_CHAIN, [clientId, channelId]);
    return row && S.map(row);
  },

  /**
   * Inserts an open session unless the client already has one in the channel (the unique partial
   * index decides, so concurrent callers cannot make two), with its history entry in the same
   * statement. Returns undefined on conflict (and records nothing).
   */
  async insertOpen(
    db: Db,
    values: typeof sessions.$inferInsert,
    history: HistoryEntry,
  ): Promise<SessionRow | undefined> {
    const keys = Object.keys(values).filter((k) => values[k as keyof typeof values] !== undefined);
    const n = keys.length;
    const text = sessionWriter.insert(
      keys,
      `ON CONFLICT (client_id, channel_id) WHERE state IN (${OPEN_IN}) DO NOTHING RETURNING *`,
    );
    const [row] = await hot(db)(
      `WITH s AS (${text}),
       h AS (${historyInsert('s', n + 1)})
       SELECT ${S.columns} FROM s`,
      [...sessionWriter.params(values as Partial<SessionRow>, keys), ...historyParams(history)],
    );
    return row && S.map(row);
  },

  /**
   * A new client's first session, as its own unit of work in ONE autocommit statement: the client
   * of the session's channel with this account is found, else made (with the session's clientId as
   * its id), and when made, the session `values`, its history entry and its domain event are written
   * with it. Returns the
   * client found (nothing else written), or the client made with the session and the event's row,
   * or null when a concurrent insert of the same account got in first.
   */
  async openForNewAccount(
    db: Db,
    account: { field: AccountField; value: string },
    values: typeof sessions.$inferInsert,
    history: HistoryEntry,
    event: PendingEvent,
  ): Promise<
    | { client: ClientRow; made: false }
    | { client: ClientRow; made: true; session: SessionRow; event: DomainEvent }
    | null
  > {
    const keys = Object.keys(values).filter((k) => values[k as keyof typeof values] !== undefined);
    const n = keys.length + 3;
    const [row] = await hot(db)<Record<string, unknown>>(
      `WITH ${accountClientCtes(account.field)},
       s AS (${sessionWriter.insertFrom('made', keys, 4, `RETURNING ${S.columns}`)}),
       h AS (${historyInsert('s', n + 1)}),
       e AS (${eventInsert('s', n + 5)})
       SELECT found.*, NULL::jsonb AS v_session, NULL::bigint AS v_event_id, NULL::timestamptz AS v_event_at
         FROM found
       UNION ALL
       SELECT made.*, to_jsonb(s), e.id, e.created_at FROM made, s, e`,
      [
        values.channelId,
        account.value,
        values.clientId,
        ...sessionWriter.params(values as Partial<SessionRow>, keys),
        ...historyParams(history),
        ...eventParams(event),
      ],
    );
    if (!row) return null;
    const client = clientShape.map(row);
    if (!row.v_session) return { client, made: false };
    return {
      client,
      made: true,
      session: S.map(row.v_session as Record<string, unknown>),
      event: domainEventRepository.stored(
        [event],
        [{ id: row.v_event_id as string, created_at: row.v_event_at as string }],
      )[0]!,
    };
  },

  async update(db: Db, id: string, patch: Partial<typeof sessions.$inferInsert>): Promise<SessionRow> {
    const values = { ...patch, updatedAt: new Date() } as Partial<SessionRow>;
    const keys = Object.keys(values).filter((k) => values[k as keyof typeof values] !== undefined);
    const [row] = await hot(db)(
      `UPDATE sessions SET ${sessionWriter.assignments(keys, 2)} WHERE id = $1 RETURNING ${S.columns}`,
      [id, ...sessionWriter.params(values, keys)],
    );
    return S.map(row!);
  },

  /**
   * A state change: the row's patch and its history entry, in one statement; nothing is read back
   * (the caller knows the new row: its old row, locked, plus the patch).
   */
  async transition(db: Db, id: string, values: Partial<SessionRow>, history: HistoryEntry): Promise<void> {
    const keys = Object.keys(values).filter((k) => values[k as keyof typeof values] !== undefined);
    const n = keys.length + 1;
    const rows = await hot(db)(
      `WITH u AS (UPDATE sessions SET ${sessionWriter.assignments(keys, 2)} WHERE id = $1 RETURNING id, state),
       h AS (${historyInsert('u', n + 1)})
       SELECT id FROM u`,
      [id, ...sessionWriter.params(values, keys), ...historyParams(history)],
    );
    if (!rows.length) throw new NotFound('Session', id);
  },

  /**
   * A state change that is its own unit of work, in ONE autocommit statement: the patch, its history
   * entry and its domain event, written only if the row is still the `version` read (nothing is
   * locked in between). Returns the stored event, or null when the row changed meanwhile or is gone,
   * and then nothing was written.
   */
  async transitionIf(
    db: Db,
    id: string,
    version: string,
    values: Partial<SessionRow>,
    history: HistoryEntry,
    event: PendingEvent,
  ): Promise<DomainEvent | null> {
    const keys = Object.keys(values).filter((k) => values[k as keyof typeof values] !== undefined);
    const n = keys.length + 2;
    const [row] = await hot(db)<EventRow>(
      `WITH u AS (UPDATE sessions SET ${sessionWriter.assignments(keys, 3)}
                  WHERE id = $1 AND xmin = $2::text::xid RETURNING id, state),
       h AS (${historyInsert('u', n + 1)})
       ${eventInsert('u', n + 5)}`,
      [id, version, ...sessionWriter.params(values, keys), ...historyParams(history), ...eventParams(event)],
    );
    return row ? domainEventRepository.stored([event], [row])[0]! : null;
  },

  /** Up to `limit` history entries of a session, oldest first, after entry `afterId` (exclusive). */
  async history(
    db: Db,
    sessionId: string,
    opts: { afterId?: number | null; limit?: number } = {},
  ): Promise<SessionHistoryRow[]> {
    const query = db
      .select()
      .from(sessionHistory)
      .where(
        and(
          eq(sessionHistory.sessionId, sessionId),
          opts.afterId == null ? undefined : gt(sessionHistory.id, opts.afterId),
        ),
      )
      .orderBy(asc(sessionHistory.id));
    return opts.limit === undefined ? query : query.limit(opts.limit);
  },

  async historyCount(db: Db, sessionId: string): Promise<number> {
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(sessionHistory)
      .where(eq(sessionHistory.sessionId, sessionId));
    return row?.n ?? 0;
  },

  /** The open sessions of these clients on a channel, by client id (one statement). */
  async openForClients(db: Db, clientIds: string[], channelId: string): Promise<Map<string, SessionRow>> {
    if (clientIds.length === 0) return new Map();
    const rows = await hot(db)(OPEN_FOR_CLIENTS, [JSON.stringify(clientIds), channelId]);
    return new Map(rows.map((r) => S.map(r)).map((s) => [s.clientId, s]));
  },

  /**
   * touchOnMessage for client messages into many sessions, in one statement: per session the number
   * of new messages and the times of the first and the last (the counter rule is countIncomingFrom).
   */
  async countIncoming(
    db: Db,
    counts: readonly { sessionId: string; n: number; firstAt: Date; lastAt: Date }[],
  ): Promise<void> {
    if (counts.length === 0) return;
    const rows = counts.map((c) => ({
      session_id: c.sessionId,
      n: c.n,
      first_at: c.firstAt.toISOString(),
      last_at: c.lastAt.toISOString(),
    }));
    await hot(db)(COUNT_INCOMING_MANY, [JSON.stringify(rows)]);
  },

  /**
   * Counts a new message on the session: last message time, unread counters, and the answer timers —
   * a client message starts the next-answer timer, an operator message stops it (and the first one
   * sets firstAnswerAt), each answer recorded in answer_times for the metrics.
   */
  async touchOnMessage(
    db: Db,
    id: string,
    m: { direction: 'incoming' | 'outgoing'; at: Date; byOperator: boolean; operatorId?: string | null },
  ): Promise<void> {
    if (m.direction === 'incoming') {
      await hot(db)(COUNT_INCOMING, [id, m.at]);
      return;
    }
    if (!m.byOperator) {
      await db
        .update(sessions)
        .set({ lastMessageAt: m.at, unreadByClient: sql`${sessions.unreadByClient} + 1`, updatedAt: m.at })
        .where(eq(sessions.id, id));
      return;
    }
    const [s] = await db.select().from(sessions).where(eq(sessions.id, id)).for('no key update');
    if (!s) return;
    const first = s.firstAnswerAt === null;
    const askedAt = first ? s.startedAt : s.awaitingAnswerSince;
    if (askedAt) {
      await db.insert(answerTimes).values({
        sessionId: id,
        lineId: s.lineId,
        operatorId: m.operatorId ?? s.operatorId,
        kind: first ? 'first' : 'next',
        askedAt,
        answeredAt: m.at,
        seconds: Math.max(0, (m.at.getTime() - askedAt.getTime()) / 1000),
      });
    }
    await db
      .update(sessions)
      .set({
        lastMessageAt: m.at,
        unreadByClient: sql`${sessions.unreadByClient} + 1`,
        awaitingAnswerSince: null,
        ...(first && { firstAnswerAt: m.at }),
        updatedAt: m.at,
      })
      .where(eq(sessions.id, id));
  },

  async resetUnread(db: Db, id: string, side: 'operator' | 'client'): Promise<void> {
    await db
      .update(sessions)
      .set(side === 'operator' ? { unreadByOperator: 0 } : { unreadByClient: 0 })
      .where(eq(sessions.id, id));
  },
};
