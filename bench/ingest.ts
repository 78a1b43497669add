/**
 * Benchmark of inbound ingestion (issue "Message pipeline"), on PostgreSQL:
 *
 *   N concurrent senders POST signed api-channel webhooks spread over 1,000 clients for 60 s. Print
 *   acknowledged messages/s, p50/p99 acknowledgement latency, RSS at start and end, and, in the same
 *   run, plain single-row INSERT throughput at the same concurrency (the database's limit here) with
 *   the ratio. Targets on this 2-core machine: ≥ 3,000 msg/s sustained, p99 < 50 ms at 1,000 msg/s,
 *   ratio ≥ 0.3, memory flat.
 *
 * The real server runs as a child process (`node --import tsx src/main.ts`, LOG_LEVEL=warn) on a
 * scratch database `omniline_ingest_<random>` of the server of DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test), dropped at the end, also on failure. Then:
 *
 *   warm-up   closed loop at full concurrency (JIT, pools, first contact of the 1,000 clients) for
 *             30 s: long enough for the bounded in-memory state to fill — each session's live
 *             stream keeps up to 2 × 20 publications for recovery, 1,000 streams here — so that
 *             "memory flat" measures what load does to memory, not a cache filling to its bound;
 *   phase A   throughput: `--concurrency` senders as fast as they go for `--seconds`;
 *   phase B   latency at a fixed rate: an open loop of `--rate` msg/s for `--rate-seconds`, each
 *             latency counted from the scheduled send time;
 *   phase C   baseline: single-row autocommit INSERTs into a plain table from a pool of
 *             `--concurrency` connections for `--insert-seconds` (the server is stopped by then).
 *
 * Server RSS (VmRSS) is sampled every second; "memory flat" compares the median of the first 10 s of
 * phase A (after the warm-up) with the median of the last 10 s of phase B (single readings jump with
 * GC). CPU use by process (and by unrelated processes: noise) and PostgreSQL's counters per message
 * are reported with each phase, to show where the time goes. Results go to bench/results/ingest.json.
 *
 *   npx tsx bench/ingest.ts [--concurrency 32] [--seconds 60] [--rate 1000] [--rate-seconds 20]
 *                           [--insert-seconds 15] [--warmup-seconds 30] [--cpu-prof <dir>]
 *
 * `--cpu-prof <dir>` writes the server's V8 CPU profile there (open it in Chrome DevTools).
 *
 *   npx tsx bench/ingest.ts --provider <name> [--concurrency 32] [--seconds 60] [--rate 1000] …
 *
 * measures one provider's signed webhooks against the api channel in the same run instead, and
 * `--provider all` every provider (see bench/ingest-provider.ts; the providers it knows are listed
 * in bench/ingest-providers.ts).
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import {
  createApiChannel,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../test/helpers/server-process.ts';
import { runProviderBench } from './ingest-provider.ts';
import { RssSampler, rssMb } from './lib/cpu.ts';
import { createScratchDatabase, type Sql } from './lib/db.ts';
import { closedLoop, openLoop, type Send } from './lib/load.ts';
import { describePhase, type PhaseFigures, phase } from './lib/phase.ts';
import { formatTable, type LatencyStats, type MachineInfo, machineInfo, writeJson } from './lib/report.ts';
import { insertBaseline, postWebhook, WebhookFactory } from './lib/webhooks.ts';

const CLIENTS = 1000;
const API_SECRET = 'ingest-bench-api-secret-0123456789';
const TARGETS = {
  ackPerSecond: 3000,
  p99AtRateMs: 50,
  ratio: 0.3,
  /** "Memory flat": RSS at the end at most this much above the start (after warm-up; medians of 10 s). */
  rssGrowth: 0.1,
} as const;
/** "Memory flat" compares the median RSS over the first and the last this many seconds of load. */
const RSS_WINDOW_S = 10;
/** CPU used by unrelated processes during a phase above which the summary warns (cores). */
const NOISE_CORES = 0.2;
const RESULTS_FILE = fileURLToPath(new URL('./results/ingest.json', import.meta.url));

const log = (...args: unknown[]) => console.log(...args);

