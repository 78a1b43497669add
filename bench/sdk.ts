/**
 * Benchmark of the scripting SDK (issue 14), against the real server over HTTP on PostgreSQL:
 *
 *   (a) `System.lines.sessions.search().where(…open session of one client…).first()` against
 *       100,000 sessions, and the same raw REST call (`fetch` of the same `POST /api/v1/sessions/search`
 *       body, `res.json()`), interleaved pair by pair in one run (the order flips every pair, the
 *       client is the same within a pair). Target: the SDK adds ≤ 10 % to the raw call.
 *   (a') the SDK's own work per call without the network: the same `first()` on a fetch that answers
 *       a stored copy of the server's reply, against `JSON.parse` of that reply alone.
 *   (b) `.all()` over 10,000 matches (sessions created up to a moment) read page by page: heap (after
 *       a full GC) and RSS sampled at every page, for `pages()` (memory holds one page) and for `.all()`
 *       (memory holds its result, and nothing else grows).
 *
 * The data is bench/search.ts's seed (1,000 clients with 80..120 sessions each, the newest open for
 * ~30 % of them, ~500,000 messages), in a scratch database `omniline_sdk_<random>` on the server of
 * DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), dropped at the end, also on failure.
 * The server is `src/main.ts` in a child process (test/helpers/server-process.ts) with the API rate
 * limit off (OMNILINE_API_RATE_LIMIT=0: the bench sends more than 10,000 calls a minute on one token).
 *
 *   flock /work/bench.lock npm run bench:sdk
 *
 * BENCH_ITERATIONS / BENCH_WARMUP (default 2000 / 200) set the pairs of (a). Results:
 * bench/results/sdk.json.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import postgres from 'postgres';
import { createSystem, LineSessionState, type SessionItem, type System } from '../sdk/src/index.ts';
import { openDatabase } from '../src/db/client.ts';
import { migrate } from '../src/db/migrate.ts';
import { SERVER_ADMIN_PASSWORD, startServer, stopAllServers } from '../test/helpers/server-process.ts';
import { cpuMeter, heapUsedMb, rssMb } from './lib/cpu.ts';
import { createScratchDatabase, Rng, type Sql } from './lib/db.ts';
import {
  formatTable,
  type LatencyStats,
  machineInfo,
  resultsFile,
  summarize,
  writeJson,
} from './lib/report.ts';
import { seed } from './search.ts';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 200);
/** Calls of (a'), where one takes microseconds. */
const LOCAL_ITERATIONS = 20_000;
const ALL_MATCHES = 10_000;
/** SDK-added time over the raw call, as a share of the raw call. */
const TARGET_OVERHEAD = 0.1;
const log = (...args: unknown[]) => console.log(...args);
const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

/** The raw REST body of "the open session of this client", written out as a user of the REST API would. */
const rawOpenSessionBody = (clientId: string) => ({
  where: {
    and: [
      { field: 'deletedAt', op: 'eq', value: null },
      { field: 'clientIds', op: 'all', value: [clientId] },
      { field: 'state', op: 'neq', value: 'Closed' },
    ],
  },
  size: 1,
});

/** The document's search, on a client item or ref. */
const openSessionSearch = (System: System, client: { id: string }) =>
  System.lines.sessions
    .search()
    .where((f, c) =>
      c.and(f.__deletedAt.eq(null), f._clients.all([client]), f._state.neq(LineSessionState.Closed)),
    );

/** `global.gc`, enabled at run time (no `--expose-gc` needed on the command line). */
function fullGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

interface PairedResult {
  pairs: number;
  sdk: LatencyStats;
  raw: LatencyStats;
  /** sdk − raw of each pair, ms. */
  added: LatencyStats;
  /** Median of the paired differences over the median raw call. */
  overhead: number;
  /** Mean SDK call over mean raw call. */
  meanRatio: number;
  medianRatio: number;
  wrongAnswers: number;
}

/** (a): the SDK and the raw call on the same client, pair after pair, the order flipping each pair. */
async function pairedFirst(
  System: System,
  raw: (clientId: string) => Promise<string | undefined>,
  clients: string[],
  expected: Map<string, string>,
): Promise<PairedResult> {
  const rng = new Rng(20261204);
  const sdkMs: number[] = [];
  const rawMs: number[] = [];
  let wrongAnswers = 0;
  const time = async (fn: () => Promise<string | undefined>) => {
    const start = process.hrtime.bigint();
    const id = await fn();
    return [Number(process.hrtime.bigint() - start) / 1e6, id] as const;
  };
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const client = rng.pick(clients);
    const viaSdk = async () => (await openSessionSearch(System, { id: client }).first()).id;
    const viaRaw = () => raw(client);
    const [first, second] = i % 2 === 0 ? [viaSdk, viaRaw] : [viaRaw, viaSdk];
    const a = await time(first);
    const b = await time(second);
    const [s, r] = i % 2 === 0 ? [a, b] : [b, a];
    if (s[1] !== expected.get(client) || r[1] !== expected.get(client)) wrongAnswers++;
    if (i >= WARMUP) {
      sdkMs.push(s[0]);
      rawMs.push(r[0]);
    }
  }
  const sdk = summarize(sdkMs);
  const rawStats = summarize(rawMs);
  const added = summarize(sdkMs.map((v, i) => v - rawMs[i]!));
  return {
    pairs: sdkMs.length,
    sdk,
    raw: rawStats,
    added,
    overhead: round(added.p50 / rawStats.p50, 4),
    meanRatio: round(sdk.mean / rawStats.mean, 4),
    medianRatio: round(sdk.p50 / rawStats.p50, 4),
    wrongAnswers,
  };
}

