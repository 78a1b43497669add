/**
 * Every snippet of the lines API document (test/sdk/snippets/, verbatim) run by the script runner
 * against a real server over HTTP, in the document's order, each with its effect checked.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createSystem, OmnilineError, type ResponseEvent } from '../../sdk/src/index.ts';
import { runScript } from '../../sdk/src/runner.ts';
import { stubProviders } from '../fakes/stub-providers.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { addMessage, createChannel, createLine, createUser } from '../helpers/factories.ts';

const SNIPPETS = fileURLToPath(new URL('./snippets/', import.meta.url));

/** Runs one snippet; answers what the server answered to each of its calls. */
async function run(ctx: TestContext, name: string, context: string[] = []) {
  const responses: ResponseEvent[] = [];
  const system = createSystem({ url: ctx.url!, token: ctx.adminToken, onResponse: (e) => responses.push(e) });
  await runScript(path.join(SNIPPETS, `${name}.ts`), { system, context });
  return responses;
}

const answerTo = (responses: ResponseEvent[], method: string, pathRe: RegExp) => {
  const found = responses.filter((r) => r.method === method && pathRe.test(r.path));
  assert.ok(found.length > 0, `no ${method} ${pathRe} among ${responses.map((r) => r.path).join(', ')}`);
  return found.at(-1)!.body as any;
};

