import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { clientRepository } from '../../src/domain/client/client.repository.ts';
import { messageCreatedPayload } from '../../src/domain/message/message.events.ts';
import type { MessageRow } from '../../src/domain/message/message.repository.ts';
import { describeEachDatabase, startTestApp, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

describeEachDatabase('one inbound path', (ctx) => {
  let second: TestContext;
  before(async () => {
    second = await startTestApp(ctx().kind, { database: ctx().database });
  });
  after(() => second.close());

  it('runs the same inbound code on two nodes built by the same factory: both batch the common case', async () => {
    const operator = await createUser(ctx(), 'operator');
    const line = await createLine(ctx(), { operatorIds: [operator.id] });
    const channel = await createChannel(ctx(), line.id, 'api', { settings: { secret: API_SECRET } });
    const from = `u-${Date.now()}`;
    // First contact opens the session the general way (on the first node).
    assert.equal((await apiWebhook(ctx(), channel.id, clientMessage(from, 'first'))).status, 200);
    const nodes = [ctx(), second];
    const before = nodes.map((n) => ({ ...n.platform.inbound.ways }));
    for (const [i, node] of nodes.entries()) {
      assert.equal((await apiWebhook(node, channel.id, clientMessage(from, `again ${i}`))).status, 200);
    }
    const after = nodes.map((n) => n.platform.inbound.ways);
    assert.deepEqual(
      after.map((w, i) => [w.batched - before[i]!.batched, w.general - before[i]!.general]),
      [
        [1, 0],
        [1, 0],
      ],
      'each node stored the follow-up message with the batched statement',
    );
  });

  it('makes a client marked unreachable reachable again when they write into their open session', async () => {
    const line = await createLine(ctx(), {});
    const channel = await createChannel(ctx(), line.id, 'api', { settings: { secret: API_SECRET } });
    const from = `r-${Date.now()}`;
    assert.equal((await apiWebhook(ctx(), channel.id, clientMessage(from, 'first'))).status, 200);
    const [client] = await queryRows<{ id: string }>(
      ctx().db,
      sql`SELECT id FROM clients WHERE channel_id = ${channel.id} AND external_id = ${from}`,
    );
    await clientRepository.markUnreachable(ctx().db, client!.id, 'replied STOP');
    assert.equal((await apiWebhook(ctx(), channel.id, clientMessage(from, 'START'))).status, 200);
    const [row] = await queryRows<{ unreachable: boolean; reason: string | null; messages: number }>(
      ctx().db,
      sql`SELECT c.unreachable, c.unreachable_reason AS reason,
                 (SELECT count(*)::int FROM messages m WHERE m.sender_id = c.id::text) AS messages
          FROM clients c WHERE c.id = ${client!.id}`,
    );
    assert.deepEqual(row, { unreachable: false, reason: null, messages: 2 });
  });

  it('stores the same message.created payload on the batched and the general way', async () => {
    const line = await createLine(ctx(), {});
    const channel = await createChannel(ctx(), line.id, 'api', { settings: { secret: API_SECRET } });
    const from = `p-${Date.now()}`;
    await apiWebhook(ctx(), channel.id, clientMessage(from, 'general'));
    await apiWebhook(ctx(), channel.id, clientMessage(from, 'batched'));
    const rows = await queryRows<{ payload: unknown; message: Record<string, unknown> }>(
      ctx().db,
      sql`SELECT e.payload, to_jsonb(m) AS message FROM domain_events e JOIN messages m ON m.id = e.aggregate_id
          WHERE e.name = 'message.created' AND m.channel_id = ${channel.id} ORDER BY m.seq`,
    );
    assert.equal(rows.length, 2);
    const [session] = await queryRows<{ line_id: string }>(
      ctx().db,
      sql`SELECT line_id FROM sessions WHERE channel_id = ${channel.id}`,
    );
    for (const row of rows) {
      const m = row.message;
      const message = {
        id: m.id,
        sessionId: m.session_id,
        direction: m.direction,
        senderType: m.sender_type,
      } as MessageRow;
      const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
      assert.deepEqual(payload, messageCreatedPayload(message, session!.line_id));
    }
  });
});
