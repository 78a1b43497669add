/**
 * Benchmark of database faults (issue "Hardening"), on PostgreSQL:
 *
 *   signed api-channel webhooks at `--rate` msg/s (open loop, 1,000 clients) for `--seconds`, while
 *   every PostgreSQL backend of the node is terminated (`pg_terminate_backend`) `--cuts` times,
 *   evenly spread. Each refused webhook is sent again after its Retry-After, as a messenger does.
 *   Printed and written to bench/results/faults.json:
 *
 *   - crashes (the server process exiting): target 0;
 *   - refusals by status, and whether each 503 carried Retry-After: every refusal a 503 with it;
 *   - acknowledged messages lost (acknowledged, not stored) and duplicated (stored twice): 0 and 0;
 *   - time back to full throughput after each cut: from the cut until messages are again acknowledged
 *     at their first attempt as fast as before it — the end of the first 250 ms slice from which on,
 *     for 2 s (or until the next cut), every first attempt is acknowledged within the pre-cut
 *     latency bound (3 × the p99 of the 2 s before the cut, at least p99 + 100 ms): target ≤ 3 s;
 *   - acknowledgement latency of first attempts (p50, p99, max) and acknowledgements per second.
 *
 * Before the clock starts, each of the 1,000 clients writes once (its first message opens its
 * session, a slower path than the steady load measured here); those messages count for lost and
 * duplicated, not for the figures.
 *
 * The server runs as a child process on a scratch database `omniline_faults_<random>` of the server
 * of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), dropped at the end.
 *
 *   npx tsx bench/faults.ts [--rate 1000] [--seconds 60] [--cuts 3]
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createApiChannel, startServer } from '../test/helpers/server-process.ts';
import { createScratchDatabase } from './lib/db.ts';
import { formatTable, machineInfo, summarize, writeJson } from './lib/report.ts';
import { postWebhook, type Webhook, WebhookFactory } from './lib/webhooks.ts';

const CLIENTS = 1000;
const API_SECRET = 'faults-bench-api-secret-0123456789';
const PREFIX = 'fault';
const TARGET_RECOVERY_MS = 3000;
/** A message refused this many times in a row counts as not delivered. */
const MAX_ATTEMPTS = 60;
/** Recovery is looked for in slices of this length, and must then hold this long. */
const SLICE_MS = 250;
const STEADY_MS = 2000;
const RESULTS_FILE = fileURLToPath(new URL('./results/faults.json', import.meta.url));
const log = (...args: unknown[]) => console.log(...args);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    cuts: { type: 'string', default: '3' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const CUTS = Number(values.cuts);
for (const [name, v] of Object.entries({ rate: RATE, seconds: SECONDS, cuts: CUTS })) {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
}

interface Attempt {
  /** ms since the start of the run. */
  sentAt: number;
  answeredAt: number;
  status: number | null;
  retryAfter: number | null;
}

interface Delivery {
  id: string;
  attempts: Attempt[];
  acked: boolean;
}

async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const scratch = await createScratchDatabase('omniline_faults', adminUrl);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const machine = await machineInfo(admin);
    const server = await startServer({ databaseUrl: scratch.url, logLevel: 'warn' });
    let crashed = false;
    void server.exited.then(() => {
      crashed = true;
    });
    const channelId = await createApiChannel(server, API_SECRET, 'Faults bench');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
    const target = { agent, port: server.port, path: `/webhooks/api/${channelId}` };
    const factory = new WebhookFactory(API_SECRET, CLIENTS, PREFIX);
    const deliveries: Delivery[] = [];
    let start = performance.now();
    const clock = () => performance.now() - start;

    const deliver = async (delivery: Delivery, webhook: Webhook) => {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS && !crashed; attempt++) {
        const sentAt = clock();
        const answer = await postWebhook(target, webhook).catch(() => ({ status: null, retryAfter: null }));
        delivery.attempts.push({ sentAt, answeredAt: clock(), ...answer });
        if (answer.status !== null && answer.status >= 200 && answer.status < 300) {
          delivery.acked = true;
          return;
        }
        await sleep((answer.retryAfter ?? 1) * 1000);
      }
    };

    log(`warm-up: the first message of each of ${CLIENTS} clients`);
    const warmUp: Delivery[] = [];
    const warmUpQueue = Array.from({ length: CLIENTS }, () => factory.next());
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let webhook = warmUpQueue.pop(); webhook; webhook = warmUpQueue.pop()) {
          const delivery: Delivery = { id: JSON.parse(webhook.body).messageId, attempts: [], acked: false };
          warmUp.push(delivery);
          await deliver(delivery, webhook);
        }
      }),
    );
    start = performance.now();

    const cutTimes = Array.from({ length: CUTS }, (_, i) => ((i + 1) * SECONDS * 1000) / (CUTS + 1));
    const cuts: { at: number; terminated: number }[] = [];
    const cutting = cutTimes.map((at) =>
      sleep(at).then(async () => {
        const rows = await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                 WHERE datname = ${scratch.name} AND pid <> pg_backend_pid()`;
        cuts.push({ at: clock(), terminated: rows.length });
        log(`cut ${cuts.length} at ${(clock() / 1000).toFixed(1)} s: ${rows.length} backends terminated`);
      }),
    );

    log(`${RATE} msg/s for ${SECONDS} s, ${CUTS} cuts of every database connection of the node`);
    const total = Math.floor(RATE * SECONDS);
    const pending: Promise<void>[] = [];
    await new Promise<void>((resolve) => {
      let started = 0;
      const timer = setInterval(() => {
        const due = Math.min(total, Math.floor((clock() * RATE) / 1000) + 1);
        for (; started < due; started++) {
          const webhook = factory.next();
          const delivery: Delivery = { id: JSON.parse(webhook.body).messageId, attempts: [], acked: false };
          deliveries.push(delivery);
          pending.push(deliver(delivery, webhook));
        }
        if (started >= total || crashed) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    await Promise.all([...pending, ...cutting]);
    agent.destroy();

    const stored = await storedIds(scratch.url);
    const acked = deliveries.filter((d) => d.acked);
    const lost = [...warmUp, ...acked].filter((d) => d.acked && !stored.has(d.id)).length;
    const duplicated = [...stored.values()].filter((n) => n > 1).length;
    const refusals = deliveries.flatMap((d) => d.attempts.filter((a) => a.status !== 200));
    const byStatus: Record<string, number> = {};
    for (const r of refusals)
      byStatus[String(r.status ?? 'no answer')] = (byStatus[String(r.status ?? 'no answer')] ?? 0) + 1;
    const without503RetryAfter = refusals.filter((r) => r.status !== 503 || !r.retryAfter).length;
    const firsts = deliveries.map((d) => d.attempts[0]!);
    const recoveries = cuts.map((cut, i) => {
      const until = cuts[i + 1]?.at ?? clock();
      const before = firsts.filter((a) => a.sentAt >= cut.at - 2000 && a.sentAt < cut.at && a.status === 200);
      const p99 = summarize(before.map((a) => a.answeredAt - a.sentAt)).p99;
      const boundMs = Math.max(3 * p99, p99 + 100);
      const after = firsts.filter((a) => a.sentAt >= cut.at && a.sentAt < until);
      const healthy = (a: Attempt) => a.status === 200 && a.answeredAt - a.sentAt <= boundMs;
      // The first slice from which on every first attempt, for 2 s, is acknowledged as before the cut.
      let recoveredAt = until;
      for (let slice = cut.at; slice < until; slice += SLICE_MS) {
        const window = after.filter(
          (a) => a.sentAt >= slice && a.sentAt < Math.min(until, slice + STEADY_MS),
        );
        if (window.every(healthy)) {
          const first = window.filter((a) => a.sentAt < slice + SLICE_MS);
          recoveredAt = Math.max(slice, ...first.map((a) => a.answeredAt));
          break;
        }
      }
      return {
        cutAtS: round(cut.at / 1000),
        terminated: cut.terminated,
        refused: after.filter((a) => a.status !== 200).length,
        latencyBoundMs: Math.round(boundMs),
        recoveryMs: Math.round(recoveredAt - cut.at),
      };
    });
    const firstAcked = firsts.filter((a) => a.status === 200);
    const latency = summarize(firstAcked.map((a) => a.answeredAt - a.sentAt));
    const perSecond = new Array<number>(Math.ceil(clock() / 1000)).fill(0);
    for (const d of acked) {
      const s = Math.floor(d.attempts.at(-1)!.answeredAt / 1000);
      perSecond[s] = (perSecond[s] ?? 0) + 1;
    }
    const crashes = crashed ? 1 : 0;
    if (!crashed) await server.kill('SIGTERM');

    const figures = {
      warmUp: warmUp.length,
      sent: deliveries.length,
      acknowledged: acked.length,
      notDelivered: deliveries.length - acked.length,
      crashes,
      lost,
      duplicated,
      refusals: byStatus,
      refusalsNot503WithRetryAfter: without503RetryAfter,
      cuts: recoveries,
      maxRecoveryMs: Math.max(0, ...recoveries.map((r) => r.recoveryMs)),
      firstAttemptLatencyMs: latency,
      ackedPerSecond: perSecond,
    };
    log('');
    log(
      formatTable(
        ['cut at s', 'backends', 'refused', 'latency bound ms', 'recovery ms'],
        recoveries.map((r) => [r.cutAtS, r.terminated, r.refused, r.latencyBoundMs, r.recoveryMs]),
      ),
    );
    log('');
    log(
      formatTable(
        ['figure', 'value', 'target'],
        [
          ['crashes', String(figures.crashes), '0'],
          ['acknowledged / sent', `${acked.length} / ${deliveries.length}`, 'all'],
          ['acknowledged lost', String(lost), '0'],
          ['stored twice', String(duplicated), '0'],
          ['refusals', JSON.stringify(byStatus), 'only 503'],
          ['refusals not 503 + Retry-After', String(without503RetryAfter), '0'],
          ['max recovery after a cut (ms)', String(figures.maxRecoveryMs), `≤ ${TARGET_RECOVERY_MS}`],
          [
            'first-attempt ack p50 / p99 / max (ms)',
            `${round(latency.p50)} / ${round(latency.p99)} / ${round(latency.max)}`,
            '',
          ],
        ],
      ),
    );
    const verdict =
      figures.crashes === 0 &&
      lost === 0 &&
      duplicated === 0 &&
      without503RetryAfter === 0 &&
      figures.notDelivered === 0 &&
      figures.maxRecoveryMs <= TARGET_RECOVERY_MS;
    log(`\n${verdict ? 'every target met' : 'TARGETS MISSED'}`);
    writeJson(RESULTS_FILE, {
      benchmark: 'faults',
      options: { rate: RATE, seconds: SECONDS, cuts: CUTS },
      machine,
      targets: { crashes: 0, lost: 0, duplicated: 0, recoveryMs: TARGET_RECOVERY_MS },
      figures,
      verdict,
    });
    log(`written to ${RESULTS_FILE}`);
    if (crashes) log(`the server crashed:\n${server.output()}`);
  } finally {
    await admin.end();
    await scratch.drop();
  }
}

/** How many times each external message id of the run is stored. */
async function storedIds(url: string): Promise<Map<string, number>> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ external_id: string; n: number }[]>`
      SELECT external_id, count(*)::int AS n FROM messages WHERE external_id LIKE ${`${PREFIX}-%`}
      GROUP BY external_id`;
    return new Map(rows.map((r) => [r.external_id, r.n]));
  } finally {
    await sql.end();
  }
}

const round = (n: number) => Math.round(n * 10) / 10;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
