import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { type ActorRef, answerTimes, sessionHistory, sessions } from '../../db/schema.ts';
import { OPEN_SESSION_STATES } from './session.ts';

export type SessionRow = typeof sessions.$inferSelect;
export type SessionHistoryRow = typeof sessionHistory.$inferSelect;

const openStates = sql.raw(OPEN_SESSION_STATES.map((s) => `'${s}'`).join(', '));

export const sessionRepository = {
  /**
   * `forUpdate` takes FOR NO KEY UPDATE: it excludes every other writer and locker of the row, but
   * not the foreign-key checks of rows that point at it (a message stored into the session).
   */
  async byId(db: Db, id: string, opts: { forUpdate?: boolean } = {}): Promise<SessionRow | undefined> {
    const q = db.select().from(sessions).where(eq(sessions.id, id));
    const [row] = opts.forUpdate ? await q.for('no key update') : await q;
    return row;
  },

  async openFor(db: Db, clientId: string, channelId: string): Promise<SessionRow | undefined> {
    const [row] = await db
      .select()
      .from(sessions)
      .where(
        and(
          eq(sessions.clientId, clientId),
          eq(sessions.channelId, channelId),
          sql`${sessions.state} IN (${openStates})`,
        ),
      );
    return row;
  },

  /** The newest session of a client's chain in a channel. */
  async lastOfChain(db: Db, clientId: string, channelId: string): Promise<SessionRow | undefined> {
    const [row] = await db
      .select()
      .from(sessions)
      .where(and(eq(sessions.clientId, clientId), eq(sessions.channelId, channelId)))
      // Matches sessions_chain_idx (its DESC columns sort NULLS LAST).
      .orderBy(sql`${sessions.startedAt} DESC NULLS LAST`, sql`${sessions.createdAt} DESC NULLS LAST`)
      .limit(1);
    return row;
  },

  /**
   * Inserts an open session unless the client already has one in the channel (the unique partial
   * index decides, so concurrent callers cannot make two). Returns undefined on conflict.
   */
  async insertOpen(db: Db, values: typeof sessions.$inferInsert): Promise<SessionRow | undefined> {
    const [row] = await db
      .insert(sessions)
      .values(values)
      .onConflictDoNothing({
        target: [sessions.clientId, sessions.channelId],
        where: sql`${sessions.state} IN (${openStates})`,
      })
      .returning();
    return row;
  },

  async update(db: Db, id: string, patch: Partial<typeof sessions.$inferInsert>): Promise<SessionRow> {
    const [row] = await db
      .update(sessions)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(sessions.id, id))
      .returning();
    return row!;
  },

  async insertHistory(
    db: Db,
    values: {
      sessionId: string;
      event: string;
      fromState: string | null;
      toState: string;
      actor: ActorRef;
      details?: Record<string, unknown>;
    },
  ): Promise<void> {
    await db.insert(sessionHistory).values(values);
  },

  async history(db: Db, sessionId: string): Promise<SessionHistoryRow[]> {
    return db
      .select()
      .from(sessionHistory)
      .where(eq(sessionHistory.sessionId, sessionId))
      .orderBy(asc(sessionHistory.id));
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
      await db
        .update(sessions)
        .set({
          lastMessageAt: m.at,
          lastClientMessageAt: m.at,
          unreadByOperator: sql`${sessions.unreadByOperator} + 1`,
          awaitingAnswerSince: sql`COALESCE(${sessions.awaitingAnswerSince}, ${m.at.toISOString()}::timestamptz)`,
          updatedAt: m.at,
        })
        .where(eq(sessions.id, id));
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
