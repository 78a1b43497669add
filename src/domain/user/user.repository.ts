import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { apiTokens, users } from '../../db/schema.ts';

export type UserRow = typeof users.$inferSelect;

/** Advisory lock key of the first-admin check (the migrations hold 7_263_410_001). */
const FIRST_ADMIN_LOCK = 7_263_410_002;

export const userRepository = {
  /** Serialises the first-admin check of nodes starting together (held to the end of the transaction). */
  async lockFirstAdmin(db: Db): Promise<void> {
    await db.execute(sql`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK})`);
  },

  async count(db: Db): Promise<number> {
    const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
    return row?.n ?? 0;
  },

  async byId(db: Db, id: string): Promise<UserRow | undefined> {
    const [row] = await db.select().from(users).where(eq(users.id, id));
    return row;
  },

  async byLogin(db: Db, login: string): Promise<UserRow | undefined> {
    const [row] = await db
      .select()
      .from(users)
      .where(and(sql`lower(${users.login}) = lower(${login})`, isNull(users.deletedAt)));
    return row;
  },

  async insert(db: Db, values: typeof users.$inferInsert): Promise<UserRow> {
    const [row] = await db.insert(users).values(values).returning();
    return row!;
  },

  async update(db: Db, id: string, patch: Partial<typeof users.$inferInsert>): Promise<UserRow | undefined> {
    const [row] = await db
      .update(users)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(users.id, id))
      .returning();
    return row;
  },

  async insertToken(db: Db, values: typeof apiTokens.$inferInsert) {
    const [row] = await db.insert(apiTokens).values(values).returning();
    return row!;
  },

  /** The live user behind a token hash, touching the token's last use. */
  async byTokenHash(db: Db, tokenHash: string): Promise<{ user: UserRow; tokenId: string } | undefined> {
    const [row] = await db
      .select({ user: users, tokenId: apiTokens.id })
      .from(apiTokens)
      .innerJoin(users, eq(users.id, apiTokens.userId))
      .where(
        and(
          eq(apiTokens.tokenHash, tokenHash),
          isNull(apiTokens.revokedAt),
          sql`(${apiTokens.expiresAt} IS NULL OR ${apiTokens.expiresAt} > now())`,
          isNull(users.deletedAt),
        ),
      );
    return row;
  },

  async revokeToken(db: Db, tokenId: string): Promise<void> {
    await db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, tokenId));
  },

  /** Revokes the user's live tokens of one name (e.g. every login); returns their ids. */
  async revokeTokensNamed(db: Db, userId: string, name: string): Promise<string[]> {
    const rows = await db
      .update(apiTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiTokens.userId, userId), eq(apiTokens.name, name), isNull(apiTokens.revokedAt)))
      .returning({ id: apiTokens.id });
    return rows.map((r) => r.id);
  },

  async revokeAllTokens(db: Db, userId: string): Promise<void> {
    await db
      .update(apiTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)));
  },
};
