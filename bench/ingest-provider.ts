/**
 * `bench/ingest.ts --provider <name>`: signed webhooks of one provider through the real route,
 * measured against the api channel in the same run (issue 15's benchmark); `--provider all` runs
 * every provider of INGEST_PROVIDERS on one server, each against the api channel.
 *
 *   warm-up   every channel, closed loop, until `--warmup-seconds` have passed and every client of
 *             each has written once (first contact is not the steady state);
 *   phase A   throughput: `--concurrency` senders for `--seconds` on the api channel, then the same
 *             on the provider's channel, pair by pair; the ratio provider ÷ api of its pair is the
 *             figure (target ≥ 0.8);
 *   phase B   latency: an open loop of `--rate` msg/s for `--rate-seconds` on each channel, api too
 *             (target p99 < 50 ms, every webhook acknowledged);
 *   check     every 10th webhook is sent again later (a messenger's retry): each message id the
 *             server acknowledged must be stored exactly once — 0 lost, 0 duplicated.
 *
 * Results go to bench/results/ingest-<provider>.json, or ingest-providers.json for `all`.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { SERVER_ADMIN_PASSWORD, type ServerProcess, startServer } from '../test/helpers/server-process.ts';
import { INGEST_PROVIDERS, type IngestChannel, type IngestWebhook } from './ingest-providers.ts';
import type { Sql } from './lib/db.ts';
import { INGEST_SERVER_ENV } from './lib/ingest-channel.ts';
import { closedLoop, openLoop, type Send } from './lib/load.ts';
import { describePhase, type PhaseFigures, phase } from './lib/phase.ts';
import { formatTable, machineInfo, writeJson } from './lib/report.ts';
import { postWebhook } from './lib/webhooks.ts';

const CLIENTS = 1000;
/** Every REPLAY_EVERY-th send repeats an earlier webhook, as a messenger retrying a delivery does. */
const REPLAY_EVERY = 10;
const TARGETS = { ratio: 0.8, p99AtRateMs: 50 } as const;

const log = (...args: unknown[]) => console.log(...args);

export interface ProviderBenchOptions {
  provider: string;
  concurrency: number;
  seconds: number;
  rate: number;
  rateSeconds: number;
  warmupSeconds: number;
}

/** Sends fresh webhooks of one channel, replaying some, and remembers which message ids were acknowledged. */
class Sender {
  readonly acked = new Set<string>();
  #sent: IngestWebhook[] = [];
  #n = 0;

  constructor(
    private readonly channel: IngestChannel,
    private readonly agent: http.Agent,
    private readonly port: number,
  ) {}

