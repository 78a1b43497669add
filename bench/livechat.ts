/**
 * Benchmark of the website live chat (issue 17): many visitors on the widget's wire (HTTP + the
 * Centrifugo protocol through the official `centrifuge` client over `ws`, not a browser) and the
 * operators who answer them (their `centrifuge` client and REST replies), against the real server
 * in a child process (test/helpers/server-process.ts) on a scratch PostgreSQL database
 * `omniline_livechat_<random>` (dropped at the end; REDIS_URL, when set, is the server's too).
 *
 *   memory    the server's resident memory (VmRSS of /proc/<pid>/status) and V8 heap after a full
 *             GC (asked through the inspector the child is started with) with the operators only,
 *             then with every visitor connected and idle (token issued, WebSocket open, nothing
 *             sent): (with − without) / visitors. Target ≤ 20 KB per idle visitor.
 *   load      every visitor sends a message every 10 s (their first ones spread over the first
 *             10 s), for --seconds; each operator replies over REST to every visitor message of the
 *             sessions they get. Latencies on one clock (this process sends and receives):
 *             visitor→operator from the start of the visitor's POST to the operator's
 *             chatMessageCreated (or the chatSessionStarted that carries a new session's first
 *             message); operator→visitor from the start of the operator's POST to the visitor's
 *             publication. Target p99 < 100 ms both ways. Every message carries its own key, counted
 *             at its receiver: 0 lost, 0 duplicated.
 *   bundle    dist/web/widget/widget.js gzipped (level 9). Target ≤ 60 KB. `npm run build` first.
 *
 * The rate limits are off (OMNILINE_LIVECHAT_IP_RATE_LIMIT=0, OMNILINE_LIVECHAT_VISITOR_RATE_LIMIT=0,
 * OMNILINE_API_RATE_LIMIT=0): every visitor comes from 127.0.0.1. Run it under the shared lock:
 *
 *   flock /work/bench.lock npm run bench:livechat -- --visitors 2000 --operators 50 --seconds 60
 *
 * A quick try: `npx tsx bench/livechat.ts --visitors 200 --seconds 20`. Results:
 * bench/results/livechat.json (`--out NAME` writes bench/results/NAME.json instead).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import postgres from 'postgres';
import WebSocket from 'ws';
import {
  httpRequest,
  SERVER_ADMIN_PASSWORD,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../test/helpers/server-process.ts';
import { connectOperator, type OperatorApp } from '../test/live/operator-client.ts';
import { connectVisitor } from '../test/livechat/visitor-client.ts';
import { cpuMeter, RssSampler, rssMb } from './lib/cpu.ts';
import { createScratchDatabase } from './lib/db.ts';
import { schedule } from './lib/load.ts';
import {
  formatTable,
  type LatencyStats,
  machineInfo,
  resultsFile,
  summarize,
  writeJson,
} from './lib/report.ts';

const TARGETS = { deliveryP99Ms: 100, idleVisitorKb: 20, bundleGzipKb: 60 } as const;
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const log = (...args: unknown[]) => console.log(...args);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

const { values } = parseArgs({
  options: {
    visitors: { type: 'string', default: '2000' },
    operators: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    'interval-ms': { type: 'string', default: '10000' },
    /** How long after the last send the receivers are waited for. */
    'drain-ms': { type: 'string', default: '10000' },
    /** Visitors set up at once. */
    'connect-concurrency': { type: 'string', default: '25' },
    out: { type: 'string', default: 'livechat' },
  },
});
const opts = {
  visitors: Number(values.visitors),
  operators: Number(values.operators),
  seconds: Number(values.seconds),
  intervalMs: Number(values['interval-ms']),
  drainMs: Number(values['drain-ms']),
  connectConcurrency: Number(values['connect-concurrency']),
  out: values.out!,
};
for (const [k, v] of Object.entries(opts))
  if (typeof v === 'number' && !(Number.isFinite(v) && v > 0))
    throw new Error(`--${k} must be a positive number`);

// ---------------------------------------------------------------------------------------------
// The widget bundle
// ---------------------------------------------------------------------------------------------

