/**
 * Benchmark of the core server's hot reads (issue "Core server"), on a real PostgreSQL:
 *
 *   Seed 100,000 sessions over 1,000 clients and 20 lines; measure p50/p99 of
 *   (a) the open session of one client, (b) a line's Waiting sessions ordered by priority then age,
 *   (c) a session's last message; print each query's EXPLAIN.
 *   Target: p99 < 5 ms each, every plan on an index.
 *
 * (c') adds the case the uniform seed hides: the last message of a long conversation (1,000
 * messages) from months ago, where the planner may walk `messages_seq_uq` backwards instead.
 *
 * The queries run through the services the API uses (`services.sessions.search`,
 * `services.messages.last`) on a pool opened by `openDatabase`, like the server. A search is a page
 * query and a count query run together; the page and count SQL are also timed alone. The exact SQL is
 * captured with a Drizzle logger on a second instance of the services and explained with real values.
 *
 * Everything happens in a scratch database `omniline_bench_<random>` on the server of DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), dropped at the end, also on failure.
 *
 *   npm run bench:search
 *
 * BENCH_ITERATIONS / BENCH_WARMUP (default 2000 / 200) set the runs per series; BENCH_BUDGET_S (20)
 * caps the seconds of one series, so a slow plan is reported without stalling the run.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { and, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { type Db, openDatabase, queryRows } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import * as schema from '../src/db/schema.ts';
import { sessions } from '../src/db/schema.ts';
import { sessionScope } from '../src/domain/access/access.repository.ts';
import { compileSearch, type SearchRequest } from '../src/domain/search/filter.ts';
import { sessionSearch } from '../src/domain/session/session.view.ts';
import type { Caller } from '../src/domain/user/user.ts';
import { SecretBox } from '../src/lib/secret-box.ts';
import { createServices, type Services } from '../src/services.ts';
import {
  type CapturedQuery,
  CaptureLogger,
  createScratchDatabase,
  explainGeneric,
  explainQuery,
  type PlanCacheUse,
  type PlanCheck,
  planCacheDelta,
  planCacheSnapshot,
  Rng,
  type Sql,
} from './lib/db.ts';
import { formatTable, type LatencyStats, machineInfo, measure, timed, writeJson } from './lib/report.ts';

const SHAPE = { lines: 20, channels: 30, clients: 1000, sessionsPerClient: 100, openShare: 0.3 } as const;
/** A few long conversations: session #30 of every 50th client (~8 months old) has 1,000 messages. */
const LONG = { everyNthClient: 50, chainPosition: 30, messages: 1000 } as const;
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 200);
/** Time allowed per timed series, so a bad plan cannot stall the run. */
const BUDGET_MS = Number(process.env.BENCH_BUDGET_S ?? 20) * 1000;
const TARGET_P99_MS = 5;
/** Connections of the services' pool (openDatabase's default). */
const POOL_SIZE = 10;
const WATCHED = ['sessions', 'messages'] as const;
const RESULTS_FILE = fileURLToPath(new URL('./results/search.json', import.meta.url));

const caller: Caller = { id: randomUUID(), login: 'bench', name: 'bench', role: 'admin', tokenId: 'x' };
const log = (...args: unknown[]) => console.log(...args);

// ---------------------------------------------------------------------------------------------
// Seeding: set-based SQL, deterministic (md5-derived ids, setseed for random()).
// ---------------------------------------------------------------------------------------------

const CHANNEL_TYPES = ['telegramBot', 'whatsapp', 'telegram', 'viberbot', 'livechat', 'instagram', 'inbox'];

/** Ids derived from a name and a number, so the seed statements can refer to each other's rows. */
const id = (kind: string, n: string) => `md5('${kind}' || ${n})::uuid`;
const lineOfChannel = (ch: string) => `((${ch} - 1) % ${SHAPE.lines} + 1)`;
const channelOfClient = (k: string) => `((${k} - 1) % ${SHAPE.channels} + 1)`;
const longSessionIdsSql = `(SELECT ${id('session', `k || '-${LONG.chainPosition}'`)}
  FROM generate_series(${LONG.everyNthClient}, ${SHAPE.clients}, ${LONG.everyNthClient}) k)`;
/**
 * Messages per session: 2..8 (5 on average), 1,000 for the long conversations; derived from the
 * session id so that the sessions and messages inserts agree.
 */
