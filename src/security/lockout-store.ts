/**
 * Counters of refused attempts with locks that back off, kept per key (a login, an address): in
 * Redis when the cluster has one — every node then counts into and obeys the same keys — else in
 * this process's memory.
 *
 * An attempt is counted when it begins, not when it fails, so a burst of concurrent guesses cannot
 * all pass the check before the first of them has failed: once `max` attempts are in the window
 * (in flight or failed), the next is refused. A failure that fills the window locks the key for
 * `lockMs`, doubled for each further lock within a day (up to `maxLockMs`); a success forgets them.
 */
import type { Redis } from 'ioredis';

export interface LockoutRule {
  max: number;
  windowMs: number;
  lockMs: number;
  maxLockMs: number;
}

export interface LockoutKey {
  id: string;
  rule: LockoutRule;
}

/** Counts the attempt on every key, or refuses it (nothing counted) naming the first key that refused. */
export type BeginResult = { ok: true; counts: number[] } | { ok: false; index: number; retryMs: number };

export interface LockoutStore {
  begin(keys: LockoutKey[]): Promise<BeginResult>;
  /** The attempt failed: each key whose count filled its window is locked. */
  fail(keys: LockoutKey[], counts: number[]): Promise<void>;
  /** Forget the key's failures, its lock and its lock history (a success, an admin's unlock). */
  reset(key: LockoutKey): Promise<void>;
  /** Un-count an attempt that did not fail (a success on a key that counts only failures, an error). */
  release(key: LockoutKey): Promise<void>;
}

/** How long a key's lock history lasts without a lock: the next lock within it is twice as long. */
export const STRIKE_MEMORY_MS = 24 * 3600_000;
/** A refusal while the window is full of attempts still in flight: retry shortly. */
const IN_FLIGHT_RETRY_MS = 1000;

export function lockDuration(rule: LockoutRule, strikes: number): number {
  return Math.min(rule.lockMs * 2 ** Math.max(0, strikes - 1), rule.maxLockMs);
}

interface Entry {
  count: number;
  windowEnd: number;
  lockedUntil: number;
  strikes: number;
  strikesUntil: number;
}