  send(prefix: string): Send {
    const next = this.channel.webhooks(prefix, CLIENTS);
    const target = { agent: this.agent, port: this.port, path: this.channel.path };
    return async () => {
      const n = this.#n++;
      const replay = n % REPLAY_EVERY === REPLAY_EVERY - 1 && this.#sent.length > 0;
      const webhook = replay ? this.#sent[(n * 7919) % this.#sent.length]! : next();
      if (!replay && this.#sent.length < 10_000) this.#sent.push(webhook);
      const { status } = await postWebhook(target, webhook);
      if (status >= 200 && status < 300) for (const id of webhook.ids) this.acked.add(id);
      return status;
    };
  }
}

async function login(server: ServerProcess): Promise<{ token: string; lineId: string }> {
  const answer = await server.request('POST', '/api/v1/auth/login', {
    body: { login: 'admin', password: SERVER_ADMIN_PASSWORD },
  });
  if (answer.status !== 200) throw new Error(`login answered ${answer.status}`);
  const token: string = answer.body.token;
  const line = await server.request('POST', '/api/v1/lines', { token, body: { name: 'Ingest bench' } });
  if (line.status !== 201) throw new Error(`creating the line answered ${line.status}`);
  return { token, lineId: line.body.id };
}

/** Closed-loop load until `seconds` have passed and each of the channel's clients has written once. */
async function warmUp(opts: ProviderBenchOptions, send: Send, seconds: number): Promise<void> {
  const end = performance.now() + seconds * 1000;
  let acked = 0;
  while (performance.now() < end || acked < CLIENTS) {
    acked += (await closedLoop({ concurrency: opts.concurrency, durationMs: 1000, send })).acked;
  }
}

/** Acknowledged message ids missing from the channel's messages, and rows stored more than once. */
async function lostAndDuplicated(sql: Sql, channelId: string, acked: Set<string>) {
  const rows = await sql<{ externalId: string; n: number }[]>`
    SELECT external_id AS "externalId", count(*)::int AS n FROM messages
    WHERE channel_id = ${channelId} AND direction = 'incoming' GROUP BY external_id`;
  const stored = new Map(rows.map((r) => [r.externalId, r.n]));
  let lost = 0;
  for (const id of acked) if (!stored.has(id)) lost++;
  const duplicated = rows.reduce((s, r) => s + (r.n - 1), 0);
  return { acked: acked.size, stored: rows.length, lost, duplicated };
}

/** The providers a `--provider` value names: one, or every one but api with `all`. */
export function providersOf(name: string): string[] {
  if (name === 'all') return Object.keys(INGEST_PROVIDERS).filter((p) => p !== 'api');
  if (!INGEST_PROVIDERS[name] || name === 'api') {
    const names = Object.keys(INGEST_PROVIDERS).filter((p) => p !== 'api');
    throw new Error(`--provider must be all or one of ${names.join(', ')}`);
  }
  return [name];
}

interface Measured {
  channel: IngestChannel;
  sender: Sender;
  /** Phase A of the api channel just before this provider's (the pair a ratio is taken over). */
  apiA: PhaseFigures | null;
  A: PhaseFigures | null;
  B: PhaseFigures | null;
}

export async function runProviderBench(opts: ProviderBenchOptions, database: string, url: string) {
  const providers = providersOf(opts.provider);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const server = await startServer({ databaseUrl: url, logLevel: 'warn', env: INGEST_SERVER_ENV });
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(opts.concurrency, 256) });
  const measured = new Map<string, Measured>();
  try {
    const setup = { server, ...(await login(server)) };
    for (const name of ['api', ...providers]) {
      const channel = await INGEST_PROVIDERS[name]!(setup);
      measured.set(name, {
        channel,
        sender: new Sender(channel, agent, server.port),
        apiA: null,
        A: null,
        B: null,
      });
    }
    const api = measured.get('api')!;
    const share = opts.warmupSeconds / measured.size;
    log(`warm-up: ${opts.warmupSeconds} s over ${measured.size} channels, ${CLIENTS} clients each`);
    for (const m of measured.values()) await warmUp(opts, m.sender.send('warmup'), share);

    const durationMs = opts.seconds * 1000;
    const closed = (s: Sender) => () =>
      closedLoop({ concurrency: opts.concurrency, durationMs, send: s.send('a') });
    // Each provider right after an api phase of its own: the machine drifts over a long run.
    for (const name of providers) {
      const m = measured.get(name)!;
      log(`phase A (throughput): ${opts.concurrency} senders for ${opts.seconds} s, api then ${name}`);
      m.apiA = await phase(server, database, closed(api.sender));
      log(describePhase('phase A api', m.apiA));
      m.A = await phase(server, database, closed(m.sender));
      log(describePhase(`phase A ${name}`, m.A));
    }
    for (const [name, m] of measured) {
      log(`phase B (latency): ${name} open loop at ${opts.rate} msg/s for ${opts.rateSeconds} s`);
      m.B = await phase(server, database, () =>
        openLoop({
          rate: opts.rate,
          durationMs: opts.rateSeconds * 1000,
          drainMs: 15_000,
          send: m.sender.send('b'),
        }),
      );
      log(describePhase(`phase B ${name}`, m.B));
    }
    const integrity: Record<string, Awaited<ReturnType<typeof lostAndDuplicated>>> = {};
    for (const [name, m] of measured) {
      integrity[name] = await lostAndDuplicated(sql, m.channel.channelId, m.sender.acked);
    }
    report(opts, providers, measured, integrity, await machineInfo(sql));
  } finally {
    for (const m of measured.values()) await m.channel.close();
    agent.destroy();
    await server.kill('SIGTERM');
    await sql.end({ timeout: 5 });
  }
}

