/**
 * `bench/ingest.ts --provider <name>`: signed webhooks of one provider through the real route,
 * measured against the api channel in the same run (issue 15's benchmark).
 *
 *   warm-up   both channels, closed loop, until `--warmup-seconds` have passed and every client of
 *             each has written once (first contact is not the steady state);
 *   phase A   throughput: `--concurrency` senders for `--seconds` on the api channel, then the same
 *             on the provider's channel; the ratio provider ÷ api is the figure (target ≥ 0.8);
 *   phase B   latency: an open loop of `--rate` msg/s for `--rate-seconds` on the provider's channel
 *             (target p99 < 50 ms, every webhook acknowledged);
 *   check     every 10th webhook is sent again later (a messenger's retry): each message id the
 *             server acknowledged must be stored exactly once — 0 lost, 0 duplicated.
 *
 * Results go to bench/results/ingest-<provider>.json.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { SERVER_ADMIN_PASSWORD, type ServerProcess, startServer } from '../test/helpers/server-process.ts';
import { INGEST_PROVIDERS, type IngestChannel, type IngestWebhook } from './ingest-providers.ts';
import type { Sql } from './lib/db.ts';
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

export async function runProviderBench(opts: ProviderBenchOptions, database: string, url: string) {
  const setupOf = INGEST_PROVIDERS[opts.provider];
  if (!setupOf) {
    throw new Error(`--provider must be one of ${Object.keys(INGEST_PROVIDERS).join(', ')}`);
  }
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const server = await startServer({ databaseUrl: url, logLevel: 'warn' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(opts.concurrency, 256) });
  const channels: IngestChannel[] = [];
  try {
    const setup = { server, ...(await login(server)) };
    const api = await INGEST_PROVIDERS.api!(setup);
    channels.push(api);
    const tested = await setupOf(setup);
    channels.push(tested);
    const apiSender = new Sender(api, agent, server.port);
    const sender = new Sender(tested, agent, server.port);

    log(`warm-up: ${opts.warmupSeconds} s over both channels, ${CLIENTS} clients each`);
    await warmUp(opts, apiSender.send('warmup'), opts.warmupSeconds / 2);
    await warmUp(opts, sender.send('warmup'), opts.warmupSeconds / 2);

    const durationMs = opts.seconds * 1000;
    const closed = (s: Sender) => () =>
      closedLoop({ concurrency: opts.concurrency, durationMs, send: s.send('a') });
    log(`phase A (throughput): ${opts.concurrency} senders for ${opts.seconds} s, api then ${opts.provider}`);
    const apiA = await phase(server, database, closed(apiSender));
    log(describePhase('phase A api', apiA));
    const providerA = await phase(server, database, closed(sender));
    log(describePhase(`phase A ${opts.provider}`, providerA));

    log(`phase B (latency): ${opts.provider} open loop at ${opts.rate} msg/s for ${opts.rateSeconds} s`);
    const providerB = await phase(server, database, () =>
      openLoop({
        rate: opts.rate,
        durationMs: opts.rateSeconds * 1000,
        drainMs: 15_000,
        send: sender.send('b'),
      }),
    );
    log(describePhase(`phase B ${opts.provider}`, providerB));

    const integrity = {
      api: await lostAndDuplicated(sql, api.channelId, apiSender.acked),
      [opts.provider]: await lostAndDuplicated(sql, tested.channelId, sender.acked),
    };
    report(opts, { apiA, providerA, providerB, integrity }, await machineInfo(sql));
  } finally {
    for (const c of channels) await c.close();
    agent.destroy();
    await server.kill('SIGTERM');
    await sql.end({ timeout: 5 });
  }
}

function report(
  opts: ProviderBenchOptions,
  r: {
    apiA: PhaseFigures;
    providerA: PhaseFigures;
    providerB: PhaseFigures;
    integrity: Record<string, Awaited<ReturnType<typeof lostAndDuplicated>>>;
  },
  machine: Awaited<ReturnType<typeof machineInfo>>,
): void {
  const ratio = Math.round((r.providerA.ackPerSecond / r.apiA.ackPerSecond) * 1000) / 1000;
  const errorsB = Object.values(r.providerB.errors).reduce((s, n) => s + n, 0);
  const mine = r.integrity[opts.provider]!;
  const verdict = {
    ratio: {
      target: `${opts.provider} ack msg/s ≥ ${TARGETS.ratio} × api's (same run)`,
      measured: `${r.providerA.ackPerSecond} ÷ ${r.apiA.ackPerSecond} = ${ratio}`,
      pass: ratio >= TARGETS.ratio,
    },
    latency: {
      target: `p99 < ${TARGETS.p99AtRateMs} ms at ${opts.rate} msg/s, every webhook acknowledged`,
      measured: `p99 ${r.providerB.latencyMs.p99} ms, ${r.providerB.ackPerSecond} msg/s, ${errorsB} errors`,
      pass: r.providerB.latencyMs.p99 < TARGETS.p99AtRateMs && errorsB === 0,
    },
    integrity: {
      target: '0 lost, 0 duplicated (every 10th webhook replayed)',
      measured: `${mine.acked} acknowledged ids, ${mine.stored} stored, ${mine.lost} lost, ${mine.duplicated} duplicated`,
      pass: mine.lost === 0 && mine.duplicated === 0,
    },
  };
  log('');
  log(
    formatTable(
      ['target', 'measured', 'verdict'],
      Object.values(verdict).map((v) => [v.target, v.measured, v.pass ? 'PASS' : 'FAIL']),
    ),
  );
  const file = fileURLToPath(new URL(`./results/ingest-${opts.provider}.json`, import.meta.url));
  writeJson(file, {
    benchmark: 'ingest --provider',
    issue: 'Messenger providers (15)',
    machine,
    config: { ...opts, clients: CLIENTS, replayEvery: REPLAY_EVERY },
    targets: TARGETS,
    results: { ...r, ratio },
    verdicts: verdict,
    pass: Object.values(verdict).every((v) => v.pass),
  });
  log(`\nwritten to ${path.relative(process.cwd(), file)}`);
}
