/**
 * Helpers of the ingest benchmark: signed api-channel webhooks, a lean keep-alive HTTP sender,
 * closed-loop and open-loop load generators, the plain-INSERT baseline, and readings of memory (RSS)
 * and CPU time from /proc for the server, this process and the PostgreSQL backends of one database.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import postgres from 'postgres';
import { signApiBody } from '../src/providers/api/api.provider.ts';

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

/** One webhook as a messenger would send it: its body and the headers that sign it. */
export interface Webhook {
  body: string;
  headers: Record<string, string>;
}

/** Signed webhooks with unique message ids, spread round-robin over `clients` clients. */
export class WebhookFactory {
  #n = 0;

  constructor(
    private readonly secret: string,
    private readonly clients: number,
    private readonly prefix: string,
  ) {}

  next(): Webhook {
    const n = this.#n++;
    const c = n % this.clients;
    const body = JSON.stringify({
      messageId: `${this.prefix}-${n}`,
      from: { id: `client-${c}`, username: `client_${c}`, name: `Client ${c}` },
      text: `message ${n} from client ${c}`,
      timestamp: new Date().toISOString(),
    });
    return { body, headers: { 'x-omniline-signature': signApiBody(this.secret, body) } };
  }
}

export interface WebhookTarget {
  agent: http.Agent;
  port: number;
  path: string;
}

/** A webhook's answer: its status and, on a refusal, the Retry-After it gave (seconds). */
export interface WebhookAnswer {
  status: number;
  retryAfter: number | null;
}

/** POSTs one webhook and resolves to its answer once it is read. */
export function postWebhook(target: WebhookTarget, webhook: Webhook): Promise<WebhookAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.path,
        method: 'POST',
        agent: target.agent,
        timeout: 30_000,
        headers: {
          'content-type': 'application/json',
          ...webhook.headers,
          'content-length': Buffer.byteLength(webhook.body),
        },
      },
      (res) => {
        res.resume();
        const retryAfter = res.headers['retry-after'];
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, retryAfter: retryAfter ? Number(retryAfter) : null }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(webhook.body);
  });
}

// ---------------------------------------------------------------------------------------------
// Load generators
// ---------------------------------------------------------------------------------------------

/** One unit of load: resolves to a status (2xx: acknowledged) or throws. */
export type Send = () => Promise<number>;

export interface LoadResult {
  /** Acknowledged operations. */
  acked: number;
  /** Failures by status code or error message. */
  errors: Record<string, number>;
  /** Latency of every acknowledged operation, ms. */
  latenciesMs: number[];
  elapsedMs: number;
  /** Acknowledgements per second of the run, second by second. */
  perSecond: number[];
}

const now = () => performance.now();

/** Counts, times and buckets the operations of one run. */
class Recorder {
  readonly result: LoadResult = { acked: 0, errors: {}, latenciesMs: [], elapsedMs: 0, perSecond: [] };
  #finished = false;

  constructor(readonly startedAt: number) {}