function verdictsOf(
  opts: ProviderBenchOptions,
  m: Measured,
  integrity: Awaited<ReturnType<typeof lostAndDuplicated>>,
) {
  const ratio = Math.round((m.A!.ackPerSecond / m.apiA!.ackPerSecond) * 1000) / 1000;
  const errorsB = Object.values(m.B!.errors).reduce((s, n) => s + n, 0);
  return {
    ratio,
    verdicts: {
      ratio: {
        target: `ack msg/s ≥ ${TARGETS.ratio} × api's (the api phase just before)`,
        measured: `${m.A!.ackPerSecond} ÷ ${m.apiA!.ackPerSecond} = ${ratio}`,
        pass: ratio >= TARGETS.ratio,
      },
      latency: {
        target: `p99 < ${TARGETS.p99AtRateMs} ms at ${opts.rate} msg/s, every webhook acknowledged`,
        measured: `p99 ${m.B!.latencyMs.p99} ms, ${m.B!.ackPerSecond} msg/s, ${errorsB} errors`,
        pass: m.B!.latencyMs.p99 < TARGETS.p99AtRateMs && errorsB === 0,
      },
      integrity: {
        target: '0 lost, 0 duplicated (every 10th webhook replayed)',
        measured: `${integrity.acked} acknowledged ids, ${integrity.stored} stored, ${integrity.lost} lost, ${integrity.duplicated} duplicated`,
        pass: integrity.lost === 0 && integrity.duplicated === 0,
      },
    },
  };
}

function report(
  opts: ProviderBenchOptions,
  providers: string[],
  measured: Map<string, Measured>,
  integrity: Record<string, Awaited<ReturnType<typeof lostAndDuplicated>>>,
  machine: Awaited<ReturnType<typeof machineInfo>>,
): void {
  const rows: (string | number)[][] = [];
  const results: Record<string, unknown> = {};
  let pass = true;
  for (const name of providers) {
    const m = measured.get(name)!;
    const { ratio, verdicts } = verdictsOf(opts, m, integrity[name]!);
    for (const v of Object.values(verdicts)) {
      rows.push([name, v.target, v.measured, v.pass ? 'PASS' : 'FAIL']);
      pass &&= v.pass;
    }
    results[name] = { apiA: m.apiA, A: m.A, B: m.B, ratio, integrity: integrity[name], verdicts };
  }
  const api = measured.get('api')!;
  results.api = { B: api.B, integrity: integrity.api };
  log('');
  log(formatTable(['provider', 'target', 'measured', 'verdict'], rows));
  log(`\nload average (1, 5, 15 min): ${machine.loadAverage.join(', ')}; CPU probe ${machine.cpuProbeMs} ms`);
  const name = opts.provider === 'all' ? 'ingest-providers' : `ingest-${opts.provider}`;
  const file = fileURLToPath(new URL(`./results/${name}.json`, import.meta.url));
  writeJson(file, {
    benchmark: 'ingest --provider',
    issue: 'Messenger providers (15)',
    command: `npx tsx bench/ingest.ts ${process.argv.slice(2).join(' ')}`,
    machine,
    config: { ...opts, providers, clients: CLIENTS, replayEvery: REPLAY_EVERY },
    targets: TARGETS,
    results,
    pass,
  });
  log(`\nwritten to ${path.relative(process.cwd(), file)}`);
}