function bundleSize() {
  const file = path.join(ROOT, 'dist/web/widget/widget.js');
  const raw = readFileSync(file);
  const gzipBytes = gzipSync(raw, { level: 9 }).length;
  return { file: path.relative(ROOT, file), bytes: raw.length, gzipBytes, gzipKb: round(gzipBytes / 1024) };
}

// ---------------------------------------------------------------------------------------------
// The server's memory, after a full GC, through the inspector
// ---------------------------------------------------------------------------------------------

/** The child's inspector: a full GC and `process.memoryUsage()` read inside it. */
async function inspectorOf(server: ServerProcess) {
  let wsUrl: string | undefined;
  for (let i = 0; i < 50 && !wsUrl; i++) {
    wsUrl = /Debugger listening on (ws:\/\/\S+)/.exec(server.output())?.[1];
    if (!wsUrl) await sleep(100);
  }
  if (!wsUrl) throw new Error(`the server's inspector did not start:\n${server.output()}`);
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let nextId = 1;
  const pending = new Map<number, (v: any) => void>();
  ws.on('message', (raw) => {
    const msg = JSON.parse(String(raw));
    if (msg.id !== undefined) pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<any>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    /** Two full GCs, then what the process holds: RSS from /proc, the heap from V8. */
    async memory() {
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
      await sleep(200);
      const r = await call('Runtime.evaluate', {
        expression: 'JSON.stringify(process.memoryUsage())',
        returnByValue: true,
      });
      const m = JSON.parse(r.result.result.value) as NodeJS.MemoryUsage;
      return {
        rssMb: rssMb(server.pid) ?? 0,
        heapUsedMb: round(m.heapUsed / 1024 / 1024, 2),
        externalMb: round(m.external / 1024 / 1024, 2),
      };
    },
    close: () => ws.close(),
  };
}

/** Median of `n` readings a second apart (RSS moves a little by itself even after a GC). */
async function steadyMemory(inspector: Awaited<ReturnType<typeof inspectorOf>>, n = 5) {
  const readings: Awaited<ReturnType<typeof inspector.memory>>[] = [];
  for (let i = 0; i < n; i++) {
    readings.push(await inspector.memory());
    await sleep(1000);
  }
  const median = (k: 'rssMb' | 'heapUsedMb' | 'externalMb') =>
    readings.map((r) => r[k]).sort((a, b) => a - b)[Math.floor((n - 1) / 2)]!;
  return { rssMb: median('rssMb'), heapUsedMb: median('heapUsedMb'), externalMb: median('externalMb') };
}

// ---------------------------------------------------------------------------------------------
// Seeding through the API
// ---------------------------------------------------------------------------------------------

async function seed(server: ServerProcess) {
  const ok = <T>(r: { status: number; body: T }, what: string, status = 201): T => {
    if (r.status !== status) throw new Error(`${what} answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const login = (loginName: string, password: string) =>
    server
      .request('POST', '/api/v1/auth/login', { body: { login: loginName, password } })
      .then((r) => ok(r, `login ${loginName}`, 200).token as string);
  const admin = await login('admin', SERVER_ADMIN_PASSWORD);
  const operators: { id: string; token: string }[] = [];
  for (let i = 0; i < opts.operators; i++) {
    const name = `bench-op-${i}`;
    const user = ok(
      await server.request('POST', '/api/v1/users', {
        token: admin,
        body: { login: name, name: `Operator ${i}`, role: 'operator', password: 'password-123' },
      }),
      'creating an operator',
    ) as { id: string };
    operators.push({ id: user.id, token: await login(name, 'password-123') });
  }
  const line = ok(
    await server.request('POST', '/api/v1/lines', {
      token: admin,
      body: {
        name: 'bench live chat',
        operatorIds: operators.map((o) => o.id),
        // Every visitor gets an operator at once (no acceptance step): the bench measures delivery.
        queue: {
          maxSessionsPerOperator: Math.min(1000, Math.ceil((opts.visitors / opts.operators) * 1.5) + 5),
          acceptTimeoutSeconds: 0,
        },
      },
    }),
    'creating the line',
  ) as { id: string };
  const channel = ok(
    await server.request('POST', '/api/v1/channels', {
      token: admin,
      body: { lineId: line.id, name: 'bench widget', type: 'livechat', settings: { prechatFields: [] } },
    }),
    'creating the channel',
  ) as { id: string };
  return { operators, lineId: line.id, channelId: channel.id };
}

// ---------------------------------------------------------------------------------------------
// Counting
// ---------------------------------------------------------------------------------------------

/** One message on its way: when it left, and each time its receiver got it. */
interface InFlight {
  sentAt: number;
  /** Arrival times by the event that carried it. */
  received: Map<string, number[]>;
}

class Ledger {
  readonly sent = new Map<string, InFlight>();
  /** Receipts of keys this run never sent (or not yet when received): a sign of a mix-up. */
  strays = 0;
  sendErrors: Record<string, number> = {};

  send(key: string, at: number): void {
    this.sent.set(key, { sentAt: at, received: new Map() });
  }
  /**
   * Counts one arrival; true when it is the first (of any event). A new session's first message
   * reaches its operator in chatSessionStarted and in chatMessageCreated: a duplicate is the same
   * event twice.
   */
  receive(key: string, at: number, by = 'message'): boolean {
    const m = this.sent.get(key);
    if (!m) {
      this.strays++;
      return false;
    }
    const first = m.received.size === 0;
    const times = m.received.get(by) ?? [];
    times.push(at);
    m.received.set(by, times);
    return first;
  }
  failed(reason: string): void {
    this.sendErrors[reason] = (this.sendErrors[reason] ?? 0) + 1;
  }
  summary() {
    const latencies: number[] = [];
    let lost = 0;
    let duplicated = 0;
    for (const m of this.sent.values()) {
      const times = [...m.received.values()];
      if (times.length === 0) lost++;
      else latencies.push(Math.min(...times.flat()) - m.sentAt);
      if (times.some((t) => t.length > 1)) duplicated++;
    }
    return {
      sent: this.sent.size,
      delivered: latencies.length,
      lost,
      duplicated,
      strays: this.strays,
      sendErrors: this.sendErrors,
      latencyMs: summarize(latencies),
    };
  }
}

const KEY = /^bench ([vr]) (\S+)$/;

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

async function main() {
  const bundle = bundleSize();
  log(`widget bundle: ${bundle.bytes} bytes, ${bundle.gzipKb} KB gzipped`);

  const db = await createScratchDatabase('omniline_livechat');
  const sampling = postgres(db.url, { max: 1, onnotice: () => {} });
  let server: ServerProcess | null = null;
  const visitors: Awaited<ReturnType<typeof connectVisitor>>[] = [];
  const desks: OperatorApp[] = [];
  try {
    const machine = await machineInfo(sampling);
    server = await startServer({
      databaseUrl: db.url,
      nodeArgs: ['--inspect=127.0.0.1:0'],
      startTimeoutMs: 120_000,
      env: {
        OMNILINE_LIVECHAT_IP_RATE_LIMIT: '0',
        OMNILINE_LIVECHAT_VISITOR_RATE_LIMIT: '0',
        OMNILINE_API_RATE_LIMIT: '0',
      },
    });
    const srv = server;
    log(`server pid ${srv.pid} on ${srv.baseUrl} (redis: ${process.env.REDIS_URL ? 'yes' : 'no'})`);
    const world = await seed(srv);
    log(`seeded ${opts.operators} operators, line ${world.lineId}, channel ${world.channelId}`);

    // The operators connect (which makes them online) and answer what they get.
    const v2o = new Ledger();
    const o2v = new Ledger();
    const replyErrors: Record<string, number> = {};
    const reply = (op: { id: string; token: string }, sessionId: string, key: string) => {
      const replyKey = `${key}/r`;
      o2v.send(replyKey, performance.now());
      httpRequest(srv.agent, `${srv.baseUrl}/api/v1/sessions/${sessionId}/messages`, 'POST', {
        token: op.token,
        body: { text: `bench r ${replyKey}` },
      }).then(
        (r) => {
          if (r.status !== 201) replyErrors[r.status] = (replyErrors[r.status] ?? 0) + 1;
        },
        (err) => {
          replyErrors[(err as Error).message] = (replyErrors[(err as Error).message] ?? 0) + 1;
        },
      );
    };
    const visitorText = (m: { direction?: string; text?: string | null } | null | undefined) =>
      m && m.direction === 'incoming' ? (KEY.exec(m.text ?? '')?.[2] ?? null) : null;
    for (const op of world.operators) {
      const desk = await connectOperator(srv.baseUrl, op.token);
      desks.push(desk);
      desk.centrifuge.removeAllListeners('publication'); // its list of every event would only grow
      desk.centrifuge.on('publication', (ctx) => {
        const at = performance.now();
        const e = ctx.data as { event: string; data: any };
        const [sessionId, key] =
          e.event === 'chatSessionStarted'
            ? [e.data.id as string, visitorText(e.data.lastMessage)]
            : e.event === 'chatMessageCreated'
              ? [e.data.sessionId as string, visitorText(e.data.message)]
              : [null, null];
        if (sessionId && key && v2o.receive(key, at, e.event)) reply(op, sessionId, key);
      });
    }
    log(`${desks.length} operators connected`);

    // Memory: the operators only, then every visitor connected and idle.
    const inspector = await inspectorOf(srv);
    await sleep(2000);
    const before = await steadyMemory(inspector);
    log(`server memory without visitors: ${JSON.stringify(before)}`);
    const connectStart = performance.now();
    const rss = new RssSampler(srv.pid).start(1000);
    let next = 0;
    const setupErrors: string[] = [];
    await Promise.all(
      Array.from({ length: opts.connectConcurrency }, async () => {
        while (next < opts.visitors) {
          const i = next++;
          try {
            visitors[i] = await connectVisitor(srv.baseUrl, world.channelId);
          } catch (err) {
            setupErrors.push((err as Error).message);
          }
        }
      }),
    );
    const connectMs = performance.now() - connectStart;
    if (setupErrors.length > 0) throw new Error(`${setupErrors.length} visitors failed: ${setupErrors[0]}`);
    log(`${visitors.length} visitors connected in ${round(connectMs / 1000)} s`);
    await sleep(3000);
    const idle = await steadyMemory(inspector);
    inspector.close();
    const perVisitorKb = (k: 'rssMb' | 'heapUsedMb' | 'externalMb') =>
      round(((idle[k] - before[k]) * 1024) / opts.visitors, 2);
    const memory = {
      withoutVisitors: before,
      withIdleVisitors: idle,
      perIdleVisitorKb: {
        rss: perVisitorKb('rssMb'),
        heapUsed: perVisitorKb('heapUsedMb'),
        external: perVisitorKb('externalMb'),
      },
    };
    log(`server memory with ${opts.visitors} idle visitors: ${JSON.stringify(idle)}`);
    log(`per idle visitor: ${JSON.stringify(memory.perIdleVisitorKb)} KB`);

    // Visitors receive: the operators' replies (their own messages come back too: not counted). The
    // client's own list of every publication goes (it would grow for the whole run).
    for (const v of visitors) {
      v.centrifuge.removeAllListeners('publication');
      v.centrifuge.on('publication', (ctx) => {
        const e = ctx.data as { type: string; message?: { author: string; text: string | null } };
        if (e.type !== 'message' || e.message?.author !== 'operator') return;
        const key = KEY.exec(e.message.text ?? '')?.[2];
        if (key) o2v.receive(key, performance.now());
        else o2v.strays++;
      });
    }

    // The load: visitor i sends at i/N of the interval, then every interval, for --seconds.
    const offsets: { at: number; visitor: number; n: number }[] = [];
    const rounds = Math.max(1, Math.floor((opts.seconds * 1000) / opts.intervalMs));
    for (let n = 0; n < rounds; n++)
      for (let i = 0; i < opts.visitors; i++)
        offsets.push({ at: n * opts.intervalMs + (i * opts.intervalMs) / opts.visitors, visitor: i, n });
    offsets.sort((a, b) => a.at - b.at);
    log(`load: ${offsets.length} visitor messages over ${(rounds * opts.intervalMs) / 1000} s…`);
    const cpu = cpuMeter({ server: srv.pid, database: db.name });
    const loadStart = performance.now();
    const fired = await schedule(
      offsets.map((o) => o.at),
      (k, scheduledAt) => {
        const o = offsets[k]!;
        const v = visitors[o.visitor]!;
        const key = `${o.visitor}.${o.n}`;
        v2o.send(key, scheduledAt);
        v.send(`bench v ${key}`, randomUUID()).then(
          (r) => {
            if (r.status !== 200) v2o.failed(String(r.status));
          },
          (err) => v2o.failed((err as Error).message),
        );
      },
    );
    // Drain: wait until everything sent has arrived (or the drain time is up).
    const drainEnd = performance.now() + opts.drainMs;
    while (performance.now() < drainEnd) {
      const a = v2o.summary();
      const b = o2v.summary();
      if (a.lost === 0 && b.lost === 0 && b.sent === a.sent) break;
      await sleep(250);
    }
    await sleep(1000); // late duplicates
    const cpuUse = cpu();
    rss.stop();
    const loadSeconds = (performance.now() - loadStart) / 1000;
    const visitorToOperator = v2o.summary();
    const operatorToVisitor = { ...o2v.summary(), replyErrors };

    const met = {
      visitorToOperatorP99: visitorToOperator.latencyMs.p99 < TARGETS.deliveryP99Ms,
      operatorToVisitorP99: operatorToVisitor.latencyMs.p99 < TARGETS.deliveryP99Ms,
      idleVisitorMemory: memory.perIdleVisitorKb.rss <= TARGETS.idleVisitorKb,
      noLoss: visitorToOperator.lost === 0 && operatorToVisitor.lost === 0,
      noDuplicates: visitorToOperator.duplicated === 0 && operatorToVisitor.duplicated === 0,
      bundle: bundle.gzipKb <= TARGETS.bundleGzipKb,
    };
    const row = (name: string, s: LatencyStats, l: ReturnType<Ledger['summary']>) => [
      name,
      l.sent,
      l.lost,
      l.duplicated,
      s.p50,
      s.p90,
      s.p99,
      s.max,
    ];
    log('');
    log(
      formatTable(
        ['direction', 'sent', 'lost', 'dup', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
        [
          row('visitor→operator', visitorToOperator.latencyMs, visitorToOperator),
          row('operator→visitor', operatorToVisitor.latencyMs, operatorToVisitor),
        ],
      ),
    );
    log(
      `\nidle visitor: ${memory.perIdleVisitorKb.rss} KB RSS, ${memory.perIdleVisitorKb.heapUsed} KB heap (target ≤ ${TARGETS.idleVisitorKb} KB)`,
    );
    log(`bundle: ${bundle.gzipKb} KB gzipped (target ≤ ${TARGETS.bundleGzipKb} KB)`);
    log(`cpu (cores): ${JSON.stringify(cpuUse)}`);
    log(`timer lag of the schedule: ${JSON.stringify(fired.lag)}`);
    log(`targets met: ${JSON.stringify(met)}`);

    writeJson(resultsFile(opts.out), {
      benchmark: 'livechat',
      command: `npx tsx bench/livechat.ts ${process.argv.slice(2).join(' ')}`.trim(),
      machine,
      redis: !!process.env.REDIS_URL,
      options: opts,
      targets: TARGETS,
      met,
      setup: { visitorsConnectSeconds: round(connectMs / 1000, 1) },
      memory,
      load: {
        seconds: round(loadSeconds, 1),
        visitorMessagesPerSecond: round(opts.visitors / (opts.intervalMs / 1000), 1),
        visitorToOperator,
        operatorToVisitor,
        scheduleLag: fired.lag,
        cpu: cpuUse,
        serverRssMb: { first: rss.first, peak: rss.peak, last: rss.last },
      },
      bundle,
    });
    log(`\nwritten ${resultsFile(opts.out)}`);
  } finally {
    for (const v of visitors) v?.close();
    for (const d of desks) d.close();
    await stopAllServers();
    await sampling.end({ timeout: 5 });
    await db.drop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