  async record(send: Send, since: number): Promise<void> {
    let failure: string | null = null;
    try {
      const status = await send();
      if (status < 200 || status >= 300) failure = String(status);
    } catch (err) {
      failure = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    }
    if (this.#finished) return; // answered after the run was closed (counted as unfinished)
    if (failure !== null) {
      this.result.errors[failure] = (this.result.errors[failure] ?? 0) + 1;
      return;
    }
    const at = now();
    this.result.acked++;
    this.result.latenciesMs.push(at - since);
    const second = Math.floor((at - this.startedAt) / 1000);
    this.result.perSecond[second] = (this.result.perSecond[second] ?? 0) + 1;
  }

  finish(): LoadResult {
    this.#finished = true;
    this.result.elapsedMs = now() - this.startedAt;
    this.result.perSecond = Array.from(this.result.perSecond, (n) => n ?? 0);
    return this.result;
  }
}

/** `concurrency` workers, each sending as soon as its previous operation is answered, for `durationMs`. */
export async function closedLoop(opts: { concurrency: number; durationMs: number; send: Send }) {
  const recorder = new Recorder(now());
  const end = recorder.startedAt + opts.durationMs;
  const worker = async () => {
    while (now() < end) await recorder.record(opts.send, now());
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return recorder.finish();
}

/**
 * Open loop: operations are started on a schedule (`rate` per second for `durationMs`) whatever
 * the answers, and each latency counts from its scheduled start, so a slow server cannot hide its
 * queueing (no coordinated omission). Operations still unanswered `drainMs` after the schedule
 * ends are counted as errors ("unfinished").
 */
export async function openLoop(opts: { rate: number; durationMs: number; drainMs: number; send: Send }) {
  const recorder = new Recorder(now());
  const total = Math.floor((opts.rate * opts.durationMs) / 1000);
  const interval = 1000 / opts.rate;
  const pending = new Set<Promise<void>>();
  let started = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor((now() - recorder.startedAt) / interval) + 1);
      for (; started < due; started++) {
        const op = recorder.record(opts.send, recorder.startedAt + started * interval);
        pending.add(op);
        void op.finally(() => pending.delete(op));
      }
      if (started >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const drained = Promise.all(pending).then(() => true);
  const timedOut = new Promise<false>((resolve) => setTimeout(() => resolve(false), opts.drainMs).unref());
  if (!(await Promise.race([drained, timedOut]))) {
    recorder.result.errors.unfinished = pending.size;
  }
  return recorder.finish();
}

// ---------------------------------------------------------------------------------------------
// Baseline: plain single-row INSERTs
// ---------------------------------------------------------------------------------------------

/**
 * The database's own limit for this shape of work: autocommit single-row INSERTs of a webhook-like
 * row into a plain table, from a pool of `concurrency` connections kept busy for `durationMs`.
 */
export async function insertBaseline(
  url: string,
  opts: { concurrency: number; durationMs: number; loadDone?: () => void },
) {
  const sql = postgres(url, { max: opts.concurrency, onnotice: () => {} });
  try {
    await sql`DROP TABLE IF EXISTS bench_insert`;
    await sql`CREATE TABLE bench_insert (
      id bigserial PRIMARY KEY, channel_id uuid, external_id text, body jsonb,
      created_at timestamptz DEFAULT now())`;
    const channelId = randomUUID();
    let n = 0;
    const send = async () => {
      const externalId = `insert-${n++}`;
      const body = { messageId: externalId, from: { id: `client-${n % 1000}` }, text: `message ${n}` };
      await sql`INSERT INTO bench_insert (channel_id, external_id, body)
                VALUES (${channelId}, ${externalId}, ${sql.json(body)})`;
      return 200;
    };
    // Open every connection before the clock starts.
    await Promise.all(Array.from({ length: opts.concurrency }, () => sql`SELECT 1`));
    const result = await closedLoop({ concurrency: opts.concurrency, durationMs: opts.durationMs, send });
    opts.loadDone?.();
    return result;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

// ---------------------------------------------------------------------------------------------
// Memory and CPU from /proc
// ---------------------------------------------------------------------------------------------

/** Resident set size of a process, MiB (VmRSS of /proc/<pid>/status); null when it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? null : Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    return null;
  }
}

/** RSS of a process read every `intervalMs`, with the time (s) since sampling started. */
export class RssSampler {
  readonly samples: { s: number; mb: number }[] = [];
  #timer: NodeJS.Timeout | null = null;
  #t0 = now();

  constructor(private readonly pid: number) {}

  start(intervalMs = 1000): void {
    this.#t0 = now();
    const sample = () => {
      const mb = rssMb(this.pid);
      if (mb !== null) this.samples.push({ s: Math.round(this.elapsed() * 10) / 10, mb });
    };
    sample();
    this.#timer = setInterval(sample, intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  /** Seconds since sampling started. */
  elapsed(): number {
    return (now() - this.#t0) / 1000;
  }

  /** Median RSS of the samples taken from `fromS` to `toS` (GC makes single readings jumpy). */
  median(fromS: number, toS: number): number {
    const window = this.samples
      .filter((x) => x.s >= fromS && x.s <= toS)
      .map((x) => x.mb)
      .sort((a, b) => a - b);
    if (window.length === 0) throw new Error(`no RSS sample from ${fromS} s to ${toS} s`);
    return window[Math.floor((window.length - 1) / 2)]!;
  }
}

/** CPU seconds (user + system) of a process from /proc/<pid>/stat; 0 when it is gone. */
function cpuSeconds(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3 of stat(5); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function cmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Busy CPU seconds of the whole machine (every field of /proc/stat's cpu line but idle and iowait). */
function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
}

type CpuCategory = 'server' | 'loadgen' | 'postgresBackends' | 'postgresBackground';

export interface CpuSnapshot {
  at: number;
  /** CPU seconds so far of each watched process, by pid. */
  processes: Map<string, { category: CpuCategory; seconds: number }>;
  machine: number;
}

function postgresCategory(cmd: string, database: string): CpuCategory | null {
  if (!cmd.startsWith('postgres') && !cmd.includes('/bin/postgres')) return null;
  if (cmd.includes(` ${database} `)) return 'postgresBackends';
  // Backends of other databases carry a client address; the rest is the server's own work.
  return /\d+\)|\[local\]/.test(cmd) ? null : 'postgresBackground';
}

/**
 * CPU seconds used so far by the server, this process and PostgreSQL: the backends of `database`
 * and the background processes (WAL writer, checkpointer…), plus the whole machine's busy time.
 */
export function cpuSnapshot(serverPid: number | null, database: string): CpuSnapshot {
  const processes: CpuSnapshot['processes'] = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const category =
      serverPid !== null && pid === String(serverPid)
        ? 'server'
        : pid === String(process.pid)
          ? 'loadgen'
          : postgresCategory(cmdline(pid), database);
    if (category) processes.set(pid, { category, seconds: cpuSeconds(pid) });
  }
  return { at: now(), processes, machine: machineBusySeconds() };
}

export type CpuUse = Record<CpuCategory | 'otherProcesses' | 'machine', number>;

/**
 * CPU use between two snapshots, in cores (1.0 = one core busy the whole time), by category;
 * `otherProcesses` is the rest of the machine (other work running at the same time is noise).
 */
export function cpuCores(from: CpuSnapshot, to: CpuSnapshot): CpuUse {
  const seconds = (to.at - from.at) / 1000;
  const use: CpuUse = {
    server: 0,
    loadgen: 0,
    postgresBackends: 0,
    postgresBackground: 0,
    otherProcesses: 0,
    machine: to.machine - from.machine,
  };
  for (const [pid, { category, seconds: s }] of to.processes) {
    use[category] += s - (from.processes.get(pid)?.seconds ?? 0);
  }
  use.otherProcesses = use.machine - use.server - use.loadgen - use.postgresBackends - use.postgresBackground;
  const round = (v: number) => Math.round((v / seconds) * 100) / 100;
  return Object.fromEntries(Object.entries(use).map(([k, v]) => [k, round(v)])) as CpuUse;
}