const messagesOf = (sessionId: string) =>
  `(CASE WHEN ${sessionId} IN ${longSessionIdsSql} THEN ${LONG.messages}
         ELSE 2 + abs(hashtext(${sessionId}::text)::bigint) % 7 END)::int`;

const SEED_STEPS: [string, string][] = [
  ['setseed', 'SELECT setseed(0.42)'],
  [
    'lines',
    `INSERT INTO lines (id, name, settings, created_at, updated_at)
     SELECT ${id('line', 'g')}, 'Line ' || g, '{"applicationType": null}'::jsonb,
            now() - interval '400 days', now() - interval '400 days'
     FROM generate_series(1, ${SHAPE.lines}) g`,
  ],
  [
    'channels',
    `INSERT INTO channels (id, line_id, name, type, source, created_at, updated_at)
     SELECT ${id('channel', 'g')}, ${id('line', lineOfChannel('g'))}, 'Channel ' || g,
            (ARRAY[${CHANNEL_TYPES.map((t) => `'${t}'`).join(', ')}])[(g - 1) % ${CHANNEL_TYPES.length} + 1],
            'source-' || g, now() - interval '400 days', now() - interval '400 days'
     FROM generate_series(1, ${SHAPE.channels}) g`,
  ],
  [
    'clients',
    `INSERT INTO clients (id, channel_id, external_id, username, first_name, last_name, last_seen_at,
                          created_at, updated_at)
     SELECT ${id('client', 'k')}, ${id('channel', channelOfClient('k'))}, 'ext-' || k, 'user' || k,
            'First' || k, 'Last' || k, now() - random() * interval '30 days',
            now() - interval '380 days', now()
     FROM generate_series(1, ${SHAPE.clients}) k`,
  ],
  [
    // Each client has a chain of 80..120 sessions (pairs of clients sum to 200, so 100,000 in all)
    // spread over the last year in time order. All are Closed (3% MarkedAsSpam) but the newest, which
    // is open (Waiting / AssignedToBot / AssignedToOperator) for ~30% of clients. Inserted in start
    // order, as production would, so a client's sessions are scattered over the heap.
    'sessions',
    `WITH chains AS (
       SELECT k, ${channelOfClient('k')} AS ch,
              ${SHAPE.sessionsPerClient} + (CASE WHEN k % 2 = 1 THEN 1 ELSE -1 END)
                * (abs(hashtext('pair' || ((k + 1) / 2))::bigint) % 41 - 20)::int AS cnt,
              abs(hashtext('open' || k)::bigint) % 1000 < ${SHAPE.openShare * 1000} AS has_open
       FROM generate_series(1, ${SHAPE.clients}) k
     ), draws AS (
       SELECT c.k, c.ch, c.cnt, c.has_open, n, interval '365 days' / c.cnt AS slot,
              random() AS r_state, random() AS r_prio, random() AS r_start, random() AS r_len
       FROM chains c CROSS JOIN LATERAL generate_series(1, c.cnt) n
     ), shaped AS (
       SELECT d.*, ${id('session', "d.k || '-' || d.n")} AS sid,
              CASE
                WHEN d.n = d.cnt AND d.has_open
                  THEN (ARRAY['Waiting', 'AssignedToBot', 'AssignedToOperator'])[1 + floor(d.r_state * 3)::int]
                WHEN d.r_state < 0.03 THEN 'MarkedAsSpam'
                ELSE 'Closed'
              END AS state,
              CASE WHEN d.r_prio < 0.3 THEN 0 WHEN d.r_prio < 0.8 THEN 1 ELSE 2 END AS priority,
              now() - interval '365 days' + d.slot * (d.n - 1) + d.slot * 0.6 * d.r_start AS started_at
       FROM draws d
     )
     INSERT INTO sessions (id, line_id, channel_id, client_id, client_ids, state, priority, operator_id,
                           bot_id, previous_session_id, started_at, operator_assigned_at, first_answer_at,
                           last_message_at, closed_at, closed_by, created_at, updated_at)
     SELECT sid, ${id('line', lineOfChannel('ch'))}, ${id('channel', 'ch')}, ${id('client', 'k')},
            ARRAY[${id('client', 'k')}], state, priority::smallint,
            CASE WHEN state <> 'Waiting' AND state <> 'AssignedToBot' THEN ${id('operator', 'k % 50')} END,
            CASE WHEN state = 'AssignedToBot' THEN ${id('bot', '1')} END,
            CASE WHEN n > 1 THEN ${id('session', "k || '-' || (n - 1)")} END,
            started_at,
            CASE WHEN state NOT IN ('Waiting', 'AssignedToBot') THEN started_at + interval '1 minute' END,
            CASE WHEN state NOT IN ('Waiting', 'AssignedToBot') THEN started_at + interval '2 minutes' END,
            started_at + ${messagesOf('sid')} * interval '1 minute',
            CASE WHEN state IN ('Closed', 'MarkedAsSpam') THEN started_at + slot * (0.1 + 0.2 * r_len) END,
            CASE WHEN state IN ('Closed', 'MarkedAsSpam') THEN '{"type": "operator", "id": null}'::jsonb END,
            started_at,
            CASE WHEN state IN ('Closed', 'MarkedAsSpam') THEN started_at + slot * (0.1 + 0.2 * r_len)
                 ELSE started_at END
     FROM shaped
     ORDER BY shaped.started_at`,
  ],
  [
    // 2..8 messages per session (~500,000), alternating client / operator, one minute apart, inserted
    // in time order so seq (the page cursor) follows time.
    'messages',
    `INSERT INTO messages (session_id, channel_id, direction, type, text, sender_type, sender_id, status,
                           read_at, created_at, updated_at)
     SELECT s.id, s.channel_id,
            CASE WHEN g % 2 = 1 THEN 'incoming' ELSE 'outgoing' END, 'text',
            'Message ' || g || ' of the conversation',
            CASE WHEN g % 2 = 1 THEN 'client' WHEN s.operator_id IS NULL THEN 'bot' ELSE 'operator' END,
            CASE WHEN g % 2 = 1 THEN s.client_id::text ELSE s.operator_id::text END,
            CASE WHEN s.state IN ('Closed', 'MarkedAsSpam') THEN 'read' ELSE 'delivered' END,
            CASE WHEN s.state IN ('Closed', 'MarkedAsSpam') THEN s.started_at + g * interval '1 minute' END,
            s.started_at + g * interval '1 minute', s.started_at + g * interval '1 minute'
     FROM sessions s CROSS JOIN LATERAL generate_series(1, ${messagesOf('s.id')}) g
     ORDER BY s.started_at, g`,
  ],
  [
    // Waiting sessions entered the queue when they started (queued_at exists from the routing migration on).
    'queued_at',
    `DO $$ BEGIN
       IF EXISTS (SELECT 1 FROM information_schema.columns
                  WHERE table_schema = current_schema() AND table_name = 'sessions' AND column_name = 'queued_at')
       THEN UPDATE sessions SET queued_at = started_at WHERE state = 'Waiting';
       END IF;
     END $$`,
  ],
  ['vacuum analyze', 'VACUUM (ANALYZE)'],
  // Flush the seed's dirty pages now rather than during the timed runs.
  ['checkpoint', 'CHECKPOINT'],
];