/** (a'): the SDK's own work per call (compile, request, parse, wrap) on a fetch that answers at once. */
async function localFirst(reply: string, clientId: string) {
  const fetch = (async () =>
    new Response(reply, {
      status: 200,
      headers: { 'content-type': 'application/json' },
    })) as typeof globalThis.fetch;
  const System = createSystem({ url: 'http://omniline.local', token: 'bench', fetch });
  const run = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < LOCAL_ITERATIONS / 10; i++) await fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < LOCAL_ITERATIONS; i++) await fn();
    return round((Number(process.hrtime.bigint() - start) / 1e3 / LOCAL_ITERATIONS) * 1, 2);
  };
  const sdkUs = await run(() => openSessionSearch(System, { id: clientId }).first());
  const rawUs = await run(async () => {
    const res = await fetch('http://omniline.local/api/v1/sessions/search', {
      method: 'POST',
      body: JSON.stringify(rawOpenSessionBody(clientId)),
    });
    return ((await res.json()) as { items: { id: string }[] }).items[0];
  });
  return { iterations: LOCAL_ITERATIONS, sdkUs, rawUs, addedUs: round(sdkUs - rawUs, 2) };
}

interface PageSample {
  page: number;
  items: number;
  /** Items read so far. */
  read: number;
  heapMb: number;
  rssMb: number;
}

interface StreamResult {
  how: string;
  matches: number;
  pages: number;
  items: number;
  distinctIds: number;
  ms: number;
  firstPage: PageSample;
  lastPage: PageSample;
  /** Highest heap minus the first page's, MiB. */
  heapGrowthMb: number;
  /** Heap still held once the loop is done, the result still referenced (MiB over the baseline). */
  heldAfterMb: number;
  samples: PageSample[];
}

/** (b): reads every match of `cutoff` page by page, sampling memory at each page. */
async function streamAll(
  url: string,
  token: string,
  cutoff: string,
  how: 'pages' | 'all',
  gc: () => void,
): Promise<StreamResult> {
  const samples: PageSample[] = [];
  let read = 0;
  let sampling = false;
  const sample = (items: number) => {
    if (!sampling) return;
    read += items;
    samples.push({ page: samples.length + 1, items, read, heapMb: heapUsedMb(gc), rssMb: rssMb() ?? 0 });
  };
  const System = createSystem({
    url,
    token,
    // `.all()` gives nothing back until the end: its pages are sampled as each answer arrives.
    onResponse: how === 'all' ? (e) => sample((e.body as { items: unknown[] }).items.length) : undefined,
  });
  const search = () =>
    System.lines.sessions
      .search()
      .where((f) => f.__createdAt.lt(cutoff))
      .sort((f) => f.__createdAt, 'asc');
  const matches = await search().count();
  const baseline = heapUsedMb(gc);
  sampling = true;
  const start = performance.now();
  let items = 0;
  let distinctIds = 0;
  let held: SessionItem[] = [];
  if (how === 'pages') {
    // Every id checked without holding them: the order is by createdAt, so a page repeating or
    // skipping rows would show as a step back in time or a wrong total.
    let last = '';
    for await (const page of search().pages()) {
      for (const s of page) {
        if (s.data.__createdAt < last) throw new Error(`page ${samples.length + 1} steps back in time`);
        last = s.data.__createdAt;
      }
      items += page.length;
      distinctIds += page.length;
      sample(page.length);
    }
  } else {
    held = await search().all();
    items = held.length;
    distinctIds = new Set(held.map((s) => s.id)).size;
  }
  const ms = performance.now() - start;
  const heldAfterMb = round(heapUsedMb(gc) - baseline, 1);
  held = [];
  const first = samples[0]!;
  return {
    how: how === 'pages' ? 'for await (const page of search.pages())' : 'await search.all()',
    matches,
    pages: samples.length,
    items,
    distinctIds,
    ms: Math.round(ms),
    firstPage: first,
    lastPage: samples.at(-1)!,
    heapGrowthMb: round(Math.max(...samples.map((s) => s.heapMb)) - first.heapMb, 1),
    heldAfterMb,
    samples,
  };
}

