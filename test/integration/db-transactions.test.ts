/**
 * Transactions on PostgreSQL under a saturated pool. postgres.js's own `sql.begin` can send BEGIN
 * down a busy connection without reserving it (porsager/postgres#823): the transaction then fails
 * with UNSAFE_TRANSACTION, and its connection returns to the pool inside an open transaction.
 * src/db/client.ts reserves an idle connection first. The driver's race needs BEGIN to be the very
 * write that fills a pipeline or the socket buffer, which no test can force from outside (the
 * routing benchmark hit it once in 10,000 sessions); this drives the situation it lives in — every
 * connection busy, hundreds of queries pipelined behind them, transactions arriving among them — and
 * checks what our transactions promise: their own connection, rollback, savepoints, and a COMMIT that
 * could only roll back reported as a failure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { type Database, openDatabase, queryRows } from '../../src/db/client.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

describe('transactions under a saturated pool [postgres]', {
  skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL',
}, () => {
  let scratch: TestDatabase;
  let database: Database;
  before(async () => {
    scratch = await createTestDatabase('postgres');
    database = await openDatabase({ url: scratch.url!, dataDir: null, maxConnections: 2 });
  });
  after(async () => {
    await database?.close();
    await scratch?.close();
  });

  it('runs every transaction on its own connection, and leaves none open', async () => {
    const { db } = database;
    const busy = [1, 2].map(() => queryRows(db, sql`SELECT pg_sleep(0.2)`));
    // Transactions interleaved with plain queries: some BEGIN lands where a pipeline fills up.
    const plain: Promise<{ n: number }[]>[] = [];
    const transactions: Promise<{ first: string; second: string }>[] = [];
    for (let i = 0; i < 600; i++) {
      plain.push(queryRows<{ n: number }>(db, sql`SELECT ${i}::int AS n`));
      if (i % 5 === 0)
        transactions.push(
          db.transaction(async (tx) => {
            const [a] = await queryRows<{ xid: string }>(tx, sql`SELECT txid_current()::text AS xid`);
            const [b] = await queryRows<{ xid: string }>(
              tx,
              sql`SELECT txid_current()::text AS xid, ${i}::int AS i`,
            );
            return { first: a!.xid, second: b!.xid };
          }),
        );
    }
    const [, rows, results] = await Promise.all([
      Promise.all(busy),
      Promise.all(plain),
      Promise.all(transactions),
    ]);
    assert.deepEqual(
      rows.map((r) => r[0]!.n),
      Array.from({ length: 600 }, (_, i) => i),
    );
    for (const r of results) assert.equal(r.first, r.second, 'both statements ran in one transaction');
    assert.equal(new Set(results.map((r) => r.first)).size, 120, 'each transaction was its own');
    const [open] = await queryRows<{ n: number }>(
      db,
      sql`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
    );
    assert.equal(open!.n, 0);
  });

  it('rolls a failed transaction back, and reports a COMMIT that could only roll back', async () => {
    const { db } = database;
    await queryRows(db, sql`CREATE TABLE IF NOT EXISTS tx_probe (id int PRIMARY KEY)`);
    await assert.rejects(
      db.transaction(async (tx) => {
        await queryRows(tx, sql`INSERT INTO tx_probe VALUES (1)`);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    await assert.rejects(
      db.transaction(async (tx) => {
        await queryRows(tx, sql`INSERT INTO tx_probe VALUES (2)`);
        // A failed statement whose error the body swallows: the transaction is aborted.
        await queryRows(tx, sql`SELECT 1 / 0`).catch(() => undefined);
      }),
      /rolled back/,
    );
    const nested = await db.transaction(async (tx) => {
      await queryRows(tx, sql`INSERT INTO tx_probe VALUES (3)`);
      await tx
        .transaction(async (inner) => {
          await queryRows(inner, sql`INSERT INTO tx_probe VALUES (4)`);
          throw new Error('inner only');
        })
        .catch(() => undefined);
      return queryRows<{ id: number }>(tx, sql`SELECT id FROM tx_probe ORDER BY id`);
    });
    assert.deepEqual(
      nested.map((r) => r.id),
      [3],
    );
    const rows = await queryRows<{ id: number }>(db, sql`SELECT id FROM tx_probe ORDER BY id`);
    assert.deepEqual(
      rows.map((r) => r.id),
      [3],
    );
  });
});
