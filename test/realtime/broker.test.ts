/**
 * The broker contract, run against MemoryBroker and (when REDIS_URL is set) RedisBroker: offsets,
 * epochs, history windows and the never-a-partial-replay rule, live delivery and control messages.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Broker, Publication } from '../../src/realtime/broker.ts';
import { MemoryBroker } from '../../src/realtime/memory-broker.ts';
import { RedisBroker } from '../../src/realtime/redis-broker.ts';
import { waitFor } from './helpers.ts';

const REDIS_URL = process.env.REDIS_URL;
const keep = { historySize: 3, historyTtlMs: 60_000 };
const offsets = (pubs: Publication[]) => pubs.map((p) => p.offset);

const redisBrokers: RedisBroker[] = [];
after(async () => {
  for (const b of redisBrokers) {
    await b.purge().catch(() => undefined); // some were closed by their test (the same prefix is purged by another)
    await b.close();
  }
});

function redisFactory(prefix = `omniline-test:${randomBytes(6).toString('hex')}:`) {
  const b = new RedisBroker({ url: REDIS_URL!, prefix });
  redisBrokers.push(b);
  return b;
}

const kinds: [string, (() => Broker) | null][] = [
  ['MemoryBroker', () => new MemoryBroker()],
  ['RedisBroker', REDIS_URL ? () => redisFactory() : null],
];

for (const [name, make] of kinds) {
  describe(`${name} contract`, { skip: make === null ? 'REDIS_URL not set' : false }, () => {
    const broker = () => make!();

    it('numbers publications 1, 2, 3 under one epoch, created by the first read', async () => {
      const b = broker();
      const empty = await b.history('ch', { limit: 0 });
      assert.equal(empty.offset, 0);
      assert.ok(empty.epoch);
      const p1 = await b.publish('ch', '{"n":1}', keep);
      const p2 = await b.publish('ch', '{"n":2}', keep);
      assert.deepEqual([p1.offset, p2.offset], [1, 2]);
      assert.equal(p1.epoch, empty.epoch);
      assert.equal(p2.epoch, empty.epoch);
      assert.deepEqual((await b.history('other', { limit: 0 })).offset, 0);
    });

    it('returns what follows a position, and nothing when the client is current', async () => {
      const b = broker();
      for (let i = 1; i <= 3; i++) await b.publish('ch', `{"n":${i}}`, keep);
      const { epoch } = await b.history('ch', { limit: 0 });
      const r = await b.history('ch', { since: { offset: 1, epoch }, limit: -1 });
      assert.deepEqual(r.publications, [
        { offset: 2, data: '{"n":2}' },
        { offset: 3, data: '{"n":3}' },
      ]);
      assert.equal(r.offset, 3);
      const current = await b.history('ch', { since: { offset: 3, epoch }, limit: -1 });
      assert.deepEqual([current.publications, current.unrecoverable], [[], undefined]);
      const limited = await b.history('ch', { since: { offset: 0, epoch }, limit: 2 });
      assert.deepEqual(offsets(limited.publications), [1, 2]);
    });

    it('says unrecoverable (and replays nothing) for a trimmed position, another epoch, or a future one', async () => {
      const b = broker();
      for (let i = 1; i <= 5; i++) await b.publish('ch', `{"n":${i}}`, keep); // keeps 3, 4, 5
      const { epoch } = await b.history('ch', { limit: 0 });
      assert.deepEqual(
        offsets((await b.history('ch', { since: { offset: 2, epoch }, limit: -1 })).publications),
        [3, 4, 5],
      );
      for (const since of [
        { offset: 1, epoch },
        { offset: 3, epoch: 'another' },
        { offset: 9, epoch },
      ]) {
        const r = await b.history('ch', { since, limit: -1 });
        assert.equal(r.unrecoverable, true, JSON.stringify(since));
        assert.deepEqual(r.publications, []);
      }
      const anyEpoch = await b.history('ch', { since: { offset: 4, epoch: '' }, limit: -1 });
      assert.deepEqual(offsets(anyEpoch.publications), [5]);
    });

    it('pages history without since, forward and reverse', async () => {
      const b = broker();
      for (let i = 1; i <= 5; i++) await b.publish('ch', `{"n":${i}}`, keep);
      assert.deepEqual(offsets((await b.history('ch', { limit: -1 })).publications), [3, 4, 5]);
      assert.deepEqual(offsets((await b.history('ch', { limit: 2 })).publications), [3, 4]);
      assert.deepEqual(offsets((await b.history('ch', { limit: 2, reverse: true })).publications), [5, 4]);
      const { epoch } = await b.history('ch', { limit: 0 });
      const before = await b.history('ch', { since: { offset: 5, epoch }, limit: 1, reverse: true });
      assert.deepEqual(offsets(before.publications), [4]);
      assert.deepEqual((await b.history('ch', { limit: 0 })).publications, []);
    });

    it('keeps nothing with historySize 0, so earlier positions are unrecoverable', async () => {
      const b = broker();
      await b.publish('ch', '1', keep);
      await b.publish('ch', '2', { historySize: 0, historyTtlMs: 1000 });
      const { epoch } = await b.history('ch', { limit: 0 });
      assert.equal((await b.history('ch', { since: { offset: 1, epoch }, limit: -1 })).unrecoverable, true);
      assert.equal(
        (await b.history('ch', { since: { offset: 2, epoch }, limit: -1 })).unrecoverable,
        undefined,
      );
    });

    it('delivers publications of subscribed channels only, in order, until unsubscribed', async () => {
      const b = broker();
      const got: [string, number, string][] = [];
      const handler = (ch: string, p: Publication, epoch: string) => got.push([ch, p.offset, epoch]);
      await b.subscribe('a', handler);
      const p1 = await b.publish('a', '1', keep);
      await b.publish('b', '1', keep);
      await b.publish('a', '2', keep);
      await waitFor(() => got.length === 2, 3000, 'deliveries');
      assert.deepEqual(got, [
        ['a', 1, p1.epoch],
        ['a', 2, p1.epoch],
      ]);
      await b.unsubscribe('a', handler);
      await b.publish('a', '3', keep);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(got.length, 2);
    });

    it('publishes one publication on many channels, each in its own stream and to its subscribers', async () => {
      const b = broker();
      const got: [string, number, string][] = [];
      await b.subscribe('m1', (ch, p) => got.push([ch, p.offset, p.data]));
      await b.publish('m2', '"before"', keep);
      const sizes: Record<string, number> = { m1: 3, m2: 3, m3: 0 };
      await b.publishMany(['m1', 'm2', 'm3'], '"all"', (ch) => ({ ...keep, historySize: sizes[ch]! }));
      await waitFor(() => got.length === 1, 3000, 'delivery');
      assert.deepEqual(got, [['m1', 1, '"all"']]);
      const m2 = await b.history('m2', { limit: -1 });
      assert.deepEqual(
        m2.publications.map((p) => [p.offset, p.data]),
        [
          [1, '"before"'],
          [2, '"all"'],
        ],
      );
      const m3 = await b.history('m3', { limit: -1 });
      assert.equal(m3.offset, 1);
      assert.deepEqual(m3.publications, [], 'each channel keeps its own history settings');
    });

    it('delivers control messages to every handler, its own included', async () => {
      const b = broker();
      const got: string[] = [];
      b.onControl((m) => got.push(m));
      await b.ready();
      await b.publishControl('{"op":"x"}');
      await waitFor(() => got.length === 1, 3000, 'control');
      assert.deepEqual(got, ['{"op":"x"}']);
    });
  });
}

describe('MemoryBroker expiry', () => {
  it('drops history after its TTL and the epoch after the meta TTL', async () => {
    let now = 1_000;
    const b = new MemoryBroker({ now: () => now, metaTtlMs: 10_000 });
    await b.publish('ch', '1', { historySize: 10, historyTtlMs: 1000 });
    const { epoch } = await b.history('ch', { limit: 0 });
    now += 2000;
    const r = await b.history('ch', { since: { offset: 0, epoch }, limit: -1 });
    assert.equal(r.unrecoverable, true, 'offset 1 is no longer kept');
    assert.equal(
      (await b.history('ch', { since: { offset: 1, epoch }, limit: -1 })).unrecoverable,
      undefined,
    );
    now += 20_000;
    const reborn = await b.history('ch', { limit: 0 });
    assert.notEqual(reborn.epoch, epoch);
    assert.equal(reborn.offset, 0);
    await b.close();
  });
});

describe('RedisBroker across instances', { skip: REDIS_URL ? false : 'REDIS_URL not set' }, () => {
  it('shares epochs and offsets between instances, and a new instance (node restart) keeps them', async () => {
    const prefix = `omniline-test:${randomBytes(6).toString('hex')}:`;
    const a = redisFactory(prefix);
    const b = redisFactory(prefix);
    const got: number[] = [];
    await b.subscribe('ch', (_c, p) => got.push(p.offset));
    const first = await a.publish('ch', '{"n":1}', keep);
    await waitFor(() => got.length === 1, 3000, 'cross-instance delivery');
    await b.close();
    const restarted = redisFactory(prefix);
    const second = await restarted.publish('ch', '{"n":2}', keep);
    assert.equal(second.epoch, first.epoch);
    assert.equal(second.offset, 2);
    const r = await restarted.history('ch', { since: first, limit: -1 });
    assert.deepEqual(r.publications, [{ offset: 2, data: '{"n":2}' }]);
  });

  it('reports a failing Redis as a rejected promise, not a crash', async () => {
    const bad = new RedisBroker({
      url: 'redis://127.0.0.1:1',
      redisOptions: { maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false },
    });
    await assert.rejects(bad.publish('ch', '1', keep));
    await bad.close();
  });
});