interface Options {
  concurrency: number;
  seconds: number;
  rate: number;
  rateSeconds: number;
  insertSeconds: number;
  warmupSeconds: number;
  cpuProfDir: string | null;
  provider: string | null;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      concurrency: { type: 'string', default: '32' },
      seconds: { type: 'string', default: '60' },
      rate: { type: 'string', default: '1000' },
      'rate-seconds': { type: 'string', default: '20' },
      'insert-seconds': { type: 'string', default: '15' },
      'warmup-seconds': { type: 'string', default: '30' },
      'cpu-prof': { type: 'string' },
      provider: { type: 'string' },
    },
  });
  const positive = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  return {
    concurrency: Math.round(positive('concurrency')),
    seconds: positive('seconds'),
    rate: positive('rate'),
    rateSeconds: positive('rate-seconds'),
    insertSeconds: positive('insert-seconds'),
    warmupSeconds: positive('warmup-seconds'),
    cpuProfDir: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : null,
    provider: values.provider ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

/** A sender of fresh signed webhooks (unique message ids, 1,000 clients) to the server. */
function webhookSender(server: ServerProcess, channelId: string, agent: http.Agent, prefix: string): Send {
  const factory = new WebhookFactory(API_SECRET, CLIENTS, prefix);
  const target = { agent, port: server.port, path: `/webhooks/api/${channelId}` };
  return () => postWebhook(target, factory.next()).then((answer) => answer.status);
}

// ---------------------------------------------------------------------------------------------
// Database counters
// ---------------------------------------------------------------------------------------------

interface DbCounters {
  commits: number;
  rollbacks: number;
  rowsFetched: number;
  rowsReturned: number;
  rowsInserted: number;
  rowsUpdated: number;
  walBytes: number;
}

async function dbCounters(sql: Sql): Promise<DbCounters> {
  const [row] = await sql<{ [K in keyof DbCounters]: string }[]>`
    SELECT xact_commit AS commits, xact_rollback AS rollbacks, tup_fetched AS "rowsFetched",
           tup_returned AS "rowsReturned", tup_inserted AS "rowsInserted", tup_updated AS "rowsUpdated",
           pg_current_wal_lsn() - '0/0' AS "walBytes"
    FROM pg_stat_database WHERE datname = current_database()`;
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)])) as unknown as DbCounters;
}

/**
 * PostgreSQL's work per acknowledged message between two readings (statistics are flushed by the
 * backends about once a second, and WAL is cluster-wide: approximate figures).
 */
function perMessage(from: DbCounters, to: DbCounters, messages: number): Record<keyof DbCounters, number> {
  const entries = Object.keys(from).map((k) => {
    const key = k as keyof DbCounters;
    return [key, Math.round(((to[key] - from[key]) / Math.max(1, messages)) * 100) / 100];
  });
  return Object.fromEntries(entries) as Record<keyof DbCounters, number>;
}

// ---------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------

interface Verdict {
  target: string;
  measured: string;
  pass: boolean;
}

function verdicts(r: {
  throughput: PhaseFigures;
  fixedRate: PhaseFigures;
  ratio: number;
  rss: { start: number; end: number };
  rate: number;
}): Record<string, Verdict> {
  const growth = (r.rss.end - r.rss.start) / r.rss.start;
  const fixedRateErrors = Object.values(r.fixedRate.errors).reduce((s, n) => s + n, 0);
  return {
    throughput: {
      target: `≥ ${TARGETS.ackPerSecond} acknowledged msg/s sustained`,
      measured: `${r.throughput.ackPerSecond} msg/s (lowest 5 s window ${r.throughput.windows5s.min})`,
      pass: r.throughput.ackPerSecond >= TARGETS.ackPerSecond,
    },
    latency: {
      target: `p99 < ${TARGETS.p99AtRateMs} ms at ${r.rate} msg/s, every message acknowledged`,
      measured: `p99 ${r.fixedRate.latencyMs.p99} ms, ${r.fixedRate.ackPerSecond} msg/s, ${fixedRateErrors} errors`,
      pass: r.fixedRate.latencyMs.p99 < TARGETS.p99AtRateMs && fixedRateErrors === 0,
    },
    ratio: {
      target: `ack msg/s ÷ INSERT rows/s ≥ ${TARGETS.ratio}`,
      measured: r.ratio.toFixed(3),
      pass: r.ratio >= TARGETS.ratio,
    },
    memory: {
      target: `flat: RSS growth ≤ ${TARGETS.rssGrowth * 100}%, first ${RSS_WINDOW_S} s of phase A → last ${RSS_WINDOW_S} s of B (medians)`,
      measured: `${r.rss.start} → ${r.rss.end} MiB (${(growth * 100).toFixed(1)}%)`,
      pass: growth <= TARGETS.rssGrowth,
    },
  };
}