/** One process's counters, bounded: expired entries are swept, the oldest dropped beyond the cap. */
export class MemoryLockoutStore implements LockoutStore {
  readonly #entries = new Map<string, Entry>();
  constructor(
    private readonly maxEntries = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  async begin(keys: LockoutKey[]): Promise<BeginResult> {
    const now = this.now();
    for (const [index, key] of keys.entries()) {
      const e = this.#entries.get(key.id);
      if (!e) continue;
      if (e.lockedUntil > now) return { ok: false, index, retryMs: e.lockedUntil - now };
      if (e.windowEnd > now && e.count >= key.rule.max) {
        return { ok: false, index, retryMs: IN_FLIGHT_RETRY_MS };
      }
    }
    const counts = keys.map((key) => {
      const e = this.#entry(key.id, now);
      if (e.windowEnd <= now) {
        e.count = 0;
        e.windowEnd = now + key.rule.windowMs;
      }
      return ++e.count;
    });
    return { ok: true, counts };
  }

  async fail(keys: LockoutKey[], counts: number[]): Promise<void> {
    const now = this.now();
    keys.forEach((key, i) => {
      if ((counts[i] ?? 0) < key.rule.max) return;
      const e = this.#entry(key.id, now);
      e.strikes = (e.strikesUntil > now ? e.strikes : 0) + 1;
      e.strikesUntil = now + STRIKE_MEMORY_MS;
      e.lockedUntil = now + lockDuration(key.rule, e.strikes);
      e.count = 0;
      e.windowEnd = 0;
    });
  }

  async reset(key: LockoutKey): Promise<void> {
    const e = this.#entries.get(key.id);
    if (!e) return;
    e.count = 0;
    e.lockedUntil = 0;
    e.strikes = 0;
    e.strikesUntil = 0;
  }

  async release(key: LockoutKey): Promise<void> {
    const e = this.#entries.get(key.id);
    if (e && e.count > 0 && e.windowEnd > this.now()) e.count--;
  }

  #entry(id: string, now: number): Entry {
    let e = this.#entries.get(id);
    if (!e) {
      if (this.#entries.size >= this.maxEntries) this.#sweep(now);
      e = { count: 0, windowEnd: 0, lockedUntil: 0, strikes: 0, strikesUntil: 0 };
      this.#entries.set(id, e);
    }
    return e;
  }

  #sweep(now: number): void {
    for (const [id, e] of this.#entries) {
      if (Math.max(e.windowEnd, e.lockedUntil, e.strikesUntil) <= now) this.#entries.delete(id);
    }
    // Still full of live keys (a flood of distinct logins): drop the oldest.
    for (const id of this.#entries.keys()) {
      if (this.#entries.size < this.maxEntries) break;
      this.#entries.delete(id);
    }
  }
}

// Per key: <prefix><id>:n (attempts in the window, expiring with it), :l (the lock, expiring with
// it), :s (locks so far, expiring a day after the last).
const BEGIN = `
local k = #KEYS / 2
for i = 1, k do
  local ttl = redis.call('PTTL', KEYS[2 * i])
  if ttl > 0 then return {i, ttl} end
  local n = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  if n >= tonumber(ARGV[2 * i - 1]) then return {i, -1} end
end
local counts = {0}
for i = 1, k do
  local n = redis.call('INCR', KEYS[2 * i - 1])
  if n == 1 then redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[2 * i]) end
  counts[i + 1] = n
end
return counts
`;

const FAIL = `
for i = 1, #KEYS / 3 do
  if tonumber(ARGV[4 * i - 3]) >= tonumber(ARGV[4 * i - 2]) then
    local s = redis.call('INCR', KEYS[3 * i])
    redis.call('PEXPIRE', KEYS[3 * i], ${STRIKE_MEMORY_MS})
    local ms = math.min(tonumber(ARGV[4 * i - 1]) * 2 ^ (s - 1), tonumber(ARGV[4 * i]))
    redis.call('SET', KEYS[3 * i - 1], '1', 'PX', math.floor(ms))
    redis.call('DEL', KEYS[3 * i - 2])
  end
end
return 0
`;

const RELEASE = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
`;

type Script = (numKeys: number, ...args: (string | number)[]) => Promise<unknown>;

export class RedisLockoutStore implements LockoutStore {
  readonly #begin: Script;
  readonly #fail: Script;
  readonly #release: Script;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    for (const [name, lua] of [
      ['omnilineLockoutBegin', BEGIN],
      ['omnilineLockoutFail', FAIL],
      ['omnilineLockoutRelease', RELEASE],
    ] as const) {
      if (!(name in redis)) redis.defineCommand(name, { lua });
    }
    const command = (name: string): Script => {
      const fn = (redis as unknown as Record<string, Script>)[name]!;
      return (...args) => fn.apply(redis, args);
    };
    this.#begin = command('omnilineLockoutBegin');
    this.#fail = command('omnilineLockoutFail');
    this.#release = command('omnilineLockoutRelease');
  }

  async begin(keys: LockoutKey[]): Promise<BeginResult> {
    const reply = (await this.#begin(
      keys.length * 2,
      ...keys.flatMap((k) => [this.#key(k, 'n'), this.#key(k, 'l')]),
      ...keys.flatMap((k) => [k.rule.max, k.rule.windowMs]),
    )) as number[];
    const [first = 0, ...rest] = reply;
    if (first === 0) return { ok: true, counts: rest };
    const ttl = rest[0] ?? -1;
    return { ok: false, index: first - 1, retryMs: ttl > 0 ? ttl : IN_FLIGHT_RETRY_MS };
  }

  async fail(keys: LockoutKey[], counts: number[]): Promise<void> {
    await this.#fail(
      keys.length * 3,
      ...keys.flatMap((k) => [this.#key(k, 'n'), this.#key(k, 'l'), this.#key(k, 's')]),
      ...keys.flatMap((k, i) => [counts[i] ?? 0, k.rule.max, k.rule.lockMs, k.rule.maxLockMs]),
    );
  }

  async reset(key: LockoutKey): Promise<void> {
    await this.redis.del(this.#key(key, 'n'), this.#key(key, 'l'), this.#key(key, 's'));
  }

  async release(key: LockoutKey): Promise<void> {
    await this.#release(1, this.#key(key, 'n'));
  }

  #key(key: LockoutKey, part: 'n' | 'l' | 's'): string {
    return `${this.prefix}${key.id}:${part}`;
  }
}

/**
 * Redis, and this node's memory while Redis does not answer: limits keep holding per node instead
 * of every login waiting on (or failing with) the shared store.
 */
export class FallbackLockoutStore implements LockoutStore {
  #warnedAt = 0;
  constructor(
    private readonly primary: LockoutStore,
    private readonly fallback: LockoutStore,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {}

  begin(keys: LockoutKey[]) {
    return this.#try((s) => s.begin(keys));
  }
  fail(keys: LockoutKey[], counts: number[]) {
    return this.#try((s) => s.fail(keys, counts));
  }
  /** Both stores: a lock this node took while Redis was away is forgotten too. */
  async reset(key: LockoutKey) {
    await this.fallback.reset(key);
    return this.#try((s) => s.reset(key));
  }
  release(key: LockoutKey) {
    return this.#try((s) => s.release(key));
  }

  async #try<T>(op: (store: LockoutStore) => Promise<T>): Promise<T> {
    try {
      return await op(this.primary);
    } catch (err) {
      if (Date.now() - this.#warnedAt > 60_000) {
        this.#warnedAt = Date.now();
        this.log?.warn({ err }, 'login limits: Redis unavailable, counting in this node only');
      }
      return op(this.fallback);
    }
  }
}
