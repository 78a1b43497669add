/**
 * Fairness and safety under load: the toAvailable rule gives each session to an operator with the
 * fewest open sessions, and no operator ever exceeds capacity, even with two nodes routing at once.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { queryRows } from '../../src/db/client.ts';
import { AppError } from '../../src/errors.ts';
import { SecretBox } from '../../src/lib/secret-box.ts';
import { createPlatform } from '../../src/platform.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';

/** A small deterministic PRNG so a failing run can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

async function openCounts(ctx: TestContext, ids: string[]): Promise<Map<string, number>> {
  const rows = await queryRows<{ operator_id: string; n: number }>(
    ctx.db,
    sql`SELECT operator_id, count(*)::int AS n FROM sessions WHERE state = 'AssignedToOperator' GROUP BY operator_id`,
  );
  return new Map(ids.map((id) => [id, rows.find((r) => r.operator_id === id)?.n ?? 0]));
}

/** The loads routing reads: users.open_sessions, kept by a trigger on sessions. */
async function keptLoads(ctx: TestContext, ids: string[]): Promise<Map<string, number>> {
  const rows = await queryRows<{ id: string; n: number }>(
    ctx.db,
    sql`SELECT id, open_sessions AS n FROM users WHERE id IN (${sql.join(
      ids.map((id) => sql`${id}`),
      sql`, `,
    )})`,
  );
  return new Map(ids.map((id) => [id, rows.find((r) => r.id === id)?.n ?? -1]));
}

