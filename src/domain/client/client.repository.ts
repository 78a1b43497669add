import { and, eq, isNull, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../../db/client.ts';
import { hot, RowWriter, rowShape } from '../../db/hot-sql.ts';
import { clients } from '../../db/schema.ts';

export type ClientRow = typeof clients.$inferSelect;

const C = rowShape<ClientRow>(clients);
const clientWriter = new RowWriter<ClientRow>(clients);
const BY_ID = `SELECT ${C.columns} FROM clients WHERE id = $1 AND deleted_at IS NULL`;
/**
 * A live client by an account column, any case. The index condition says nothing of deleted_at, and
 * deleted rows are dropped after it (OFFSET 0 keeps that filter out of the index scan): the live-row
 * (channel, external id) index then cannot serve this lookup, and the account's own index is the one
 * plan, whatever the statistics when the statement was prepared (see the schema).
 */
const byAccountColumn = (column: string) =>
  `SELECT * FROM (SELECT ${C.columns} FROM clients WHERE channel_id = $1 AND lower(${column}) = lower($2) OFFSET 0) c
   WHERE deleted_at IS NULL LIMIT 1`;
// One text per account field; each is served by its own index (see the schema).
export const BY_ACCOUNT = {
  externalId: `SELECT ${C.columns} FROM clients WHERE channel_id = $1 AND external_id = $2 AND deleted_at IS NULL LIMIT 1`,
  username: byAccountColumn('username'),
  phone: byAccountColumn('phone'),
  email: byAccountColumn('email'),
} as const;
const BY_EXTERNAL_IDS = `SELECT ${C.columns} FROM clients
  WHERE channel_id = $1 AND external_id = ANY(ARRAY(SELECT jsonb_array_elements_text($2::text::jsonb))) AND deleted_at IS NULL`;
const INSERT_TAIL = `ON CONFLICT (channel_id, external_id) WHERE deleted_at IS NULL DO NOTHING RETURNING ${C.columns}`;
export type AccountField = keyof typeof BY_ACCOUNT;
const ACCOUNT_COLUMN = { externalId: null, username: 'username', phone: 'phone', email: 'email' } as const;
/** A client row as hand-written statements select it (every column, by its database name). */
export const clientShape = C;

/**
 * Two CTEs for a statement that goes on with them: `found`, the live client of channel $1 with account
 * $2, and `made`, when there is none, a new client with id $3 whose external id (and account column)
 * is the account. A concurrent insert of the same external id leaves both empty.
 */
export function accountClientCtes(field: AccountField): string {
  const column = ACCOUNT_COLUMN[field];
  return `found AS (${BY_ACCOUNT[field]}),
    made AS (INSERT INTO clients (id, channel_id, external_id${column ? `, ${column}` : ''})
             SELECT $3, $1, $2${column ? ', $2' : ''} WHERE NOT EXISTS (SELECT 1 FROM found) ${INSERT_TAIL})`;
}

export const clientRepository = {
  async byId(db: Db, id: string): Promise<ClientRow | undefined> {
    const [row] = await hot(db)(BY_ID, [id]);
    return row && C.map(row);
  },

  /** Finds a live client of a channel by one of its account fields. */
  async byAccount(
    db: Db,
    channelId: string,
    field: 'externalId' | 'username' | 'phone' | 'email',
    value: string,
  ): Promise<ClientRow | undefined> {
    const [row] = await hot(db)(BY_ACCOUNT[field], [channelId, value]);
    return row && C.map(row);
  },

  byExternalId(db: Db, channelId: string, externalId: string): Promise<ClientRow | undefined> {
    return clientRepository.byAccount(db, channelId, 'externalId', externalId);
  },

  /** The live clients of a channel with these external ids, by external id (one statement). */
  async byExternalIds(db: Db, channelId: string, externalIds: string[]): Promise<Map<string, ClientRow>> {
    if (externalIds.length === 0) return new Map();
    const rows = await hot(db)(BY_EXTERNAL_IDS, [channelId, JSON.stringify(externalIds)]);
    return new Map(rows.map((r) => C.map(r)).map((c) => [c.externalId, c]));
  },

  /**
   * Inserts a client, or returns the live one with the same (channel, externalId) — concurrent
   * callers get the same row.
   */
  async findOrInsert(
    db: Db,
    values: typeof clients.$inferInsert,
  ): Promise<{ client: ClientRow; created: boolean }> {
    const keys = Object.keys(values).filter((k) => values[k as keyof typeof values] !== undefined);
    const [inserted] = await hot(db)(
      clientWriter.insert(keys, INSERT_TAIL),
      clientWriter.params(values as Partial<ClientRow>, keys),
    );
    if (inserted) return { client: C.map(inserted), created: true };
    const existing = await clientRepository.byExternalId(db, values.channelId, values.externalId);
    if (!existing) throw new Error('client conflict without a live row');
    return { client: existing, created: false };
  },

  async update(
    db: Db,
    id: string,
    patch: Partial<typeof clients.$inferInsert>,
  ): Promise<ClientRow | undefined> {
    const [row] = await db
      .update(clients)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(clients.id, id), isNull(clients.deletedAt)))
      .returning();
    return row;
  },

  /**
   * Records the client's presence (activity when `online`, an explicit offline otherwise); true when
   * it changed the client's state.
   */
  async setOnline(db: Db, id: string, online: boolean, at: Date): Promise<boolean> {
    const rows = await queryRows<{ was_online: boolean }>(
      db,
      sql`UPDATE clients c SET online = ${online}, last_seen_at = ${at.toISOString()}::timestamptz
          FROM (SELECT id, online AS was_online FROM clients WHERE id = ${id} FOR UPDATE) old
          WHERE c.id = old.id RETURNING old.was_online`,
    );
    return rows[0] !== undefined && rows[0].was_online !== online;
  },

  /**
   * Online clients silent for their line's timeout (`queue.clientOfflineTimeoutSeconds`, else
   * `defaultSeconds`; 0 never) go offline; returns them. Silent means no activity recorded since
   * (`last_seen_at`) and no message into their open session since (messages of an online client
   * do not touch the client row).
   */
  async markQuietOffline(
    db: Db,
    now: Date,
    defaultSeconds: number,
  ): Promise<{ id: string; channel_id: string }[]> {
    const at = now.toISOString();
    return queryRows(
      db,
      sql`UPDATE clients c SET online = false
          FROM channels ch JOIN lines l ON l.id = ch.line_id,
            LATERAL (SELECT COALESCE(CASE WHEN jsonb_typeof(l.queue->'clientOfflineTimeoutSeconds') = 'number'
              THEN (l.queue->>'clientOfflineTimeoutSeconds')::int END, ${defaultSeconds}::int) AS secs) t
          WHERE c.online AND ch.id = c.channel_id AND t.secs > 0
            AND c.last_seen_at < ${at}::timestamptz - make_interval(secs => t.secs)
            AND NOT EXISTS (SELECT 1 FROM sessions s
              WHERE s.client_id = c.id AND s.channel_id = c.channel_id
                AND s.state IN ('Waiting', 'AssignedToBot', 'AssignedToOperator')
                AND s.last_client_message_at >= ${at}::timestamptz - make_interval(secs => t.secs))
          RETURNING c.id, c.channel_id`,
    );
  },

  /** The messenger takes messages to the client again (they wrote to us). */
  async markReachable(db: Db, id: string): Promise<void> {
    await db
      .update(clients)
      .set({ unreachable: false, unreachableReason: null, updatedAt: new Date() })
      .where(eq(clients.id, id));
  },

  async markUnreachable(db: Db, id: string, reason: string): Promise<void> {
    await db
      .update(clients)
      .set({ unreachable: true, unreachableReason: reason, updatedAt: new Date() })
      .where(eq(clients.id, id));
  },
};
