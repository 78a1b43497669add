import { and, eq, isNull, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { clients, contacts } from '../../db/schema.ts';

export type ContactRow = typeof contacts.$inferSelect;

export const contactRepository = {
  /** A live contact; with `scope`, only when the scope (the caller's, see access.repository) holds it. */
  async byId(
    db: Db,
    id: string,
    opts: { forUpdate?: boolean; scope?: SQL } = {},
  ): Promise<ContactRow | undefined> {
    const q = db
      .select()
      .from(contacts)
      .where(and(eq(contacts.id, id), isNull(contacts.deletedAt), opts.scope));
    const [row] = opts.forUpdate ? await q.for('update') : await q;
    return row;
  },

  async insert(db: Db, values: typeof contacts.$inferInsert): Promise<ContactRow> {
    const [row] = await db.insert(contacts).values(values).returning();
    return row!;
  },

  async update(
    db: Db,
    id: string,
    patch: Partial<typeof contacts.$inferInsert>,
  ): Promise<ContactRow | undefined> {
    const [row] = await db
      .update(contacts)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(contacts.id, id), isNull(contacts.deletedAt)))
      .returning();
    return row;
  },

  /** Points every client linked to `fromId` at `toId`; returns how many moved. */
  async relinkClients(db: Db, fromId: string, toId: string): Promise<number> {
    const rows = await db
      .update(clients)
      .set({ applicationId: toId, updatedAt: new Date() })
      .where(and(eq(clients.applicationType, 'contact'), eq(clients.applicationId, fromId)))
      .returning({ id: clients.id });
    return rows.length;
  },
};