interface SeedReport {
  totalMs: number;
  steps: Record<string, number>;
  rows: Record<string, number>;
  sessionsByState: Record<string, number>;
  waitingPerLine: { min: number; avg: number; max: number };
  sessionsPerClient: { min: number; max: number };
}

export async function seed(raw: Sql): Promise<SeedReport> {
  const steps: Record<string, number> = {};
  for (const [name, statement] of SEED_STEPS) {
    const [, ms] = await timed(() => raw.unsafe(statement));
    steps[name] = Math.round(ms);
    log(`  ${name.padEnd(15)} ${(ms / 1000).toFixed(2).padStart(7)} s`);
  }
  const totalMs = Object.values(steps).reduce((s, v) => s + v, 0);
  const counts = await raw<{ t: string; n: number }[]>`
    SELECT 'lines' AS t, count(*)::int AS n FROM lines UNION ALL
    SELECT 'channels', count(*)::int FROM channels UNION ALL
    SELECT 'clients', count(*)::int FROM clients UNION ALL
    SELECT 'sessions', count(*)::int FROM sessions UNION ALL
    SELECT 'messages', count(*)::int FROM messages`;
  const states = await raw<{ state: string; n: number }[]>`
    SELECT state, count(*)::int AS n FROM sessions GROUP BY state ORDER BY n DESC`;
  const [waiting] = await raw<{ min: number; avg: number; max: number }[]>`
    SELECT min(n)::int AS min, round(avg(n), 1)::float8 AS avg, max(n)::int AS max FROM (
      SELECT l.id, count(s.id) AS n FROM lines l
      LEFT JOIN sessions s ON s.line_id = l.id AND s.state = 'Waiting' GROUP BY l.id) q`;
  const [perClient] = await raw<{ min: number; max: number }[]>`
    SELECT min(n)::int AS min, max(n)::int AS max FROM (SELECT count(*) AS n FROM sessions GROUP BY client_id) q`;
  return {
    totalMs,
    steps,
    rows: Object.fromEntries(counts.map((r) => [r.t, r.n])),
    sessionsByState: Object.fromEntries(states.map((r) => [r.state, r.n])),
    waitingPerLine: waiting!,
    sessionsPerClient: perClient!,
  };
}

