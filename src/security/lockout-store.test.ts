import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FallbackLockoutStore,
  type LockoutKey,
  type LockoutStore,
  MemoryLockoutStore,
  STRIKE_MEMORY_MS,
} from './lockout-store.ts';

const key: LockoutKey = { id: 'k', rule: { max: 2, windowMs: 10_000, lockMs: 1000, maxLockMs: 3000 } };

function clockedStore() {
  let now = 1_000_000;
  const store = new MemoryLockoutStore(100, () => now);
  return { store, advance: (ms: number) => (now += ms) };
}

async function failTwice(store: LockoutStore) {
  for (let i = 0; i < 2; i++) {
    const begun = await store.begin([key]);
    assert.ok(begun.ok);
    await store.fail([key], begun.counts);
  }
  const refused = await store.begin([key]);
  assert.equal(refused.ok, false);
  return refused.ok ? 0 : refused.retryMs;
}

describe('lockout store (memory)', () => {
  it('doubles each further lock of a key, up to the cap', async () => {
    const { store, advance } = clockedStore();
    assert.equal(await failTwice(store), 1000);
    advance(1000);
    assert.equal(await failTwice(store), 2000);
    advance(2000);
    assert.equal(await failTwice(store), 3000);
  });

  it('forgets the lock history a day after the last lock, and at once on a reset', async () => {
    const { store, advance } = clockedStore();
    await failTwice(store);
    advance(STRIKE_MEMORY_MS + 1);
    assert.equal(await failTwice(store), 1000);
    advance(1000);
    await store.reset(key);
    assert.equal(await failTwice(store), 1000);
  });

  it('lifts a lock on a reset (an admin unlock)', async () => {
    const { store } = clockedStore();
    assert.ok((await failTwice(store)) > 0);
    await store.reset(key);
    assert.deepEqual(await store.begin([key]), { ok: true, counts: [1] });
  });

  it('starts a new window of failures once the old one has passed', async () => {
    const { store, advance } = clockedStore();
    const first = await store.begin([key]);
    assert.ok(first.ok);
    await store.fail([key], first.counts);
    advance(10_000);
    const next = await store.begin([key]);
    assert.deepEqual(next, { ok: true, counts: [1] });
  });

  it('stays within its size by dropping the oldest keys', async () => {
    const small = new MemoryLockoutStore(3, () => 0);
    for (let i = 0; i < 10; i++) await small.begin([{ ...key, id: `k${i}` }]);
    // The newest keys are kept and still counted; the oldest were dropped.
    assert.deepEqual(await small.begin([{ ...key, id: 'k9' }]), { ok: true, counts: [2] });
    assert.deepEqual(await small.begin([{ ...key, id: 'k0' }]), { ok: true, counts: [1] });
  });
});

describe('lockout store with a fallback', () => {
  it('counts in the fallback while the primary store fails', async () => {
    const failing: LockoutStore = {
      begin: () => Promise.reject(new Error('down')),
      fail: () => Promise.reject(new Error('down')),
      reset: () => Promise.reject(new Error('down')),
      release: () => Promise.reject(new Error('down')),
    };
    const warnings: string[] = [];
    const store = new FallbackLockoutStore(failing, new MemoryLockoutStore(), {
      warn: (_o, msg) => warnings.push(msg),
    });
    assert.ok((await failTwice(store)) > 0);
    assert.equal(warnings.length, 1);
  });

  it('resets the fallback too, so a lock taken while the primary was away is lifted with it', async () => {
    const memory = new MemoryLockoutStore();
    const primary = new MemoryLockoutStore();
    await failTwice(memory);
    const store = new FallbackLockoutStore(primary, memory);
    await store.reset(key);
    assert.deepEqual(await memory.begin([key]), { ok: true, counts: [1] });
  });
});
