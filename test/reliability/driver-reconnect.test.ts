/**
 * The database driver (postgres.js 3.4.9 with patches/postgres+3.4.9.patch) after its backends are
 * terminated while transactions (`reserve()`) and plain statements run at full speed, on PostgreSQL:
 * every operation settles — resolved, or rejected with a connection error — once the cuts are over.
 *
 * Unpatched, some did not (reproduced every run): a statement given to a connection between its
 * socket's 'error' and 'close' events stayed queued, and the next socket's first ReadyForQuery was
 * taken as its answer, so the connection then waited for replies it would never get; and a reserve()
 * that a reconnect took out of the pool's waiting queries was dropped when the connection opened.
 * Both waited until the next connection loss.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx --test test/reliability/driver-reconnect.test.ts
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import postgres from 'postgres';

const url = process.env.DATABASE_URL;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('postgres.js reconnects on PostgreSQL', { skip: url ? false : 'needs DATABASE_URL' }, () => {
  for (const fetchTypes of [true, false]) {
    it(`settles every statement and transaction after its backends are cut (fetch_types ${fetchTypes})`, async () => {
      const name = `omniline-driver-${process.pid}-${fetchTypes}`;
      const sql = postgres(url!, {
        max: 6,
        connect_timeout: 2,
        backoff: (retries: number) => Math.min(0.01 * 2 ** retries, 0.5),
        fetch_types: fetchTypes,
        connection: { application_name: name },
        onnotice: () => {},
      });
      const admin = postgres(url!, { max: 1 });
      const pending = new Set<Promise<unknown>>();
      let running = true;
      let done = 0;
      const once = async (tx: boolean) => {
        if (!tx) return sql`select 1`;
        const r = await sql.reserve();
        try {
          await r`begin`;
          await r`select pg_sleep(0.001)`;
          await r`commit`;
        } finally {
          r.release();
        }
      };
      const worker = async (tx: boolean) => {
        while (running) {
          const op = once(tx).then(
            () => void done++,
            () => {},
          );
          pending.add(op);
          await op;
          pending.delete(op);
          // Yield to I/O: a failed operation must not spin the loop without letting sockets close.
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      const workers = Array.from({ length: 20 }, (_, i) => worker(i % 2 === 1));
      try {
        for (let cut = 0; cut < 4; cut++) {
          await sleep(800);
          await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${name}`;
        }
        await sleep(800);
        running = false;
        // No further cut: whatever is still pending must settle on its own (a stuck one never would).
        const settled = await Promise.race([
          Promise.all(workers).then(() => true),
          sleep(15_000).then(() => false),
        ]);
        assert.equal(settled, true, `${pending.size} operations still waiting after the cuts`);
        assert.ok(done > 0, 'operations went through between the cuts');
        // And the pool serves again: statements and transactions on every connection.
        await Promise.all(Array.from({ length: 12 }, (_, i) => once(i % 2 === 1)));
      } finally {
        running = false;
        await sql.end({ timeout: 1 });
        await admin.end();
      }
    });
  }
});
