/**
 * Two gateway nodes sharing Redis (each with its own RedisBroker, as two processes would): delivery,
 * recovery and control messages across nodes. Runs when REDIS_URL is set.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Centrifuge } from 'centrifuge';
import { Redis } from 'ioredis';
import { RedisBroker } from '../../src/realtime/redis-broker.ts';
import { type Node, record, sdk, sleep, startNode, waitFor } from './helpers.ts';

const REDIS_URL = process.env.REDIS_URL;
const prefix = `omniline-test:${randomBytes(6).toString('hex')}:`;
const brokers: RedisBroker[] = [];
const nodes: Node[] = [];
const clients: Centrifuge[] = [];

after(async () => {
  for (const c of clients) c.disconnect();
  for (const n of nodes) await n.close();
  await brokers[0]?.purge();
  for (const b of brokers) await b.close();
});

async function redisNode(port = 0, connectionName?: string): Promise<Node> {
  const broker = new RedisBroker({ url: REDIS_URL!, prefix, redisOptions: { connectionName } });
  brokers.push(broker);
  await broker.ready();
  const n = await startNode({ broker }, port);
  nodes.push(n);
  return n;
}
function client(url: string, token: string, opts: Parameters<typeof sdk>[2] = {}) {
  const c = sdk(url, token, opts);
  clients.push(c);
  return c;
}

describe('realtime gateway across nodes (Redis)', { skip: REDIS_URL ? false : 'REDIS_URL not set' }, () => {
  it('delivers a publication made on node A to a client on node B', async () => {
    const [a, b] = [await redisNode(), await redisNode()];
    const c = client(b.url, 'tok-100');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed on B');
    await a.gateway.publish('operator:100', { event: 'chatSessionAdded', sessionId: 's1' });
    await waitFor(() => log.publications.length === 1, 3000, 'publication from A');
    assert.equal(log.publications[0]!.data.event, 'chatSessionAdded');
  });

  it('recovers on node B what was published on node A while the client was away', async () => {
    const [a, b] = [await redisNode(), await redisNode()];
    const c = client(b.url, 'tok-101');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    await a.gateway.publish('operator:101', { n: 1 });
    await waitFor(() => log.publications.length === 1, 3000, 'first');
    c.disconnect();
    for (let i = 2; i <= 4; i++) await a.gateway.publish('operator:101', { n: i });
    c.connect();
    await waitFor(() => log.subscribed.length === 2 && log.publications.length === 4, 3000, 'recovered');
    assert.equal(log.subscribed[1]!.recovered, true);
    assert.deepEqual(
      log.publications.map((p) => p.data.n),
      [1, 2, 3, 4],
    );
  });

  it('recovers after node B restarts, because the epoch lives in Redis', async () => {
    const a = await redisNode();
    const first = await redisNode();
    const c = client(first.url, 'tok-102');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    await first.close();
    await a.gateway.publish('operator:102', { n: 1 });
    await redisNode(first.port);
    await waitFor(() => log.subscribed.length === 2 && log.publications.length === 1, 5000, 'recovered');
    assert.equal(log.subscribed[1]!.recovered, true);
    assert.equal(log.subscribed[1]!.epoch, log.subscribed[0]!.epoch);
  });

  it('closes a user’s connection on node B when node A asks (disconnect is cluster-wide)', async () => {
    const [a, b] = [await redisNode(), await redisNode()];
    const c = client(b.url, 'tok-103');
    const log = record(c);
    c.connect();
    await c.ready(3000);
    await a.gateway.disconnect({ user: '103' }, 4501, 'operatorBlocked');
    await waitFor(() => log.disconnected.length === 1, 3000, 'disconnected');
    assert.deepEqual(log.disconnected[0], { code: 4501, reason: 'operatorBlocked' });
    await sleep(100);
    assert.equal(b.gateway.connectionsOf('103').length, 0);
  });

  it('fans one publication out to many clients on both nodes', async () => {
    const [a, b] = [await redisNode(), await redisNode()];
    const received: number[] = [];
    let subscribed = 0;
    for (let i = 0; i < 20; i++) {
      const c = client((i % 2 ? a : b).url, `tok-20${i}`);
      c.on('publication', (ctx) => {
        if (ctx.channel === 'broadcast:all') received.push(i);
      });
      c.on('subscribed', (ctx) => {
        if (ctx.channel === 'broadcast:all') subscribed++;
      });
      c.connect();
      await c.ready(3000);
    }
    // One cluster-wide control message per user would do; here every user at once, from node B.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => b.gateway.subscribe({ user: `20${i}` }, 'broadcast:all')),
    );
    await waitFor(() => subscribed === 20, 3000, 'subscribe pushes');
    await a.gateway.publish('broadcast:all', { event: 'announcement' });
    await waitFor(() => received.length === 20, 3000, 'everyone');
    assert.deepEqual(
      [...received].sort((x, y) => x - y),
      Array.from({ length: 20 }, (_, i) => i),
    );
  });

  it('loses nothing when node B’s pub/sub connection drops (resync, then recovery)', async () => {
    const name = `omniline-test-${randomBytes(4).toString('hex')}`;
    const [a, b] = [await redisNode(), await redisNode(0, name)];
    const c = client(b.url, 'tok-104');
    const log = record(c);
    c.connect();
    await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
    await a.gateway.publish('operator:104', { n: 1 });
    await waitFor(() => log.publications.length === 1, 3000, 'first');

    const admin = new Redis(REDIS_URL!);
    const list = await admin.client('LIST');
    const line = String(list)
      .split('\n')
      .find((l) => l.includes(`name=${name}`) && /\bsub=[1-9]/.test(l));
    assert.ok(line, 'found node B’s subscriber connection');
    await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!);
    await a.gateway.publish('operator:104', { n: 2 }); // most likely published while B is away
    await admin.quit();

    await waitFor(() => log.publications.length === 2, 5000, 'the second publication');
    await sleep(200);
    assert.deepEqual(
      log.publications.map((p) => p.data.n),
      [1, 2],
    );
  });
});