interface ServerFigures {
  throughput: PhaseFigures;
  fixedRate: PhaseFigures;
  /** PostgreSQL's work per acknowledged message in phase A. */
  database: Record<keyof DbCounters, number>;
  /** `start` and `end`: medians over the first and last RSS_WINDOW_S seconds of load after the warm-up. */
  rssMb: { idle: number; start: number; afterA: number; end: number; samples: RssSampler['samples'] };
}

/**
 * Closed-loop load until `seconds` have passed and every client has written once (its first
 * contact creates the client, a contact and a session: not the steady state being measured).
 */
async function warmUp(opts: Options, send: Send): Promise<void> {
  const end = performance.now() + opts.warmupSeconds * 1000;
  let acked = 0;
  while (performance.now() < end || acked < CLIENTS) {
    acked += (await closedLoop({ concurrency: opts.concurrency, durationMs: 1000, send })).acked;
  }
}

/** Starts the server and runs the warm-up, phase A and phase B against it; stops it at the end. */
async function runServerPhases(
  opts: Options,
  database: string,
  url: string,
  sql: Sql,
): Promise<ServerFigures> {
  const server = await startServer({
    databaseUrl: url,
    logLevel: 'warn',
    nodeArgs: opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [],
  });
  const channelId = await createApiChannel(server, API_SECRET, 'Ingest bench');
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(opts.concurrency, 256) });
  const sender = (prefix: string) => webhookSender(server, channelId, agent, prefix);
  const rss = new RssSampler(server.pid);
  rss.start();
  try {
    const idle = rssMb(server.pid)!;
    log(`warm-up: ${opts.warmupSeconds} s and one message from each of the ${CLIENTS} clients`);
    await warmUp(opts, sender('warmup'));
    const loadStartS = rss.elapsed();

    log(`phase A (throughput): ${opts.concurrency} senders for ${opts.seconds} s`);
    const countersBefore = await dbCounters(sql);
    const durationMs = opts.seconds * 1000;
    const throughput = await phase(server, database, () =>
      closedLoop({ concurrency: opts.concurrency, durationMs, send: sender('a') }),
    );
    const perMessageCounters = perMessage(countersBefore, await dbCounters(sql), throughput.acked);
    const afterA = rssMb(server.pid)!;
    log(describePhase('phase A', throughput));

    log(`phase B (latency): open loop at ${opts.rate} msg/s for ${opts.rateSeconds} s`);
    const fixedRate = await phase(server, database, () =>
      openLoop({ rate: opts.rate, durationMs: opts.rateSeconds * 1000, drainMs: 15_000, send: sender('b') }),
    );
    const loadEndS = rss.elapsed();
    log(describePhase('phase B', fixedRate));
    return {
      throughput,
      fixedRate,
      database: perMessageCounters,
      rssMb: {
        idle,
        start: rss.median(loadStartS, loadStartS + RSS_WINDOW_S),
        afterA,
        end: rss.median(loadEndS - RSS_WINDOW_S, loadEndS),
        samples: rss.samples,
      },
    };
  } finally {
    rss.stop();
    agent.destroy();
    await server.kill('SIGTERM');
  }
}

async function runBaseline(opts: Options, database: string, url: string): Promise<PhaseFigures> {
  log(`phase C (baseline): single-row INSERTs, pool of ${opts.concurrency}, ${opts.insertSeconds} s`);
  const durationMs = opts.insertSeconds * 1000;
  const baseline = await phase(null, database, (loadDone) =>
    insertBaseline(url, { concurrency: opts.concurrency, durationMs, loadDone }),
  );
  log(describePhase('phase C', baseline));
  return baseline;
}

