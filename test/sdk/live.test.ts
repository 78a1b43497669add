/**
 * `System.live.connect()` against a real server: the official centrifuge client over a real
 * WebSocket, an operator's token, typed handlers per event name receiving what webhooks and
 * operator actions cause.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createSystem, type EventData, type OperatorEvent } from '../../sdk/src/index.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';

describeEachDatabase(
  'System.live, on a real server',
  (ctx) => {
    it('delivers chatSessionStarted, chatSessionAdded and chatMessageCreated to typed handlers', async () => {
      const operator = await createUser(ctx(), 'operator');
      const line = await createLine(ctx(), { operatorIds: [operator.id] });
      const channel = await createChannel(ctx(), line.id, 'api');
      const System = createSystem({ url: ctx().url!, token: operator.token });
      const live = await System.live.connect();
      try {
        const texts: string[] = [];
        const all: OperatorEvent[] = [];
        // Typed by event name: `data.message` exists on chatMessageCreated's data.
        const off = live.on('chatMessageCreated', (data) => {
          texts.push(`${data.message.direction}:${data.message.text}`);
        });
        live.onAny((event) => all.push(event));
        const from = unique('live-sdk');
        const started = live.next('chatSessionStarted');
        const added = live.next('chatSessionAdded');
        assert.equal((await apiWebhook(ctx(), channel.id, clientMessage(from, 'hello'))).status, 200);
        const s: EventData<'chatSessionStarted'> = await started;
        assert.equal(s.status, 'AssignedToOperator');
        assert.equal(s.channel, 'api');
        assert.equal(s.lastMessage?.text, 'hello');
        assert.equal((await added).id, s.id);

        const created = live.next('chatMessageCreated', (d) => d.message.text === 'are you there?');
        await apiWebhook(ctx(), channel.id, clientMessage(from, 'are you there?'));
        const data = await created;
        assert.equal(data.sessionId, s.id);
        assert.equal(data.message.direction, 'incoming');
        assert.equal(data.message.sender.type, 'client');

        // The operator answers through the SDK; their own message comes back as an event too.
        const session = await System.lines.sessions.fetch(s.id);
        const echoed = live.next('chatMessageCreated', (d) => d.message.direction === 'outgoing');
        await session.sendMessage('yes, here');
        assert.equal((await echoed).message.text, 'yes, here');
        // The first message reaches the operator in chatSessionStarted's lastMessage; its own
        // chatMessageCreated goes to whoever followed the session when it was stored — nobody yet
        // when routing assigns after the write (PostgreSQL), the operator when it was quicker.
        const first = texts[0] === 'incoming:hello' ? 1 : 0;
        await waitFor(() => texts.length >= first + 2, 5000, 'two chatMessageCreated handler calls');
        assert.deepEqual(texts.slice(first), ['incoming:are you there?', 'outgoing:yes, here']);
        assert.ok(all.some((e) => e.event === 'chatSessionStarted'));

        off();
        await apiWebhook(ctx(), channel.id, clientMessage(from, 'after off'));
        await live.next('chatMessageCreated', (d) => d.message.text === 'after off');
        assert.equal(texts.length, first + 2, 'a handler stopped by its off() is not called again');

        // @ts-expect-error — not an event of the catalogue: a typo does not type-check
        live.on('chatMessageCreatd', () => {});
      } finally {
        live.close();
      }
    });

    it('refuses to connect with a token the server does not know, as an OmnilineError', async () => {
      const System = createSystem({ url: ctx().url!, token: 'oml_not-a-token' });
      await assert.rejects(
        System.live.connect({ centrifuge: { maxReconnectDelay: 50 } }),
        (err: Error & { code?: string }) => err.name === 'OmnilineError' && err.code === 'LIVE_DISCONNECTED',
      );
    });
  },
  { background: true, listen: true },
);
