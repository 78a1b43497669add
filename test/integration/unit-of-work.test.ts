/**
 * UnitOfWork's asyncCommit: the one transaction it runs commits without waiting for the WAL flush,
 * and the setting ends with it — the connection goes back to the pool committing synchronously.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { UnitOfWork } from '../../src/db/unit-of-work.ts';
import { EventBus } from '../../src/domain/events/domain-events.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from '../helpers/db.ts';

for (const kind of databaseKinds()) {
  describe(`unit of work [${kind}]`, () => {
    let database: TestDatabase;
    let uow: UnitOfWork;
    before(async () => {
      database = await createTestDatabase(kind);
      uow = new UnitOfWork(database.db, new EventBus());
      await queryRows(database.db, sql`CREATE TABLE uow_probe (id int PRIMARY KEY)`);
    });
    after(async () => {
      await database?.close();
    });

    const setting = async (db: TestDatabase['db']) =>
      (await queryRows<{ synchronous_commit: string }>(db, sql`SHOW synchronous_commit`))[0]!
        .synchronous_commit;

    it('commits an asyncCommit transaction without the flush, and that transaction alone', async () => {
      const before = await setting(database.db);
      assert.notEqual(before, 'off', 'the server commits synchronously by default');
      const inside = await uow.run(
        async (tx) => {
          await queryRows(tx.db, sql`INSERT INTO uow_probe VALUES (1)`);
          return setting(tx.db);
        },
        { asyncCommit: true },
      );
      assert.equal(inside, 'off');
      assert.equal(await uow.run((tx) => setting(tx.db)), before, 'the next transaction flushes again');
      // Every pooled connection is back to the server's setting (the pool has several on PostgreSQL).
      const after = await Promise.all(Array.from({ length: 8 }, () => setting(database.db)));
      assert.deepEqual(after, Array(8).fill(before));
      const rows = await queryRows<{ id: number }>(database.db, sql`SELECT id FROM uow_probe`);
      assert.deepEqual(
        rows.map((r) => r.id),
        [1],
        'the asyncCommit transaction committed',
      );
    });

    it('rolls an asyncCommit transaction back like any other', async () => {
      await assert.rejects(
        uow.run(
          async (tx) => {
            await queryRows(tx.db, sql`INSERT INTO uow_probe VALUES (2)`);
            throw new Error('changed my mind');
          },
          { asyncCommit: true },
        ),
        /changed my mind/,
      );
      const rows = await queryRows<{ id: number }>(database.db, sql`SELECT id FROM uow_probe WHERE id = 2`);
      assert.equal(rows.length, 0);
    });
  });
}