// ---------------------------------------------------------------------------------------------
// The measured queries
// ---------------------------------------------------------------------------------------------

/** The page and count queries of `searchTable` for a sessions search by the admin caller. */
function sessionSearchQueries(db: Db, request: SearchRequest) {
  const search = compileSearch(sessionSearch, request);
  const where = and(search.where, sessionScope(caller));
  return {
    page: db
      .select()
      .from(sessions)
      .where(where)
      .orderBy(...search.orderBy)
      .limit(search.limit)
      .offset(search.offset),
    count: db.select({ n: sql<number>`count(*)::int` }).from(sessions).where(where),
  };
}

interface Targets {
  clientIds: string[];
  /** Clients whose newest session is open: the sample explained for (a). */
  openClientIds: string[];
  lineIds: string[];
  /** The line with the longest queue: the sample explained for (b). */
  busiestLineId: string;
  sessionIds: string[];
  /** The long, old conversations. */
  longSessionIds: string[];
}

interface Case {
  key: string;
  title: string;
  /** What the API call is, for the report. */
  call: string;
  /** A search: the request for a target. Otherwise the last-message lookup. */
  request?: (target: string) => SearchRequest;
  /** Picks the target (client, line or session id) of one iteration. */
  target: (rng: Rng) => string;
  /** The target explained. */
  sample: string;
}

const openRequest = (stateCondition: Record<string, unknown>) => (clientId: string) => ({
  where: { and: [{ field: 'clientIds', op: 'all', value: [clientId] }, stateCondition] },
  size: 1,
});

function cases(t: Targets): Case[] {
  return [
    {
      key: 'a_open_session_nin',
      title: '(a) open session of a client — state nin [Closed, MarkedAsSpam]',
      call: 'sessions.search({clientIds all [c], state nin [Closed, MarkedAsSpam]}, size 1)',
      request: openRequest({ field: 'state', op: 'nin', value: ['Closed', 'MarkedAsSpam'] }),
      target: (rng) => rng.pick(t.clientIds),
      sample: t.openClientIds[0]!,
    },
    {
      key: 'a_open_session_neq',
      title: "(a') open session of a client — the seed's form, state neq Closed",
      call: 'sessions.search({clientIds all [c], state neq Closed}, size 1)',
      request: openRequest({ field: 'state', op: 'neq', value: 'Closed' }),
      target: (rng) => rng.pick(t.clientIds),
      sample: t.openClientIds[0]!,
    },
    {
      key: 'b_line_queue',
      title: "(b) a line's Waiting sessions by priority desc, startedAt asc",
      call: 'sessions.search({lineId eq l, state eq Waiting}, sort priority desc, startedAt asc, size 50)',
      request: (lineId) => ({
        where: {
          and: [
            { field: 'lineId', op: 'eq', value: lineId },
            { field: 'state', op: 'eq', value: 'Waiting' },
          ],
        },
        sort: [
          { field: 'priority', dir: 'desc' },
          { field: 'startedAt', dir: 'asc' },
        ],
        size: 50,
      }),
      target: (rng) => rng.pick(t.lineIds),
      sample: t.busiestLineId,
    },
    {
      key: 'c_last_message',
      title: "(c) a session's last message",
      call: 'messages.last(sessionId)',
      target: (rng) => rng.pick(t.sessionIds),
      sample: t.sessionIds[Math.floor(t.sessionIds.length / 2)]!,
    },
    {
      key: 'c_last_message_long',
      title: `(c') last message of a long, old conversation (${LONG.messages} messages, months ago)`,
      call: 'messages.last(sessionId)',
      target: (rng) => rng.pick(t.longSessionIds),
      sample: t.longSessionIds[0]!,
    },
  ];
}