async function openSessions(raw: Sql): Promise<Map<string, string>> {
  const rows = await raw<{ client: string; id: string }[]>`
    SELECT client_id AS client, id FROM sessions
    WHERE state IN ('Waiting', 'AssignedToBot', 'AssignedToOperator') ORDER BY client_id`;
  return new Map(rows.map((r) => [r.client, r.id]));
}

async function main(): Promise<void> {
  const started = Date.now();
  const scratch = await createScratchDatabase('omniline_sdk');
  log(`scratch database ${scratch.name}`);
  const raw = postgres(scratch.url, { max: 1, onnotice: () => {} });
  try {
    const database = await openDatabase({ url: scratch.url, dataDir: null, maxConnections: 2 });
    await migrate(database.db);
    await database.close();
    const machine = await machineInfo(raw);
    log(
      `load average ${machine.loadAverage.join(' ')} on ${machine.cpus} CPUs; CPU probe ${machine.cpuProbeMs} ms`,
    );
    log('seeding (bench/search.ts): 100,000 sessions over 1,000 clients, ~500,000 messages…');
    const seeded = await seed(raw);
    log(`seeded in ${(seeded.totalMs / 1000).toFixed(1)} s: ${JSON.stringify(seeded.rows)}`);

    const server = await startServer({
      databaseUrl: scratch.url,
      logLevel: 'warn',
      env: { OMNILINE_API_RATE_LIMIT: '0' },
    });
    const login = await server.request('POST', '/api/v1/auth/login', {
      body: { login: 'admin', password: SERVER_ADMIN_PASSWORD },
    });
    if (login.status !== 200) throw new Error(`login answered ${login.status}`);
    const token: string = login.body.token;
    const System = createSystem({ url: server.baseUrl, token });
    const searchUrl = `${server.baseUrl}/api/v1/sessions/search`;
    const rawFirst = async (clientId: string) => {
      const res = await fetch(searchUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'content-type': 'application/json',
        },
        body: JSON.stringify(rawOpenSessionBody(clientId)),
      });
      if (!res.ok) throw new Error(`raw search answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { items: { id: string }[] }).items[0]?.id;
    };

    const expected = await openSessions(raw);
    const clients = [...expected.keys()];
    const sampleClient = clients[0]!;
    const sameBody =
      JSON.stringify(openSessionSearch(System, { id: sampleClient }).compile(1)) ===
      JSON.stringify(rawOpenSessionBody(sampleClient));
    if (!sameBody)
      throw new Error('the SDK does not send the raw call’s body: the comparison would be unfair');
    log(
      `\n(a) open session of one of ${clients.length} clients: ${WARMUP} + ${ITERATIONS} interleaved pairs`,
    );
    const watch = { server: server.pid, database: scratch.name };
    const meter = cpuMeter(watch);
    const paired = await pairedFirst(System, rawFirst, clients, expected);
    const pairedCpu = meter();
    log(
      formatTable(
        ['call', 'p50', 'p90', 'p99', 'max', 'mean'],
        [
          ['SDK first()', paired.sdk.p50, paired.sdk.p90, paired.sdk.p99, paired.sdk.max, paired.sdk.mean],
          ['raw fetch', paired.raw.p50, paired.raw.p90, paired.raw.p99, paired.raw.max, paired.raw.mean],
          [
            'SDK − raw (per pair)',
            paired.added.p50,
            paired.added.p90,
            paired.added.p99,
            paired.added.max,
            paired.added.mean,
          ],
        ],
      ),
    );
    const overheadPass = paired.overhead <= TARGET_OVERHEAD && paired.wrongAnswers === 0;
    log(
      `SDK-added time per call: ${paired.added.p50.toFixed(3)} ms (median of pairs) = ${(paired.overhead * 100).toFixed(1)} % ` +
        `of the raw call's ${paired.raw.p50.toFixed(3)} ms; ratio SDK/raw: median ${paired.medianRatio}, mean ${paired.meanRatio}` +
        ` — target ≤ ${TARGET_OVERHEAD * 100} %: ${overheadPass ? 'PASS' : 'MISS'}; wrong answers ${paired.wrongAnswers}`,
    );
    log(
      `CPU during (a), cores: server ${pairedCpu.server}, bench ${pairedCpu.loadgen}, PostgreSQL ${pairedCpu.postgresBackends}, other ${pairedCpu.otherProcesses}`,
    );

    const reply = await (
      await fetch(searchUrl, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(rawOpenSessionBody(sampleClient)),
      })
    ).text();
    const local = await localFirst(reply, sampleClient);
    log(
      `\n(a') the SDK's own work, no network (${local.iterations} calls on a stored reply): SDK ${local.sdkUs} µs, ` +
        `raw JSON ${local.rawUs} µs per call → the SDK adds ${local.addedUs} µs`,
    );

    // The API's times have millisecond precision: the cut is the 10,000th creation time rounded up
    // to the next millisecond, searched with `lt`.
    const [cut] = await raw<{ at: string; n: number }[]>`
      WITH t AS (
        SELECT date_trunc('milliseconds', created_at) + interval '1 millisecond' AS at
        FROM sessions ORDER BY created_at, id OFFSET ${ALL_MATCHES - 1} LIMIT 1)
      SELECT to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
             (SELECT count(*)::int FROM sessions s WHERE s.created_at < t.at) AS n
      FROM t`;
    const gc = fullGc();
    log(
      `\n(b) every session created before ${cut!.at} (${cut!.n} by SQL), page by page (1000 a page), memory after a full GC at each page`,
    );
    const streams: StreamResult[] = [];
    for (const how of ['pages', 'all'] as const) {
      const r = await streamAll(server.baseUrl, token, cut!.at, how, gc);
      streams.push(r);
      log(
        `  ${r.how}: ${r.matches} matches, ${r.items} items (${r.distinctIds} distinct) in ${r.pages} pages, ${r.ms} ms;` +
          ` heap page 1 ${r.firstPage.heapMb} MiB → page ${r.pages} ${r.lastPage.heapMb} MiB (growth ${r.heapGrowthMb} MiB),` +
          ` RSS ${r.firstPage.rssMb} → ${r.lastPage.rssMb} MiB; held at the end ${r.heldAfterMb} MiB`,
      );
      log(`    heap per page, MiB: ${r.samples.map((s) => s.heapMb).join(' ')}`);
    }
    const [pagesRun, allRun] = streams as [StreamResult, StreamResult];
    const perItemKb = round((allRun.heldAfterMb * 1024) / Math.max(1, allRun.items), 2);
    // What `.all()` adds per page: the heap it holds after each answer minus the one before (the page
    // of items it kept). Streaming is flat when `pages()` grows by less than one such page over the
    // whole run; `.all()` holds its result and nothing else when every page adds about the same
    // (within half the median) and the end holds no more than the pages read plus the last one.
    const steps = allRun.samples.slice(1).map((s, i) => s.heapMb - allRun.samples[i]!.heapMb);
    const pageMb = [...steps].sort((a, b) => a - b)[Math.floor((steps.length - 1) / 2)] ?? 0;
    const flat = pagesRun.heapGrowthMb <= pageMb && pagesRun.items === cut!.n && pagesRun.matches === cut!.n;
    const allLinear =
      allRun.distinctIds === cut!.n &&
      steps.every((d) => Math.abs(d - pageMb) <= pageMb / 2) &&
      allRun.heldAfterMb <= allRun.heapGrowthMb + 2 * pageMb;
    log(
      `  pages(): heap growth ${pagesRun.heapGrowthMb} MiB over ${pagesRun.pages} pages (one page of items in .all() ≈ ${round(pageMb, 2)} MiB): ${flat ? 'flat' : 'NOT FLAT'}` +
        `\n  all(): holds its ${allRun.items} items (${perItemKb} KiB each; +${steps.map((d) => round(d, 2)).join(' +')} MiB a page), nothing more: ${allLinear ? 'yes' : 'NO'}`,
    );

    writeJson(resultsFile('sdk'), {
      benchmark: 'sdk',
      issue: '14 — the System.lines scripting SDK',
      command: 'flock /work/bench.lock npm run bench:sdk',
      machine,
      config: { iterations: ITERATIONS, warmup: WARMUP, allMatches: ALL_MATCHES, apiRateLimit: 0 },
      seed: seeded,
      targets: {
        overhead: `SDK-added time per call (median of interleaved pairs) ≤ ${TARGET_OVERHEAD * 100} % of the raw REST call`,
        streaming: 'pages() heap growth over 10,000 matches ≤ one page of items; all() holds its result only',
      },
      openSessionFirst: { ...paired, cpu: pairedCpu, pass: overheadPass },
      sdkOwnWork: local,
      all: {
        cutoff: cut!.at,
        matchesBySql: cut!.n,
        perItemKb,
        heapAddedPerPageMb: steps.map((d) => round(d, 2)),
        pagesFlat: flat,
        allHoldsOnlyResult: allLinear,
        runs: streams,
      },
      pass: overheadPass && flat && allLinear,
      durationS: Math.round((Date.now() - started) / 100) / 10,
    });
    log(`\nresults written to ${resultsFile('sdk')}`);
    log(
      `${overheadPass && flat && allLinear ? 'ALL PASS' : 'SOME MISS'} — ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}`,
    );
  } finally {
    await stopAllServers();
    await raw.end({ timeout: 5 }).catch(() => {});
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
