import { and, desc, eq, inArray, isNotNull, isNull, lt, lte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { messages } from '../../db/schema.ts';

export type MessageRow = typeof messages.$inferSelect;

export const messageRepository = {
  async byId(db: Db, id: string): Promise<MessageRow | undefined> {
    const [row] = await db
      .select()
      .from(messages)
      .where(and(eq(messages.id, id), isNull(messages.deletedAt)));
    return row;
  },

  /** The message, locked FOR UPDATE until the transaction ends (deleted ones too: the lock is what counts). */
  async lockById(db: Db, id: string): Promise<MessageRow | undefined> {
    const [row] = await db.select().from(messages).where(eq(messages.id, id)).for('update');
    return row;
  },

  async insert(db: Db, values: typeof messages.$inferInsert): Promise<MessageRow> {
    const [row] = await db.insert(messages).values(values).returning();
    return row!;
  },

  /** A page of a session's messages, newest first, before a cursor (a message's seq). */
  async page(db: Db, sessionId: string, limit: number, beforeSeq: number | null): Promise<MessageRow[]> {
    return (
      db
        .select()
        .from(messages)
        .where(
          and(
            eq(messages.sessionId, sessionId),
            isNull(messages.deletedAt),
            beforeSeq === null ? undefined : lt(messages.seq, beforeSeq),
          ),
        )
        // Matches messages_session_seq_idx (seq DESC NULLS LAST); plain DESC would not use it.
        .orderBy(sql`${messages.seq} DESC NULLS LAST`)
        .limit(limit)
    );
  },

  /** How many messages the session has (what `page` pages through). */
  async count(db: Db, sessionId: string): Promise<number> {
    const [row] = await db
      .select({ n: sql<number>`count(*)::int` })
      .from(messages)
      .where(and(eq(messages.sessionId, sessionId), isNull(messages.deletedAt)));
    return row?.n ?? 0;
  },

  async last(db: Db, sessionId: string): Promise<MessageRow | undefined> {
    const [row] = await messageRepository.page(db, sessionId, 1, null);
    return row;
  },

  /** Inserts unless the (channel, direction, external id) exists; undefined means a duplicate. */
  async insertUnlessDuplicate(db: Db, values: typeof messages.$inferInsert): Promise<MessageRow | undefined> {
    const [row] = await db
      .insert(messages)
      .values(values)
      .onConflictDoNothing({
        target: [messages.channelId, messages.direction, messages.externalId],
        where: sql`${messages.externalId} IS NOT NULL`,
      })
      .returning();
    return row;
  },

  /** `insertUnlessDuplicate` for many rows in one statement: the rows stored (a duplicate is left out). */
  async insertManyUnlessDuplicate(db: Db, values: (typeof messages.$inferInsert)[]): Promise<MessageRow[]> {
    if (values.length === 0) return [];
    return db
      .insert(messages)
      .values(values)
      .onConflictDoNothing({
        target: [messages.channelId, messages.direction, messages.externalId],
        where: sql`${messages.externalId} IS NOT NULL`,
      })
      .returning();
  },

  /** Which of these messenger ids the channel has stored in that direction. */
  async storedExternalIds(
    db: Db,
    channelId: string,
    direction: 'incoming' | 'outgoing',
    externalIds: string[],
  ): Promise<Set<string>> {
    if (externalIds.length === 0) return new Set();
    const rows = await db
      .select({ externalId: messages.externalId })
      .from(messages)
      .where(
        and(
          eq(messages.channelId, channelId),
          eq(messages.direction, direction),
          inArray(messages.externalId, externalIds),
        ),
      );
    return new Set(rows.map((r) => r.externalId!));
  },

  async byExternalId(
    db: Db,
    channelId: string,
    direction: 'incoming' | 'outgoing',
    externalId: string,
  ): Promise<MessageRow | undefined> {
    const [row] = await db
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.channelId, channelId),
          eq(messages.direction, direction),
          eq(messages.externalId, externalId),
        ),
      );
    return row;
  },

  /**
   * The session of the newest message of the channel, either direction, whose messenger id is one of
   * `externalIds` (an e-mail's In-Reply-To and References): the conversation a reply belongs to.
   */
  async sessionOfExternalIds(db: Db, channelId: string, externalIds: string[]): Promise<string | null> {
    if (externalIds.length === 0) return null;
    const [row] = await db
      .select({ sessionId: messages.sessionId })
      .from(messages)
      .where(
        and(
          eq(messages.channelId, channelId),
          inArray(messages.direction, ['incoming', 'outgoing']),
          inArray(messages.externalId, externalIds),
          isNull(messages.deletedAt),
        ),
      )
      .orderBy(desc(messages.seq))
      .limit(1);
    return row?.sessionId ?? null;
  },

  /** The messenger id of the client's latest message in a session (what a read receipt names), or null. */
  async lastIncomingExternalId(db: Db, sessionId: string): Promise<string | null> {
    const [row] = await db
      .select({ externalId: messages.externalId })
      .from(messages)
      .where(
        and(
          eq(messages.sessionId, sessionId),
          eq(messages.direction, 'incoming'),
          isNotNull(messages.externalId),
          isNull(messages.deletedAt),
        ),
      )
      .orderBy(desc(messages.seq))
      .limit(1);
    return row?.externalId ?? null;
  },

  /** The messenger ids of a session's messages, oldest first (the newest `limit`): an e-mail's References. */
  async externalIdsOfSession(db: Db, sessionId: string, limit = 30): Promise<string[]> {
    const rows = await db
      .select({ externalId: messages.externalId })
      .from(messages)
      .where(
        and(eq(messages.sessionId, sessionId), isNotNull(messages.externalId), isNull(messages.deletedAt)),
      )
      .orderBy(desc(messages.seq))
      .limit(limit);
    return rows.map((r) => r.externalId!).reverse();
  },

  async update(
    db: Db,
    id: string,
    patch: Partial<typeof messages.$inferInsert>,
  ): Promise<MessageRow | undefined> {
    const [row] = await db
      .update(messages)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(messages.id, id))
      .returning();
    return row;
  },

  /** Moves an outgoing message from pending to sent, once (a late duplicate result changes nothing). */
  async markSent(db: Db, id: string, externalId: string): Promise<MessageRow | undefined> {
    const [row] = await db
      .update(messages)
      .set({ status: 'sent', externalId, error: null, updatedAt: new Date() })
      .where(and(eq(messages.id, id), eq(messages.status, 'pending')))
      .returning();
    return row;
  },

  /**
   * Marks outgoing messages of a session read by the client, up to a seq (all when null) and, with
   * `createdUpTo`, only those written by then (a messenger's read watermark).
   */
  async markOutgoingRead(
    db: Db,
    sessionId: string,
    upToSeq: number | null,
    at: Date,
    opts: { createdUpTo?: Date | null } = {},
  ): Promise<number> {
    const rows = await db
      .update(messages)
      .set({ status: 'read', readAt: at, updatedAt: at })
      .where(
        and(
          eq(messages.sessionId, sessionId),
          eq(messages.direction, 'outgoing'),
          inArray(messages.status, ['sent', 'delivered']),
          upToSeq === null ? undefined : lte(messages.seq, upToSeq),
          opts.createdUpTo ? lte(messages.createdAt, opts.createdUpTo) : undefined,
        ),
      )
      .returning({ id: messages.id });
    return rows.length;
  },

  /** Marks the client's messages of a session read by the operator. */
  async markIncomingRead(db: Db, sessionId: string, at: Date): Promise<number> {
    const rows = await db
      .update(messages)
      .set({ status: 'read', readAt: at, updatedAt: at })
      .where(
        and(eq(messages.sessionId, sessionId), eq(messages.direction, 'incoming'), isNull(messages.readAt)),
      )
      .returning({ id: messages.id });
    return rows.length;
  },
};