interface QueryPlans {
  sql: string;
  params: unknown[];
  /** The plan PostgreSQL makes for the sample's values. */
  custom: PlanCheck;
  /** The plan of the prepared statement without values, which it may reuse after five runs. */
  generic: PlanCheck;
  /** Which of the two the timed calls got (postgres.js prepares every statement). */
  used: PlanCacheUse | null;
  /**
   * The custom plan finds its rows through an index (every connection makes custom plans for a
   * statement's first five runs, and keeps doing so while they look cheaper), and so does the generic
   * plan if the timed calls used it.
   */
  onIndex: boolean;
}

interface CaseResult {
  key: string;
  title: string;
  call: string;
  sample: string;
  series: Record<string, LatencyStats>;
  plans: Record<string, QueryPlans>;
  /** Whether the timed "page alone" query is the exact SQL the service runs. */
  mirrorMatches: boolean | null;
  p99Pass: boolean;
  planPass: boolean;
  pass: boolean;
}

function runCall(services: Services, c: Case, target: string): Promise<unknown> {
  return c.request ? services.sessions.search(c.request(target), caller) : services.messages.last(target);
}

async function runCase(
  c: Case,
  ctx: {
    services: Services;
    capture: { services: Services; logger: CaptureLogger };
    explainer: Sql;
    planCache: () => Promise<Map<string, PlanCacheUse>>;
  },
  rng: Rng,
): Promise<CaseResult> {
  log(`\n=== ${c.title}\n    ${c.call}`);
  const db = ctx.services.deps.db;

  // The SQL the service runs, with the sample's values.
  const captured = await ctx.capture.logger.capture(() => runCall(ctx.capture.services, c, c.sample));
  const named: Record<string, CapturedQuery> = {};
  for (const q of captured) {
    const name = !c.request ? 'query' : /^select count\(/i.test(q.sql) ? 'count' : 'page';
    named[name] = q;
  }

  let mirrorMatches: boolean | null = null;
  if (c.request) {
    const mirror = sessionSearchQueries(db, c.request(c.sample)).page.toSQL();
    mirrorMatches =
      mirror.sql === named.page?.sql && JSON.stringify(mirror.params) === JSON.stringify(named.page?.params);
    if (!mirrorMatches) log('    WARNING: the "page alone" query differs from what the service ran');
  }

  const explained: Record<string, { q: CapturedQuery; custom: PlanCheck; generic: PlanCheck }> = {};
  for (const [name, q] of Object.entries(named)) {
    const custom = await explainQuery(ctx.explainer, q, WATCHED);
    const generic = await explainGeneric(ctx.explainer, q, WATCHED);
    explained[name] = { q, custom, generic };
    log(`\n--- ${name} SQL\n${q.sql}\n    params: ${JSON.stringify(q.params)}`);
    log(`--- EXPLAIN (ANALYZE, BUFFERS) — custom plan for these values`);
    log(custom.text.map((l) => `    ${l}`).join('\n'));
    log(`--- custom plan: ${describePlan(custom)}`);
    log(`--- generic plan (a prepared statement may switch to it after 5 runs): ${describePlan(generic)}`);
  }

  const opts = { iterations: ITERATIONS, warmup: WARMUP, budgetMs: BUDGET_MS };
  const series: Record<string, LatencyStats> = {};
  const cacheBefore = await ctx.planCache();
  series.call = await measure(opts, () => runCall(ctx.services, c, c.target(rng)));
  const cacheAfter = await ctx.planCache();
  const plans: Record<string, QueryPlans> = {};
  for (const [name, { q, custom, generic }] of Object.entries(explained)) {
    const delta = planCacheDelta(cacheBefore, cacheAfter, q.sql);
    const used = delta.custom + delta.generic > 0 ? delta : null;
    const onIndex = custom.onIndex && (!used || used.generic === 0 || generic.onIndex);
    plans[name] = { sql: q.sql, params: q.params, custom, generic, used, onIndex };
    if (used) log(`    ${name}: the timed calls got ${used.custom} custom and ${used.generic} generic plans`);
  }
  if (c.request) {
    const request = c.request;
    series.page = await measure(opts, () => sessionSearchQueries(db, request(c.target(rng))).page);
    series.count = await measure(opts, () => sessionSearchQueries(db, request(c.target(rng))).count);
  }
  for (const [name, s] of Object.entries(series)) {
    const n = s.truncated ? ` (${s.iterations} iterations: time budget spent)` : '';
    log(
      `    ${name.padEnd(6)} p50 ${s.p50.toFixed(3)}  p90 ${s.p90.toFixed(3)}  p99 ${s.p99.toFixed(3)}  max ${s.max.toFixed(3)} ms${n}`,
    );
  }

  const p99Pass = series.call!.p99 < TARGET_P99_MS;
  const planPass = Object.values(plans).every((p) => p.onIndex);
  return {
    key: c.key,
    title: c.title,
    call: c.call,
    sample: c.sample,
    series,
    plans,
    mirrorMatches,
    p99Pass,
    planPass,
    pass: p99Pass && planPass,
  };
}

/** One line: the verdict, the scans and the rows filtered away. */
function describePlan(p: PlanCheck): string {
  const verdict = p.onIndex
    ? 'on an index'
    : `NOT on an index (${[...p.seqScans.map((r) => `Seq Scan on ${r}`), ...p.fullIndexScans.map((i) => `whole index ${i}`)].join(', ') || 'no index used'})`;
  const scans = p.scans
    .map((s) => `${s.node}${s.index ? ` using ${s.index}` : ''}${s.relation ? ` on ${s.relation}` : ''}`)
    .join('; ');
  return `${verdict} — ${scans}; ${p.rowsRemovedByFilter} rows removed by filter`;
}

async function loadTargets(raw: Sql): Promise<Targets> {
  const clientIds = (await raw<{ id: string }[]>`SELECT id FROM clients ORDER BY id`).map((r) => r.id);
  const openClientIds = (
    await raw<{ id: string }[]>`
      SELECT client_id AS id FROM sessions
      WHERE state IN ('Waiting', 'AssignedToBot', 'AssignedToOperator') ORDER BY client_id`
  ).map((r) => r.id);
  const lineIds = (await raw<{ id: string }[]>`SELECT id FROM lines ORDER BY id`).map((r) => r.id);
  const [busiest] = await raw<{ id: string }[]>`
    SELECT line_id AS id FROM sessions WHERE state = 'Waiting' GROUP BY line_id ORDER BY count(*) DESC, line_id LIMIT 1`;
  const sessionIds = (await raw<{ id: string }[]>`SELECT id FROM sessions ORDER BY id`).map((r) => r.id);
  const longSessionIds = (
    await raw.unsafe<{ id: string }[]>(
      `SELECT id FROM sessions WHERE id IN ${longSessionIdsSql} ORDER BY started_at`,
    )
  ).map((r) => r.id);
  return {
    clientIds,
    openClientIds,
    lineIds,
    busiestLineId: busiest?.id ?? lineIds[0]!,
    sessionIds,
    longSessionIds,
  };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const scratch = await createScratchDatabase('omniline_bench');
  log(`scratch database ${scratch.name}`);
  const closers: (() => Promise<unknown>)[] = [];
  try {
    // The pool the services use, opened as the server opens it.
    const database = await openDatabase({ url: scratch.url, dataDir: null, maxConnections: POOL_SIZE });
    closers.push(() => database.close());
    await migrate(database.db);

    // One connection for seeding and EXPLAIN (PREPARE and SET are per connection).
    const raw = postgres(scratch.url, { max: 1, onnotice: () => {} });
    closers.push(() => raw.end({ timeout: 5 }));
    // Taken before the run, so the load average shows other work on the machine, not this benchmark.
    const machine = await machineInfo(raw);
    log(
      `load average before the run: ${machine.loadAverage.join(' ')} on ${machine.cpus} CPUs; CPU probe ${machine.cpuProbeMs} ms`,
    );

    log(
      `seeding ${SHAPE.lines} lines, ${SHAPE.channels} channels, ${SHAPE.clients} clients, ` +
        `${SHAPE.clients * SHAPE.sessionsPerClient} sessions, ~5 messages per session…`,
    );
    const seeded = await seed(raw);
    log(`seeded in ${(seeded.totalMs / 1000).toFixed(1)} s: ${JSON.stringify(seeded.rows)}`);
    log(`  sessions by state: ${JSON.stringify(seeded.sessionsByState)}`);
    log(
      `  Waiting per line: ${JSON.stringify(seeded.waitingPerLine)}; sessions per client: ${JSON.stringify(seeded.sessionsPerClient)}`,
    );

    const secrets = new SecretBox('omniline-bench');
    const services = createServices({ db: database.db, secrets });
    // A second instance of the services on a logging Drizzle, to capture the exact SQL of each call.
    const logger = new CaptureLogger();
    const captureClient = postgres(scratch.url, { max: 2, onnotice: () => {} });
    closers.push(() => captureClient.end({ timeout: 5 }));
    const captureDb = drizzle({ client: captureClient, schema, logger }) as unknown as Db;
    const capture = { services: createServices({ db: captureDb, secrets }), logger };

    // The floor: one round trip through the same pool and driver, for scale.
    const floor = await measure({ iterations: ITERATIONS, warmup: WARMUP, budgetMs: BUDGET_MS }, () =>
      database.db.execute(sql`SELECT 1`),
    );
    log(`\nround-trip floor (SELECT 1 through the pool): p50 ${floor.p50} p99 ${floor.p99} ms`);

    const planCache = () =>
      planCacheSnapshot(
        (statement) =>
          queryRows<{ pid: number; statement: string; generic: number; custom: number }>(
            database.db,
            sql.raw(statement),
          ),
        POOL_SIZE,
      );
    const targets = await loadTargets(raw);
    const rng = new Rng(20240501);
    const results: CaseResult[] = [];
    for (const c of cases(targets)) {
      results.push(await runCase(c, { services, capture, explainer: raw, planCache }, rng));
    }

    const rows = [['SELECT 1 (round-trip floor)', floor.p50, floor.p90, floor.p99, floor.max, '', '', '']];
    rows.push(
      ...results.flatMap((r) =>
        Object.entries(r.series).map(([name, s]) => [
          `${name === 'call' ? r.key : `  ${name} SQL alone`}${s.truncated ? ` (n=${s.iterations})` : ''}`,
          s.p50,
          s.p90,
          s.p99,
          s.max,
          name === 'call' ? `p99<${TARGET_P99_MS}ms ${r.p99Pass ? 'ok' : 'MISS'}` : '',
          name === 'call' ? (r.planPass ? 'index' : 'NOT INDEX') : '',
          name === 'call' ? (r.pass ? 'PASS' : 'FAIL') : '',
        ]),
      ),
    );
    log(`\n${ITERATIONS} timed iterations after ${WARMUP} warm-up, random targets, ms:\n`);
    log(formatTable(['query', 'p50', 'p90', 'p99', 'max', 'latency', 'plans', 'verdict'], rows));
    log('');
    for (const r of results) {
      log(`${r.pass ? 'PASS' : 'FAIL'} ${r.key}`);
      for (const [n, p] of Object.entries(r.plans)) {
        const used = p.used ? ` (timed calls: ${p.used.custom} custom, ${p.used.generic} generic plans)` : '';
        log(`     ${n}${used}`);
        log(`       custom:  ${describePlan(p.custom)}`);
        log(`       generic: ${describePlan(p.generic)}`);
      }
    }

    writeJson(RESULTS_FILE, {
      benchmark: 'search',
      issue: 'Core server',
      machine,
      config: { shape: SHAPE, iterations: ITERATIONS, warmup: WARMUP, caller: 'admin' },
      targets: {
        p99Ms: TARGET_P99_MS,
        plan:
          'the custom plan, and the generic plan if the timed calls used it (pg_prepared_statements), find ' +
          'their rows through an index: no Seq Scan and no whole-index walk on sessions/messages',
      },
      seed: seeded,
      roundTripFloor: floor,
      results,
      pass: results.every((r) => r.pass),
      durationS: Math.round((Date.now() - started) / 100) / 10,
    });
    log(`\nresults written to ${RESULTS_FILE}`);
    log(
      `${results.every((r) => r.pass) ? 'ALL PASS' : 'SOME FAIL'} — ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}`,
    );
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    await scratch.drop();
    log(`dropped ${scratch.name} (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
