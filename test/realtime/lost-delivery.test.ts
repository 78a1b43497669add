/**
 * When live delivery loses publications (Redis pub/sub while its connection was down), clients must
 * not silently miss them: the gateway notices the hole (or a resync finds the stream moved on),
 * disconnects with 3010, and the SDK reconnects and recovers from history.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Centrifuge } from 'centrifuge';
import type { Publication, PublicationHandler } from '../../src/realtime/broker.ts';
import { MemoryBroker } from '../../src/realtime/memory-broker.ts';
import { type Node, record, sdk, startNode, waitFor } from './helpers.ts';

/** A broker whose live delivery can drop publications, and whose resync the test triggers. */
class LossyBroker extends MemoryBroker {
  drop = 0;
  private resyncHandlers: (() => void)[] = [];
  override subscribe(channel: string, handler: PublicationHandler): Promise<void> {
    return super.subscribe(channel, (ch: string, pub: Publication, epoch: string) => {
      if (this.drop > 0) this.drop--;
      else handler(ch, pub, epoch);
    });
  }
  override unsubscribe(): Promise<void> {
    return Promise.resolve(); // the wrapped handler is not the one given; keep it simple here
  }
  override onResync(handler: () => void): void {
    this.resyncHandlers.push(handler);
  }
  resync(): void {
    for (const h of this.resyncHandlers) h();
  }
}

const nodes: Node[] = [];
const clients: Centrifuge[] = [];
after(async () => {
  for (const c of clients) c.disconnect();
  for (const n of nodes) await n.close();
});

async function setup() {
  const broker = new LossyBroker();
  const n = await startNode({ broker });
  nodes.push(n);
  const c = sdk(n.url, 'tok-1');
  clients.push(c);
  const log = record(c);
  const reconnects: number[] = [];
  c.on('connecting', (ctx) => reconnects.push(ctx.code));
  c.connect();
  await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
  return { broker, n, log, reconnects };
}

describe('realtime gateway when live delivery loses publications', () => {
  it('disconnects with 3010 on a hole in the offsets, and the SDK recovers the lost one', async () => {
    const { broker, n, log, reconnects } = await setup();
    await n.gateway.publish('operator:1', { n: 1 });
    await waitFor(() => log.publications.length === 1, 3000, 'first');
    broker.drop = 1;
    await n.gateway.publish('operator:1', { n: 2 }); // lost on the way
    await n.gateway.publish('operator:1', { n: 3 }); // reveals the hole
    await waitFor(() => log.publications.length === 3, 5000, 'recovered');
    assert.ok(reconnects.includes(3010));
    assert.equal(log.subscribed.at(-1)!.recovered, true);
    assert.deepEqual(
      log.publications.map((p) => p.data.n),
      [1, 2, 3],
    );
  });

  it('finds a lost last publication on resync', async () => {
    const { broker, n, log, reconnects } = await setup();
    await n.gateway.publish('operator:1', { n: 1 });
    await waitFor(() => log.publications.length === 1, 3000, 'first');
    broker.drop = 1;
    await n.gateway.publish('operator:1', { n: 2 }); // lost, and nothing follows it
    broker.resync();
    await waitFor(() => log.publications.length === 2, 5000, 'recovered');
    assert.ok(reconnects.includes(3010));
    assert.deepEqual(
      log.publications.map((p) => p.data.n),
      [1, 2],
    );
  });

  it('leaves clients alone on resync when nothing was lost', async () => {
    const { broker, n, log, reconnects } = await setup();
    await n.gateway.publish('operator:1', { n: 1 });
    await waitFor(() => log.publications.length === 1, 3000, 'first');
    broker.resync();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(reconnects, [0]);
  });

  it('moves everyone to a reborn stream (expired metadata) without a reconnect loop', async () => {
    let now = Date.now();
    const broker = new MemoryBroker({ now: () => now, metaTtlMs: 60_000 });
    const n = await startNode({ broker, serverSideChannels: () => ['team:1'] });
    nodes.push(n);
    const first = sdk(n.url, 'tok-1');
    const second = sdk(n.url, 'tok-2');
    clients.push(first, second);
    const [log1, log2] = [record(first), record(second)];
    first.connect();
    await waitFor(() => log1.subscribed.length === 1, 3000, 'first subscribed');
    now += 120_000; // nothing happened on the stream for longer than its metadata lives
    second.connect();
    await waitFor(() => log2.subscribed.length === 1, 3000, 'second subscribed (new epoch)');
    await waitFor(() => log1.subscribed.length === 2, 5000, 'first moved to the new epoch');
    assert.equal(log1.subscribed[1]!.recovered, false);
    assert.equal(log1.subscribed[1]!.epoch, log2.subscribed[0]!.epoch);
    await n.gateway.publish('team:1', { n: 1 });
    await waitFor(() => log1.publications.length === 1 && log2.publications.length === 1, 3000, 'both live');
    assert.equal(log2.subscribed.length, 1, 'the newcomer was not disconnected');
  });
});
