/** The gateway against the official `centrifuge` SDK, on one node with the in-memory broker. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type Centrifuge, State } from 'centrifuge';
import { MemoryBroker } from '../../src/realtime/memory-broker.ts';
import { ProtocolError } from '../../src/realtime/protocol.ts';
import { type Node, record, sdk, sleep, startNode, waitFor } from './helpers.ts';

const clients: Centrifuge[] = [];
const nodes: Node[] = [];
after(async () => {
  for (const c of clients) c.disconnect();
  for (const n of nodes) await n.close();
});

async function node(opts: Parameters<typeof startNode>[0] = {}, port = 0) {
  const n = await startNode(opts, port);
  nodes.push(n);
  return n;
}
function client(url: string, token: string, opts: Parameters<typeof sdk>[2] = {}) {
  const c = sdk(url, token, opts);
  clients.push(c);
  return c;
}

describe('realtime gateway with the centrifuge SDK', () => {
  it('gives the operator channel as a server-side subscription so on(publication) sees ctx.data.event', async () => {
    const n = await node();
    const c = client(n.url, 'tok-42');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    assert.equal(log.subscribed[0]!.channel, 'operator:42');
    assert.ok(log.subscribed[0]!.epoch, 'the subscription is positioned, with an epoch');
    assert.match(log.connected[0]!, /^[0-9a-f-]{36}$/);

    await n.gateway.publish('operator:42', { event: 'chatMessageCreated', chatId: 'c1' });
    await n.gateway.publish('operator:7', { event: 'notForThisOperator' });
    await waitFor(() => log.publications.length === 1, 3000, 'publication');
    assert.equal(log.publications[0]!.data.event, 'chatMessageCreated');
    assert.equal(log.publications[0]!.offset, 1);
    assert.deepEqual(n.gateway.connectionsOf('42').length, 1);
  });

  it('recovers exactly the missed publications when the SDK reconnects', async () => {
    const n = await node();
    const c = client(n.url, 'tok-1');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    await n.gateway.publish('operator:1', { event: 'e', n: 1 });
    await waitFor(() => log.publications.length === 1, 3000, 'first publication');

    c.disconnect();
    for (let i = 2; i <= 4; i++) await n.gateway.publish('operator:1', { event: 'e', n: i });
    c.connect();
    await waitFor(() => log.subscribed.length === 2 && log.publications.length === 4, 3000, 'recovery');
    assert.deepEqual(
      { recovered: log.subscribed[1]!.recovered, wasRecovering: log.subscribed[1]!.wasRecovering },
      { recovered: true, wasRecovering: true },
    );
    assert.deepEqual(
      log.publications.map((p) => [p.data.n, p.offset]),
      [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
      ],
    );
    await n.gateway.publish('operator:1', { event: 'e', n: 5 });
    await waitFor(() => log.publications.length === 5, 3000, 'live after recovery');
    await sleep(50);
    assert.equal(log.publications.length, 5, 'nothing delivered twice');
  });

  it('recovers after the server closes the socket with a reconnect code (3011)', async () => {
    const n = await node();
    const c = client(n.url, 'tok-2', { minReconnectDelay: 300, maxReconnectDelay: 400 });
    const log = record(c);
    c.on('connecting', (ctx) => {
      if (ctx.code === 3011) void n.gateway.publish('operator:2', { event: 'missed' });
    });
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    await n.gateway.disconnect({ user: '2' }, 3011, 'force reconnect');
    await waitFor(() => log.subscribed.length === 2, 5000, 'resubscribed');
    assert.equal(log.subscribed[1]!.recovered, true);
    assert.deepEqual(
      log.publications.map((p) => p.data.event),
      ['missed'],
    );
  });

  it('answers recovered: false when the client is further behind than the history', async () => {
    const n = await node({ historyOf: () => ({ historySize: 2, historyTtlMs: 60_000 }) });
    const c = client(n.url, 'tok-3');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    c.disconnect();
    for (let i = 1; i <= 5; i++) await n.gateway.publish('operator:3', { n: i });
    c.connect();
    await waitFor(() => log.subscribed.length === 2, 3000, 'resubscribed');
    assert.deepEqual(
      { recovered: log.subscribed[1]!.recovered, wasRecovering: log.subscribed[1]!.wasRecovering },
      { recovered: false, wasRecovering: true },
    );
    await sleep(50);
    assert.equal(log.publications.length, 0, 'never a partial replay');
  });

  it('answers recovered: false after a node restart (new in-memory epoch)', async () => {
    const first = await startNode();
    const c = client(first.url, 'tok-4');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    await first.gateway.publish('operator:4', { n: 1 });
    await waitFor(() => log.publications.length === 1, 3000, 'publication');
    await first.close();
    const second = await node({ broker: new MemoryBroker() }, first.port);
    await second.gateway.publish('operator:4', { n: 2 });
    await waitFor(() => log.subscribed.length === 2, 5000, 'resubscribed on the new node');
    assert.equal(log.subscribed[1]!.recovered, false);
    assert.notEqual(log.subscribed[1]!.epoch, log.subscribed[0]!.epoch);
  });

  it('stops the SDK with 3500 on an invalid token (no reconnect)', async () => {
    let attempts = 0;
    const n = await node({
      authenticate: async () => {
        attempts++;
        return null;
      },
    });
    const c = client(n.url, 'bad');
    const log = record(c);
    c.connect();
    await waitFor(() => log.disconnected.length === 1, 3000, 'disconnected');
    assert.equal(log.disconnected[0]!.code, 3500);
    await sleep(400);
    assert.equal(c.state, State.Disconnected);
    assert.equal(attempts, 1);
  });

  it('answers RPC calls and 104 for an unknown method', async () => {
    const n = await node();
    n.gateway.rpc('typing', (user, data) => ({ echo: data, by: user.userId }));
    n.gateway.rpc('forbidden', () => {
      throw new ProtocolError(4001, 'not now');
    });
    const c = client(n.url, 'tok-5');
    c.connect();
    await c.ready(3000);
    assert.deepEqual((await c.rpc('typing', { chatId: 'c1' })).data, { echo: { chatId: 'c1' }, by: '5' });
    await assert.rejects(c.rpc('nope', {}), (e: any) => e.code === 104);
    await assert.rejects(c.rpc('forbidden', {}), (e: any) => e.code === 4001 && e.message === 'not now');
  });

  it('hands send() to onSend', async () => {
    const got: unknown[] = [];
    const n = await node({ onSend: (user, data) => void got.push([user.userId, data]) });
    const c = client(n.url, 'tok-6');
    c.connect();
    await c.ready(3000);
    await c.send({ event: 'typing' });
    await waitFor(() => got.length === 1, 3000, 'onSend');
    assert.deepEqual(got[0], ['6', { event: 'typing' }]);
  });

  it('refuses a client-side subscription with 103 and allows a permitted one, with recovery', async () => {
    const n = await node({ canSubscribe: (_user, ch) => ch.startsWith('chat:') });
    const c = client(n.url, 'tok-8');
    const denied = c.newSubscription('secret:1');
    const deniedCode = new Promise<number>((resolve) =>
      denied.on('unsubscribed', (ctx) => resolve(ctx.code)),
    );
    // Subscriptions made before connect go out in the connect frame.
    const sub = c.newSubscription('chat:c1');
    const pubs: any[] = [];
    const subscribed: any[] = [];
    sub.on('publication', (ctx) => pubs.push(ctx.data));
    sub.on('subscribed', (ctx) => subscribed.push(ctx));
    sub.subscribe();
    denied.subscribe();
    c.connect();
    assert.equal(await deniedCode, 103);
    await waitFor(() => subscribed.length === 1, 3000, 'subscribed');
    await n.gateway.publish('chat:c1', { text: 'hi' });
    await waitFor(() => pubs.length === 1, 3000, 'publication');

    c.disconnect();
    await n.gateway.publish('chat:c1', { text: 'while away' });
    c.connect();
    await waitFor(() => subscribed.length === 2 && pubs.length === 2, 3000, 'recovered');
    assert.equal(subscribed[1].recovered, true);
    assert.deepEqual(
      pubs.map((p) => p.text),
      ['hi', 'while away'],
    );
  });

  it('lets a client publish only where canPublish allows', async () => {
    const n = await node({
      canSubscribe: () => true,
      canPublish: (_user, ch) => ch === 'chat:open',
    });
    const c = client(n.url, 'tok-9');
    c.connect();
    const sub = c.newSubscription('chat:open');
    const pubs: any[] = [];
    sub.on('publication', (ctx) => pubs.push(ctx.data));
    sub.subscribe();
    await sub.ready(3000);
    await c.publish('chat:open', { text: 'mine' });
    await assert.rejects(c.publish('chat:closed', { text: 'x' }), (e: any) => e.code === 103);
    await waitFor(() => pubs.length === 1, 3000, 'own publication');
    const h = await c.history('chat:open', { limit: 10 });
    assert.deepEqual(
      h.publications.map((p) => p.data.text),
      ['mine'],
    );
    assert.equal(h.offset, 1);
  });

  it('closes a user’s connections with the given code; the SDK sees it (4501 terminal)', async () => {
    const n = await node();
    const c = client(n.url, 'tok-10');
    const log = record(c);
    c.connect();
    await c.ready(3000);
    await n.gateway.disconnect({ user: '10' }, 4501, 'operatorBlocked');
    await waitFor(() => log.disconnected.length === 1, 3000, 'disconnected');
    assert.deepEqual(log.disconnected[0], { code: 4501, reason: 'operatorBlocked' });
    await sleep(300);
    assert.equal(c.state, State.Disconnected);
    assert.equal(n.gateway.connectionsOf('10').length, 0);
  });

  it('closes the older connection of a user but not the newest (chatUserExists)', async () => {
    const seen: string[] = [];
    let gatewayRef: Node['gateway'] | null = null;
    const n = await node({
      onConnect: (user, client) => {
        seen.push(client);
        void gatewayRef!.disconnect({ user: user.userId, exceptClient: client }, 4502, 'chatUserExists');
      },
    });
    gatewayRef = n.gateway;
    const older = client(n.url, 'tok-11');
    const olderLog = record(older);
    older.connect();
    await older.ready(3000);
    const newer = client(n.url, 'tok-11');
    newer.connect();
    await newer.ready(3000);
    await waitFor(() => olderLog.disconnected.length === 1, 3000, 'older closed');
    assert.equal(olderLog.disconnected[0]!.code, 4502);
    await sleep(100);
    assert.equal(newer.state, State.Connected);
    assert.deepEqual(
      n.gateway.connectionsOf('11').map((c) => c.client),
      [seen[1]],
    );
  });

  it('pushes a publication to all but one login’s connections, outside the stream (no offset, no history)', async () => {
    // Tokens `tok-14:<login>`: user 14, the login after the colon.
    const n = await node({
      authenticate: async (c) => {
        const [userId, login] = (c.token ?? '').slice(4).split(':');
        return { userId: userId!, login };
      },
    });
    const older = client(n.url, 'tok-14:a');
    const newer = client(n.url, 'tok-14:b');
    const olderLog = record(older);
    const newerLog = record(newer);
    older.connect();
    newer.connect();
    await waitFor(() => olderLog.subscribed.length === 1 && newerLog.subscribed.length === 1, 3000, 'both');
    await n.gateway.publish('operator:14', { event: 'before' });
    await n.gateway.push({ user: '14', exceptLogin: 'b' }, 'operator:14', { event: 'onlyOlder' });
    await n.gateway.publish('operator:14', { event: 'after' });
    await waitFor(
      () => olderLog.publications.length === 3 && newerLog.publications.length === 2,
      3000,
      'pubs',
    );
    assert.deepEqual(
      olderLog.publications.map((p) => [p.data.event, p.offset]),
      [
        ['before', 1],
        ['onlyOlder', undefined],
        ['after', 2],
      ],
    );
    assert.deepEqual(
      newerLog.publications.map((p) => p.data.event),
      ['before', 'after'],
    );
    const history = await n.gateway.opts.broker.history('operator:14', { limit: 10 });
    assert.deepEqual(
      history.publications.map((p) => JSON.parse(p.data).event),
      ['before', 'after'],
      'the push is not in the history',
    );
  });

  it('adds and removes server-side subscriptions with subscribe/unsubscribe pushes', async () => {
    const n = await node();
    const c = client(n.url, 'tok-12');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    await n.gateway.subscribe({ user: '12' }, 'chat:c9');
    await waitFor(() => log.subscribed.length === 2, 3000, 'subscribe push');
    assert.equal(log.subscribed[1]!.channel, 'chat:c9');
    await n.gateway.publish('chat:c9', { event: 'chatMessageCreated' });
    await waitFor(() => log.publications.length === 1, 3000, 'publication on the pushed channel');
    assert.equal(log.publications[0]!.channel, 'chat:c9');
    await n.gateway.unsubscribe({ user: '12' }, 'chat:c9');
    await waitFor(() => log.unsubscribed.includes('chat:c9'), 3000, 'unsubscribe push');
    await n.gateway.publish('chat:c9', { event: 'late' });
    await sleep(50);
    assert.equal(log.publications.length, 1);
  });

  it('calls onConnect and onDisconnect once per connection', async () => {
    const events: string[] = [];
    const n = await node({
      onConnect: (u) => events.push(`+${u.userId}`),
      onDisconnect: (u) => events.push(`-${u.userId}`),
    });
    const c = client(n.url, 'tok-13');
    c.connect();
    await c.ready(3000);
    c.disconnect();
    await waitFor(() => events.length === 2, 3000, 'hooks');
    assert.deepEqual(events, ['+13', '-13']);
    assert.equal(n.gateway.connectionCount, 0);
  });
});
