import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestContext } from '../helpers/app.ts';
import { databaseKinds } from '../helpers/db.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';
import { connectOperator } from './operator-client.ts';

const redisUrl = process.env.REDIS_URL;

for (const kind of databaseKinds()) {
  describe(`live events across two nodes [${kind}]`, { skip: redisUrl ? false : 'needs REDIS_URL' }, () => {
    let a: TestContext;
    let b: TestContext;
    before(async () => {
      const redisPrefix = `omniline-test-${randomUUID()}:`;
      a = await startTestApp(kind, { background: true, listen: true, redisUrl, redisPrefix });
      b = await startTestApp(kind, {
        background: true,
        listen: true,
        redisUrl,
        redisPrefix,
        database: a.database,
      });
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });

    it('delivers an event produced on one node to an operator connected to the other', async () => {
      const operator = await createUser(a, 'operator');
      const line = await createLine(a, { operatorIds: [operator.id] });
      const channel = await createChannel(a, line.id, 'api');
      const app = await connectOperator(b.url!, operator.token);
      try {
        await apiWebhook(a, channel.id, clientMessage('cross-1', 'from node A'));
        const started = await app.waitForEvent('chatSessionStarted');
        assert.equal(started.data.lastMessage.text, 'from node A');
        await apiWebhook(a, channel.id, clientMessage('cross-1', 'again'));
        await app.waitForEvent('chatMessageCreated', (d) => d.message.text === 'again');
      } finally {
        app.close();
      }
    });

    it('closes an older workspace on the other node when the operator logs in again', async () => {
      const operator = await createUser(a, 'operator');
      const older = await connectOperator(a.url!, operator.token);
      await new Promise((r) => setTimeout(r, 300));
      const secondLogin = (await a.services.users.login(operator.login, 'password-123')).token;
      const newer = await connectOperator(b.url!, secondLogin);
      try {
        await older.waitForEvent('chatUserExists');
        const deadline = Date.now() + 5000;
        while (!older.disconnects.some((d) => d.code === 4502) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 25));
        assert.ok(older.disconnects.some((d) => d.code === 4502));
        assert.equal(newer.centrifuge.state, 'connected');
      } finally {
        older.close();
        newer.close();
      }
    });

    it('ends a logged-out token’s connection on the other node at once', async () => {
      const operator = await createUser(a, 'operator');
      const line = await createLine(a, { operatorIds: [operator.id] });
      const channel = await createChannel(a, line.id, 'api');
      const app = await connectOperator(b.url!, operator.token);
      try {
        await apiWebhook(a, channel.id, clientMessage('cross-logout', 'hello'));
        await app.waitForEvent('chatSessionAdded');
        const res = await a.request('POST', '/api/v1/auth/logout', { token: operator.token });
        assert.equal(res.status, 204);
        await waitFor(() => app.disconnects.find((d) => d.code === 4503), 5000, 'the logout disconnect');
        const before = app.events.length;
        await apiWebhook(a, channel.id, clientMessage('cross-logout', 'still there?'));
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(app.events.length, before, 'nothing reaches the logged-out connection');
        assert.equal(app.centrifuge.state, 'disconnected');
      } finally {
        app.close();
      }
    });
  });
}
