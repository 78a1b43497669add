/**
 * Plans that must not depend on statistics. A prepared statement gets a generic plan after a few
 * calls and keeps it for the connection's life; made while a table is nearly empty (a new
 * installation, or autovacuum off), the wrong choice then costs a scan that grows with the table.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { BY_ACCOUNT } from '../../src/domain/client/client.repository.ts';
import { describeEachDatabase } from '../helpers/app.ts';

describeEachDatabase('plans', (ctx) => {
  it('finds a client by username, phone or e-mail through that account index, even on an empty table', async () => {
    const accounts = { username: 'username', phone: 'phone', email: 'email' } as const;
    for (const [field, column] of Object.entries(accounts)) {
      const plan = await ctx().db.transaction(async (tx) => {
        await tx.execute(sql`SET LOCAL plan_cache_mode = force_generic_plan`);
        await tx.execute(
          sql.raw(`PREPARE account_lookup (uuid, text) AS ${BY_ACCOUNT[field as keyof typeof accounts]}`),
        );
        const rows = await queryRows<{ 'QUERY PLAN': string }>(
          tx,
          sql.raw(`EXPLAIN EXECUTE account_lookup ('00000000-0000-0000-0000-000000000001', 'x')`),
        );
        await tx.execute(sql`DEALLOCATE account_lookup`);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
      assert.match(plan, new RegExp(`Index Scan using clients_channel_${column}_idx`), `${field}:\n${plan}`);
    }
  });
});