function report(opts: Options, served: ServerFigures, baseline: PhaseFigures, machine: MachineInfo): void {
  const { throughput, fixedRate, rssMb: rss } = served;
  const ratio = Math.round((throughput.ackPerSecond / baseline.ackPerSecond) * 1000) / 1000;
  const verdict = verdicts({ throughput, fixedRate, ratio, rss, rate: opts.rate });
  printSummary(served, baseline, ratio, verdict);
  writeJson(RESULTS_FILE, {
    benchmark: 'ingest',
    issue: 'Message pipeline',
    machine,
    config: { ...opts, clients: CLIENTS, serverPoolMax: 10, logLevel: 'warn' },
    targets: TARGETS,
    results: {
      throughput,
      fixedRate: { rate: opts.rate, ...fixedRate },
      baseline,
      ratio,
      rssMb: rss,
      databasePerMessage: served.database,
    },
    verdicts: verdict,
    pass: Object.values(verdict).every((v) => v.pass),
  });
  log(`\nwritten to ${path.relative(process.cwd(), RESULTS_FILE)}`);
}

function printSummary(
  served: ServerFigures,
  baseline: PhaseFigures,
  ratio: number,
  verdict: Record<string, Verdict>,
): void {
  const { throughput, fixedRate, rssMb: rss } = served;
  const sampled = rss.samples.map((s) => s.mb);
  log('\nSummary');
  log(
    formatTable(
      ['phase', 'ack/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      [
        ['A throughput', throughput.ackPerSecond, ...latencyCells(throughput.latencyMs)],
        ['B fixed rate', fixedRate.ackPerSecond, ...latencyCells(fixedRate.latencyMs)],
        ['C INSERT baseline', baseline.ackPerSecond, ...latencyCells(baseline.latencyMs)],
      ],
    ),
  );
  log(`\nratio A ÷ C: ${ratio}`);
  log(
    `server RSS MiB: idle ${rss.idle}, start ${rss.start}, after A ${rss.afterA}, end ${rss.end} ` +
      `(sampled ${Math.min(...sampled)}–${Math.max(...sampled)})`,
  );
  log(`PostgreSQL per message (phase A): ${JSON.stringify(served.database)}`);
  const noisy = Object.entries({ A: throughput, B: fixedRate, C: baseline }).filter(
    ([, f]) => f.cpuCores.otherProcesses > NOISE_CORES,
  );
  for (const [name, f] of noisy) {
    log(
      `WARNING: other processes used ${f.cpuCores.otherProcesses} cores during phase ${name}: not a quiet machine`,
    );
  }
  log('');
  log(
    formatTable(
      ['target', 'measured', 'verdict'],
      Object.values(verdict).map((v) => [v.target, v.measured, v.pass ? 'PASS' : 'FAIL']),
    ),
  );
}

async function main(): Promise<void> {
  const opts = parseOptions();
  if (opts.provider) return runProvider({ ...opts, provider: opts.provider });
  const scratch = await createScratchDatabase('omniline_ingest');
  const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
  try {
    log(`scratch database ${scratch.name}; concurrency ${opts.concurrency}, phase A ${opts.seconds} s`);
    const served = await runServerPhases(opts, scratch.name, scratch.url, sql);
    const baseline = await runBaseline(opts, scratch.name, scratch.url);
    report(opts, served, baseline, await machineInfo(sql));
  } finally {
    await stopAllServers();
    await sql.end({ timeout: 5 });
    await scratch.drop();
  }
}

async function runProvider(opts: Options & { provider: string }): Promise<void> {
  const scratch = await createScratchDatabase('omniline_ingest');
  try {
    log(`scratch database ${scratch.name}; provider ${opts.provider}, concurrency ${opts.concurrency}`);
    await runProviderBench(opts, scratch.name, scratch.url);
  } finally {
    await stopAllServers();
    await scratch.drop();
  }
}

const latencyCells = (l: LatencyStats) => [l.p50, l.p90, l.p99, l.max];

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
