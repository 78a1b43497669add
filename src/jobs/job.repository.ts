import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { queryRows } from '../db/client.ts';
import { jobs } from '../db/schema.ts';

export type JobRow = typeof jobs.$inferSelect;

export const jobRepository = {
  async enqueue(
    db: Db,
    kind: string,
    payload: Record<string, unknown>,
    opts: { runAt?: Date; maxAttempts?: number } = {},
  ) {
    const [row] = await db
      .insert(jobs)
      .values({ kind, payload, runAt: opts.runAt ?? new Date(), maxAttempts: opts.maxAttempts ?? 10 })
      .returning({ id: jobs.id });
    return row!.id;
  },

  /** Enqueues many jobs in one statement. */
  async enqueueMany(
    db: Db,
    items: readonly { kind: string; payload: Record<string, unknown>; maxAttempts?: number; runAt?: Date }[],
  ): Promise<void> {
    if (items.length === 0) return;
    const now = new Date();
    await db.insert(jobs).values(
      items.map((j) => ({
        kind: j.kind,
        payload: j.payload,
        runAt: j.runAt ?? now,
        maxAttempts: j.maxAttempts ?? 10,
      })),
    );
  },

  /**
   * Claims up to `limit` due jobs of the given kinds for `leaseMs`, skipping rows other nodes hold.
   * A job whose lease expired (its node died) is due again.
   */
  async claim(db: Db, kinds: string[], limit: number, holder: string, leaseMs: number): Promise<JobRow[]> {
    const rows = await queryRows<{ id: number }>(
      db,
      sql`UPDATE jobs SET locked_until = now() + make_interval(secs => ${leaseMs / 1000}), locked_by = ${holder},
            attempts = attempts + 1
          WHERE id IN (
            SELECT id FROM jobs
            WHERE done_at IS NULL AND failed_at IS NULL AND run_at <= now()
              AND (locked_until IS NULL OR locked_until < now())
              AND kind IN (${sql.join(
                kinds.map((k) => sql`${k}`),
                sql`, `,
              )})
            ORDER BY run_at, id
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED)
          RETURNING id`,
    );
    if (rows.length === 0) return [];
    return db
      .select()
      .from(jobs)
      .where(
        sql`${jobs.id} IN (${sql.join(
          rows.map((r) => sql`${Number(r.id)}`),
          sql`, `,
        )})`,
      )
      .orderBy(jobs.runAt, jobs.id);
  },

  async complete(db: Db, id: number, holder: string): Promise<void> {
    await db
      .update(jobs)
      .set({ doneAt: new Date(), lockedUntil: null })
      .where(and(eq(jobs.id, id), eq(jobs.lockedBy, holder)));
  },

  async retryLater(db: Db, id: number, holder: string, runAt: Date, error: string): Promise<void> {
    await db
      .update(jobs)
      .set({ runAt, lockedUntil: null, lastError: error.slice(0, 2000) })
      .where(and(eq(jobs.id, id), eq(jobs.lockedBy, holder)));
  },

  async fail(db: Db, id: number, holder: string, error: string): Promise<void> {
    await db
      .update(jobs)
      .set({ failedAt: new Date(), lockedUntil: null, lastError: error.slice(0, 2000) })
      .where(and(eq(jobs.id, id), eq(jobs.lockedBy, holder)));
  },

  async byId(db: Db, id: number): Promise<JobRow | undefined> {
    const [row] = await db.select().from(jobs).where(eq(jobs.id, id));
    return row;
  },
};
