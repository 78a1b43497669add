/**
 * Publications racing a subscription: one published while the connection is being subscribed is
 * delivered exactly once — after the reply when it follows the position read, never when it is
 * already behind it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Centrifuge } from 'centrifuge';
import type { HistoryQuery, HistoryResult } from '../../src/realtime/broker.ts';
import { MemoryBroker } from '../../src/realtime/memory-broker.ts';
import { type Node, record, sdk, sleep, startNode, waitFor } from './helpers.ts';

/** Publishes on the channel just before or just after the subscriber's position is read. */
class RacingBroker extends MemoryBroker {
  race: 'before-read' | 'after-read' | null = null;
  override async history(channel: string, q: HistoryQuery): Promise<HistoryResult> {
    const race = this.race;
    this.race = null;
    if (race === 'before-read')
      await this.publish(channel, '{"n":"raced"}', { historySize: 10, historyTtlMs: 60_000 });
    const result = await super.history(channel, q);
    if (race === 'after-read')
      await this.publish(channel, '{"n":"raced"}', { historySize: 10, historyTtlMs: 60_000 });
    return result;
  }
}

const nodes: Node[] = [];
const clients: Centrifuge[] = [];
after(async () => {
  for (const c of clients) c.disconnect();
  for (const n of nodes) await n.close();
});

async function connectDuring(race: RacingBroker['race']) {
  const broker = new RacingBroker();
  const n = await startNode({ broker });
  nodes.push(n);
  // Another subscriber already live on the channel sees every publication once.
  const watcher = sdk(n.url, 'tok-1');
  const watcherLog = record(watcher);
  watcher.connect();
  await waitFor(() => watcherLog.subscribed.length === 1, 3000, 'watcher subscribed');
  broker.race = race;
  const c = sdk(n.url, 'tok-1');
  clients.push(watcher, c);
  const log = record(c);
  c.connect();
  await waitFor(() => log.subscribed.length === 1, 3000, 'subscribed');
  await n.gateway.publish('operator:1', { n: 'after' });
  await waitFor(() => log.publications.some((p) => p.data.n === 'after'), 3000, 'live publication');
  await sleep(50);
  return { log, watcherLog };
}

describe('realtime gateway: publications racing a subscription', () => {
  it('delivers a publication made after the position was read, once, after the reply', async () => {
    const { log, watcherLog } = await connectDuring('after-read');
    assert.deepEqual(
      log.publications.map((p) => [p.data.n, p.offset]),
      [
        ['raced', 1],
        ['after', 2],
      ],
    );
    assert.equal(watcherLog.publications.length, 2);
  });

  it('does not deliver a publication that is already behind the position read', async () => {
    const { log, watcherLog } = await connectDuring('before-read');
    assert.deepEqual(
      log.publications.map((p) => [p.data.n, p.offset]),
      [['after', 2]],
    );
    assert.equal(watcherLog.publications.length, 2);
  });
});