/** Backends of the test database waiting for a lock. */
async function lockWaiters(ctx: TestContext): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    ctx.db,
    sql`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return row!.n;
}

/** A promise and the function that settles it. */
function signal() {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { fired, fire };
}

/**
 * "Another node": runs `work` in a transaction on a connection of its own and keeps it open, its
 * locks held, until `commit()`. `taken` resolves once `work` is done; `end()` commits and closes.
 */
function holdOpen(url: string, work: (tx: postgres.TransactionSql) => Promise<unknown>) {
  const other = postgres(url, { max: 1, onnotice: () => {} });
  const taken = signal();
  const held = signal();
  const done = other.begin(async (tx) => {
    await work(tx);
    taken.fire();
    await held.fired;
  });
  return {
    taken: taken.fired,
    commit: held.fire,
    done,
    async end() {
      held.fire();
      await done.catch(() => undefined);
      await other.end({ timeout: 5 });
    },
  };
}

async function staff(ctx: TestContext, n: number, capacity: number) {
  const ops = [];
  for (let i = 0; i < n; i++) ops.push(await createUser(ctx, 'operator'));
  const line = await createLine(ctx, {
    operatorIds: ops.map((o) => o.id),
    queue: { maxSessionsPerOperator: capacity },
  });
  await queryRows(
    ctx.db,
    sql`UPDATE users SET status = 'online' WHERE id IN (${sql.join(
      ops.map((o) => sql`${o.id}`),
      sql`, `,
    )})`,
  );
  const channel = await createChannel(ctx, line.id, 'api');
  return { ops, line, channel };
}

const SYSTEM_CALLER = {
  id: '00000000-0000-4000-8000-000000000000',
  login: 'admin',
  name: 'admin',
  role: 'admin',
  tokenId: 'x',
} as const;

describeEachDatabase('routing fairness', (ctx) => {
  it('keeps open sessions within one of each other across 60 operators and 1,200 random sessions', async () => {
    const capacity = 30;
    const { ops, channel } = await staff(ctx(), 60, capacity);
    const ids = ops.map((o) => o.id);
    const random = prng(42);
    const counts = new Map(ids.map((id) => [id, 0]));
    const owner = new Map<string, string>();
    let worstChoice = 0;
    let worstSpread = 0;
    for (let i = 0; i < 1200; i++) {
      const { session } = await ctx().services.sessions.create(channel.id, `client_${i}`, SYSTEM_CALLER);
      if ((await ctx().platform.router.route(session.id)) === 'assigned') {
        const [row] = await queryRows<{ operator_id: string }>(
          ctx().db,
          sql`SELECT operator_id FROM sessions WHERE id = ${session.id}`,
        );
        const chosen = row!.operator_id;
        const eligible = ids.filter((id) => counts.get(id)! < capacity).map((id) => counts.get(id)!);
        worstChoice = Math.max(worstChoice, counts.get(chosen)! - Math.min(...eligible));
        counts.set(chosen, counts.get(chosen)! + 1);
        owner.set(session.id, chosen);
        const under = ids.filter((id) => counts.get(id)! < capacity).map((id) => counts.get(id)!);
        if (under.length > 1) worstSpread = Math.max(worstSpread, Math.max(...under) - Math.min(...under));
      }
      // Random closes, about one for every two arrivals; each close frees a slot the next arrival fills.
      if (owner.size > 0 && random() < 0.5) {
        const open = [...owner.keys()];
        const victim = open[Math.floor(random() * open.length)]!;
        await ctx().services.sessions.apply(
          victim,
          { type: 'close', by: { type: 'system', id: null } },
          null,
          'close',
        );
        counts.set(owner.get(victim)!, counts.get(owner.get(victim)!)! - 1);
        owner.delete(victim);
      }
    }
    assert.equal(worstChoice, 0, 'every session went to an operator with the fewest open sessions');
    assert.ok(worstSpread <= 1, `max − min open sessions under capacity reached ${worstSpread}`);
    assert.deepEqual(await openCounts(ctx(), ids), counts, 'the database agrees with the simulation');
    assert.deepEqual(await keptLoads(ctx(), ids), counts, 'the kept loads agree with the sessions');
    assert.ok([...counts.values()].every((n) => n <= capacity));
    console.log(
      `fairness: worst choice gap ${worstChoice}, widest spread among operators under capacity ${worstSpread}`,
    );
  });
});

describeEachDatabase('two nodes routing at once', (ctx) => {
  it('never gives a session two operators nor an operator more than capacity', async () => {
    const capacity = 3;
    const { ops, line, channel } = await staff(ctx(), 5, capacity);
    const sessions = [];
    for (let i = 0; i < 40; i++) {
      sessions.push(
        (await ctx().services.sessions.create(channel.id, `race_${i}`, SYSTEM_CALLER)).session.id,
      );
    }
    // A second node: its own platform (and, on PostgreSQL, its own connection pool) on the same database.
    const second = ctx().database.url
      ? await (await import('../../src/db/client.ts')).openDatabase({
          url: ctx().database.url,
          dataDir: null,
          maxConnections: 10,
        })
      : null;
    const other = createPlatform({
      db: second?.db ?? ctx().db,
      secrets: new SecretBox('test-secret-key-0123456789abcdef0123'),
      filesDir: '/tmp/omniline-node-b',
    });
    try {
      await Promise.all([
        ctx().platform.router.drainLine(line.id),
        other.router.drainLine(line.id),
        ...sessions.slice(0, 20).map((id) => other.router.route(id)),
        ...sessions.slice(20).map((id) => ctx().platform.router.route(id)),
      ]);
    } finally {
      await second?.close();
    }
    const counts = await openCounts(
      ctx(),
      ops.map((o) => o.id),
    );
    assert.ok(
      [...counts.values()].every((n) => n <= capacity),
      JSON.stringify([...counts]),
    );
    assert.equal(
      [...counts.values()].reduce((a, b) => a + b, 0),
      ops.length * capacity,
      'every slot filled',
    );
    const doubles = await queryRows(
      ctx().db,
      sql`SELECT session_id FROM session_history WHERE event = 'assignOperator' GROUP BY session_id HAVING count(*) > 1`,
    );
    assert.deepEqual([...doubles], [], 'no session was assigned twice');
    assert.deepEqual(
      await keptLoads(
        ctx(),
        ops.map((o) => o.id),
      ),
      counts,
      'the kept loads agree with the sessions',
    );
  });
});

describeEachDatabase('an operator shared by two lines', (ctx) => {
  it('is not filled past capacity when another line assigns them between a pass reading and locking', async (t) => {
    const url = ctx().database.url;
    if (!url) return t.skip('needs two connections: PostgreSQL only');
    // Line A: X (room for 1 of their own) and Y (room for 2, one session already). X also serves B.
    const { ops, line: lineA, channel: channelA } = await staff(ctx(), 2, 2);
    const [x, y] = [ops[0]!, ops[1]!];
    const lineB = await createLine(ctx(), { operatorIds: [x.id], queue: { maxSessionsPerOperator: 1 } });
    const channelB = await createChannel(ctx(), lineB.id, 'api');
    const open = async (channelId: string, account: string) =>
      (await ctx().services.sessions.create(channelId, account, SYSTEM_CALLER)).session.id;
    const s0 = await open(channelA.id, 'shared_0');
    await queryRows(ctx().db, sql`UPDATE users SET max_sessions = 1 WHERE id = ${x.id}`);
    await queryRows(
      ctx().db,
      sql`UPDATE sessions SET state = 'AssignedToOperator', operator_id = ${y.id} WHERE id = ${s0}`,
    );
    const b = await open(channelB.id, 'shared_b');
    const s1 = await open(channelA.id, 'shared_1');
    const s2 = await open(channelA.id, 'shared_2');

    // "Another node" assigns X on line B and holds its transaction open: X's row is locked and
    // their committed load still reads 0, so a pass of line A plans s1 → X (least loaded), s2 → Y.
    const otherNode = holdOpen(
      url,
      (tx) => tx`UPDATE sessions SET state = 'AssignedToOperator', operator_id = ${x.id} WHERE id = ${b}`,
    );
    const published: string[] = [];
    const off = ctx().services.deps.bus.on('session.transitioned', (e) =>
      published.push(`${e.payload.sessionId}→${e.payload.operatorId}`),
    );
    try {
      await otherNode.taken;
      const drained = ctx().platform.router.drainLine(lineA.id);
      // Let the pass plan on the stale load and queue up behind X's lock, then commit line B's.
      for (let i = 0; i < 500; i++) {
        if ((await lockWaiters(ctx())) > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      otherNode.commit();
      await otherNode.done;
      await drained;
    } finally {
      off();
      await otherNode.end();
    }
    // The first pass rolled back whole (s2 → Y included); the second gave s1 to Y, the only one
    // with room, and left s2 queued.
    const rows = await queryRows<{ id: string; state: string; operator_id: string | null }>(
      ctx().db,
      sql`SELECT id, state, operator_id FROM sessions WHERE id IN (${s1}, ${s2})`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    assert.equal(byId.get(s1)!.operator_id, y.id);
    assert.equal(byId.get(s2)!.state, 'Waiting');
    assert.deepEqual(published, [`${s1}→${y.id}`], 'exactly the committed assignment was published');
    const recorded = await queryRows<{ n: number }>(
      ctx().db,
      sql`SELECT count(*)::int AS n FROM domain_events
          WHERE name = 'session.transitioned' AND aggregate_id IN (${s1}, ${s2})`,
    );
    assert.equal(recorded[0]!.n, 1, 'the rolled-back pass left no event behind');
    const ids = [x.id, y.id];
    assert.deepEqual(
      await openCounts(ctx(), ids),
      new Map([
        [x.id, 1],
        [y.id, 2],
      ]),
    );
    assert.deepEqual(
      await keptLoads(ctx(), ids),
      new Map([
        [x.id, 1],
        [y.id, 2],
      ]),
    );
  });
});

describeEachDatabase(
  'closes, transfers and routing at once on two lines sharing operators',
  (ctx) => {
    it('never deadlocks, and the kept loads stay those of the sessions', async () => {
      const { ops, line: lineA, channel: channelA } = await staff(ctx(), 4, 4);
      const ids = ops.map((o) => o.id);
      // Line B is served by the same four operators: closes and passes of both lines meet on them.
      const lineB = await createLine(ctx(), {
        operatorIds: [...ids].reverse(),
        queue: { maxSessionsPerOperator: 4 },
      });
      const channelB = await createChannel(ctx(), lineB.id, 'api');
      const random = prng(7);
      const unexpected: unknown[] = [];
      // Domain refusals (the session moved on meanwhile) are fine; a database error is not.
      const done = { close: 0, transfer: 0, enqueue: 0, open: 0 };
      const run = (kind: keyof typeof done, work: Promise<unknown>) =>
        work.then(
          () => done[kind]++,
          (err) => {
            if (!(err instanceof AppError)) unexpected.push(err);
          },
        );
      for (let round = 0; round < 12; round++) {
        const work: Promise<unknown>[] = [];
        for (let i = 0; i < 6; i++) {
          const channel = i % 2 ? channelB : channelA;
          work.push(
            run('open', ctx().services.sessions.create(channel.id, `mixed_${round}_${i}`, SYSTEM_CALLER)),
          );
        }
        const assigned = await queryRows<{ id: string }>(
          ctx().db,
          sql`SELECT id FROM sessions WHERE state = 'AssignedToOperator'`,
        );
        for (const { id } of assigned) {
          const roll = random();
          if (roll < 0.35)
            work.push(
              run(
                'close',
                ctx().services.sessions.apply(
                  id,
                  { type: 'close', by: { type: 'system', id: null } },
                  null,
                  'close',
                ),
              ),
            );
          else if (roll < 0.6)
            work.push(
              run(
                'transfer',
                ctx().platform.workspace.transfer(
                  id,
                  { operatorId: ids[Math.floor(random() * ids.length)]! },
                  SYSTEM_CALLER,
                ),
              ),
            );
          else if (roll < 0.7)
            work.push(run('enqueue', ctx().services.sessions.apply(id, { type: 'enqueue' }, null, 'assign')));
        }
        work.push(ctx().platform.router.drainLine(lineA.id), ctx().platform.router.drainLine(lineB.id));
        await Promise.all(work);
      }
      assert.deepEqual(unexpected, []);
      assert.equal(done.open, 72);
      assert.ok(done.close > 10 && done.transfer > 10 && done.enqueue > 2, JSON.stringify(done));
      // Routing runs on in the background (the closes' drains): both figures come from one snapshot.
      const rows = await queryRows<{ kept: number; counted: number }>(
        ctx().db,
        sql`SELECT u.open_sessions AS kept,
              (SELECT count(*)::int FROM sessions s
                WHERE s.operator_id = u.id AND s.state = 'AssignedToOperator') AS counted
            FROM users u WHERE u.id IN (${sql.join(
              ids.map((id) => sql`${id}`),
              sql`, `,
            )})`,
      );
      assert.equal(rows.length, ids.length);
      for (const row of rows) assert.equal(row.kept, row.counted, 'kept load against counted sessions');
    });
  },
  { background: true },
);

describeEachDatabase('a close during a pass', (ctx) => {
  it('waits for the pass, so the pass commits on the loads it chose by', async (t) => {
    const url = ctx().database.url;
    if (!url) return t.skip('needs two connections: PostgreSQL only');
    const { ops, line, channel } = await staff(ctx(), 2, 5);
    const [x, y] = [ops[0]!, ops[1]!];
    const open = async (account: string) =>
      (await ctx().services.sessions.create(channel.id, account, SYSTEM_CALLER)).session.id;
    const assign = (id: string, operatorId: string) =>
      queryRows(
        ctx().db,
        sql`UPDATE sessions SET state = 'AssignedToOperator', operator_id = ${operatorId} WHERE id = ${id}`,
      );
    // X has one session, Y two: a pass gives the next session to X.
    const [x1, y1, y2] = [await open('close_x1'), await open('close_y1'), await open('close_y2')];
    await assign(x1, x.id);
    await assign(y1, y.id);
    await assign(y2, y.id);
    const s1 = await open('close_s1');

    // X's row is held elsewhere, so the pass, having chosen X, waits to lock them. Both of Y's
    // sessions close meanwhile: had those closes committed, Y (0) would have fewer than X (1).
    const holder = holdOpen(url, (tx) => tx`SELECT 1 FROM users WHERE id = ${x.id} FOR UPDATE`);
    const order: string[] = [];
    const off = ctx().services.deps.bus.on('session.transitioned', (e) =>
      order.push(`${e.payload.sessionId}:${e.payload.to}`),
    );
    try {
      await holder.taken;
      const drained = ctx().platform.router.drainLine(line.id);
      await waitFor(async () => (await lockWaiters(ctx())) === 1);
      const closes = [y1, y2].map((id) =>
        ctx().services.sessions.apply(id, { type: 'close', by: { type: 'system', id: null } }, null, 'close'),
      );
      // The closes wait for the pass (the line's load lock), not the other way round.
      await waitFor(async () => (await lockWaiters(ctx())) === 3);
      holder.commit();
      await holder.done;
      await drained;
      await Promise.all(closes);
    } finally {
      off();
      await holder.end();
    }
    const [row] = await queryRows<{ operator_id: string | null }>(
      ctx().db,
      sql`SELECT operator_id FROM sessions WHERE id = ${s1}`,
    );
    assert.equal(row!.operator_id, x.id, 'the pass assigned by the loads it read');
    assert.equal(order[0], `${s1}:AssignedToOperator`, 'the closes committed after the assignment');
    assert.deepEqual(new Set(order.slice(1)), new Set([`${y1}:Closed`, `${y2}:Closed`]));
    assert.deepEqual(
      await keptLoads(ctx(), [x.id, y.id]),
      new Map([
        [x.id, 2],
        [y.id, 0],
      ]),
    );
  });
});

describeEachDatabase(
  'a line asked to drain again while a pass decides',
  (ctx) => {
    it('sends the next pass before the deciding one commits', async (t) => {
      const url = ctx().database.url;
      if (!url) return t.skip('needs two connections: PostgreSQL only');
      // A rule that holds the first pass's decision until the test lets it go.
      const deciding = signal();
      const release = signal();
      let calls = 0;
      ctx().platform.router.rules.register({
        name: 'heldFirst',
        mode: 'assign',
        async pickOperators(_session, _queue, { candidates }) {
          if (calls++ === 0) {
            deciding.fire();
            await release.fired;
          }
          return [...candidates].sort((a, b) => a.open - b.open).map((c) => c.id);
        },
      });
      const { ops, line, channel } = await staff(ctx(), 2, 5);
      const patched = await ctx().request('PATCH', `/api/v1/lines/${line.id}`, {
        body: { queue: { routingRule: 'heldFirst' } },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const open = async (account: string) =>
        (await ctx().services.sessions.create(channel.id, account, SYSTEM_CALLER)).session.id;

      // Another connection holds both operators' rows: the first pass, once decided, waits there.
      const ids = ops.map((o) => o.id);
      const holder = holdOpen(url, (tx) => tx`SELECT id FROM users WHERE id IN ${tx(ids)} FOR UPDATE`);
      let most = 0;
      try {
        await holder.taken;
        const s1 = await open('held_1');
        await deciding.fired;
        // A session queued while the first pass decides: the drain is asked to go again.
        const s2 = await open('held_2');
        release.fire();
        // The first pass waits for an operator's row; the next one, already sent, for the line's.
        for (let i = 0; i < 300 && most < 2; i++) {
          most = Math.max(most, await lockWaiters(ctx()));
          await new Promise((r) => setTimeout(r, 10));
        }
        holder.commit();
        await holder.done;
        for (const id of [s1, s2]) {
          await waitFor(
            async () => (await ctx().services.sessions.get(id, SYSTEM_CALLER)).state === 'AssignedToOperator',
          );
        }
      } finally {
        release.fire();
        await holder.end();
      }
      assert.equal(most, 2, 'the next pass was waiting for the line while the first had not committed');
    });
  },
  { background: true },
);