describeEachDatabase(
  'the lines API document, snippet by snippet, through the script runner',
  (ctx) => {
    const w = {} as {
      line: { id: string };
      telegram: { id: string };
      telegram2: { id: string };
      channels: Record<string, { id: string }>;
      operator: { id: string };
      contact: { id: string };
      open: { id: string; clientIds: string[] };
    };
    const get = async (url: string) => (await ctx().request('GET', `/api/v1${url}`)).body;
    const channelState = async (id: string) => (await get(`/channels/${id}`)).state as string;

    before(async () => {
      w.operator = await createUser(ctx(), 'operator');
      await createLine(ctx(), { name: 'another line' });
      w.line = await createLine(ctx(), { name: 'some line', operatorIds: [w.operator.id] });
      // Names order the channels: `first()` without a sort takes the first by name.
      w.telegram = await createChannel(ctx(), w.line.id, 'telegram', { name: 'b telegram' });
      w.telegram2 = await createChannel(ctx(), w.line.id, 'telegram', { name: 'z telegram' });
      w.channels = {};
      for (const type of ['inbox', 'viberbot', 'livechat', 'instagram', 'whatsapp', 'internal']) {
        w.channels[type] = await createChannel(ctx(), w.line.id, type as never, { name: `c ${type}` });
      }
      const opened = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: w.telegram.id, account: 'telegram_username' },
      });
      assert.equal(opened.status, 201, JSON.stringify(opened.body));
      w.open = opened.body;
      const contact = await ctx().request('POST', '/api/v1/contacts', { body: { name: 'Ivan Petrov' } });
      w.contact = contact.body;
      // Inactive before the scripts run: an inbox and a whatsapp channel.
      for (const type of ['inbox', 'whatsapp']) {
        await ctx().request('POST', `/api/v1/channels/${w.channels[type]!.id}/disconnect`);
      }
    });

    it('finds the line named "some line"', async () => {
      const res = await run(ctx(), '01-find-line');
      const page = answerTo(res, 'POST', /^\/lines\/search$/);
      assert.deepEqual(
        page.items.map((l: { id: string; name: string }) => [l.id, l.name]),
        [[w.line.id, 'some line']],
      );
    });

    it('lists every channel that is not active, and only those', async () => {
      const page = answerTo(await run(ctx(), '02-inactive-channels'), 'POST', /^\/channels\/search$/);
      assert.deepEqual(
        page.items.map((c: { id: string }) => c.id).sort(),
        [w.channels.inbox!.id, w.channels.whatsapp!.id].sort(),
      );
    });

    it('disconnects the first active channel', async () => {
      // "b telegram" is the first active channel by name.
      await run(ctx(), '03-disconnect-channel');
      assert.equal(await channelState(w.telegram.id), 'disconnected');
      assert.equal(await channelState(w.telegram2.id), 'active');
      assert.equal(await channelState(w.channels.livechat!.id), 'active');
    });

    it('reconnects the inactive channels of the reconnectable types, and only those', async () => {
      await ctx().request('POST', `/api/v1/channels/${w.channels.livechat!.id}/disconnect`);
      const res = await run(ctx(), '04-reconnect-channels');
      const reconnected = res.filter((r) => /\/reconnect$/.test(r.path)).map((r) => r.path.split('/')[2]);
      assert.deepEqual(reconnected.sort(), [w.channels.inbox!.id, w.channels.livechat!.id].sort());
      assert.equal(await channelState(w.channels.inbox!.id), 'active');
      assert.equal(await channelState(w.channels.livechat!.id), 'active');
      // Not a reconnectable type (whatsapp), not searched for (telegram): still disconnected.
      assert.equal(await channelState(w.channels.whatsapp!.id), 'disconnected');
      assert.equal(await channelState(w.telegram.id), 'disconnected');
      await ctx().request('POST', `/api/v1/channels/${w.telegram.id}/reconnect`); // telegram: 409, stays
    });

    it('finds the telegram client by username on the telegram channel', async () => {
      const res = await run(ctx(), '05-find-telegram-client');
      const page = answerTo(res, 'POST', /^\/clients\/search$/);
      assert.equal(page.items.length, 1);
      assert.equal(page.items[0].id, w.open.clientIds[0]);
      assert.equal(page.items[0].channelId, w.telegram.id);
    });

    it('links the client to the contact given in Context and saves it', async () => {
      await run(ctx(), '06-link-client', [`contact=contact:${w.contact.id}`]);
      const client = await get(`/clients/${w.open.clientIds[0]}`);
      assert.deepEqual(client.applicationItem, { type: 'contact', id: w.contact.id });
    });

    it("finds the client's open session", async () => {
      const page = answerTo(await run(ctx(), '07-open-session-of-client'), 'POST', /^\/sessions\/search$/);
      assert.deepEqual(
        page.items.map((s: { id: string }) => s.id),
        [w.open.id],
      );
    });

    it("starts a new session in the Context channel with the contact's first account", async () => {
      const res = await run(ctx(), '08-create-session', [
        `contact=contact:${w.contact.id}`,
        `channel=channel:${w.telegram2.id}`,
      ]);
      const created = answerTo(res, 'POST', /^\/sessions$/);
      assert.equal(created.channelId, w.telegram2.id);
      assert.equal(created.state, 'Waiting');
      const client = await get(`/clients/${created.clientIds[0]}`);
      assert.equal(client.username, 'telegram_username');
      assert.equal(res.find((r) => r.path === '/sessions')!.status, 201);
    });

    it('assigns the session to the operator given in Context', async () => {
      await run(ctx(), '09-assign-to-operator', [`sessionId=${w.open.id}`, `user=user:${w.operator.id}`]);
      const session = await get(`/sessions/${w.open.id}`);
      assert.equal(session.state, 'AssignedToOperator');
      assert.equal(session.operatorId, w.operator.id);
    });

    it("reads the session's last message", async () => {
      const session = { id: w.open.id, channelId: w.telegram.id };
      await addMessage(ctx(), session, { text: 'first' });
      const last = await addMessage(ctx(), session, { text: 'the last one' });
      const message = answerTo(
        await run(ctx(), '10-last-message', [`sessionId=${w.open.id}`]),
        'GET',
        /last-message$/,
      );
      assert.equal(message.id, last.id);
      assert.equal(message.text, 'the last one');
    });

    it('marks the session as spam, and refuses it for internal and support channels', async () => {
      await run(ctx(), '11-mark-as-spam', [`sessionId=${w.open.id}`]);
      const session = await get(`/sessions/${w.open.id}`);
      assert.equal(session.state, 'MarkedAsSpam');
      const internal = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: w.channels.internal!.id, account: 'colleague-1' },
      });
      await assert.rejects(run(ctx(), '11-mark-as-spam', [`sessionId=${internal.body.id}`]), (err) => {
        assert.ok(err instanceof OmnilineError);
        assert.equal(err.code, 'SPAM_NOT_ALLOWED_FOR_CHANNEL_TYPE');
        assert.equal(err.status, 409);
        return true;
      });
      assert.equal((await get(`/sessions/${internal.body.id}`)).state, 'Waiting');
      // Nor for a support channel.
      const support = await createChannel(ctx(), w.line.id, 'support', { name: 'c support' });
      const help = await ctx().request('POST', '/api/v1/sessions', {
        body: { channelId: support.id, account: 'colleague-2' },
      });
      assert.equal(help.status, 201, JSON.stringify(help.body));
      await assert.rejects(run(ctx(), '11-mark-as-spam', [`sessionId=${help.body.id}`]), {
        name: 'OmnilineError',
        code: 'SPAM_NOT_ALLOWED_FOR_CHANNEL_TYPE',
      });
      assert.equal((await get(`/sessions/${help.body.id}`)).state, 'Waiting');
    });

    it('takes the last session of the chain out of spam, refuses an earlier one, takes any inbox session', async () => {
      await run(ctx(), '12-unmark-as-spam', [`sessionId=${w.open.id}`]);
      assert.equal((await get(`/sessions/${w.open.id}`)).state, 'Closed');
      // A chain: spam, then the same account writes again (a new session after it).
      const a = (
        await ctx().request('POST', '/api/v1/sessions', {
          body: { channelId: w.channels.livechat!.id, account: 'visitor-1' },
        })
      ).body;
      await ctx().request('POST', `/api/v1/sessions/${a.id}/spam`);
      const b = (
        await ctx().request('POST', '/api/v1/sessions', {
          body: { channelId: w.channels.livechat!.id, account: 'visitor-1' },
        })
      ).body;
      assert.equal(b.previousSessionId, a.id);
      await assert.rejects(run(ctx(), '12-unmark-as-spam', [`sessionId=${a.id}`]), {
        name: 'OmnilineError',
        code: 'UNMARK_SPAM_NOT_LAST_IN_CHAIN',
      });
      assert.equal((await get(`/sessions/${a.id}`)).state, 'MarkedAsSpam');
      // Any session of an inbox channel comes back, the last of its chain or not.
      const mail = (account: string) =>
        ctx().request('POST', '/api/v1/sessions', { body: { channelId: w.channels.inbox!.id, account } });
      const m1 = (await mail('writer@example.com')).body;
      await ctx().request('POST', `/api/v1/sessions/${m1.id}/spam`);
      const m2 = (await mail('writer@example.com')).body;
      assert.equal(m2.previousSessionId, m1.id);
      await run(ctx(), '12-unmark-as-spam', [`sessionId=${m1.id}`]);
      assert.equal((await get(`/sessions/${m1.id}`)).state, 'Closed');
    });
  },
  { listen: true, plugins: [stubProviders()] },
);
