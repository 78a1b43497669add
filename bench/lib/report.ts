/**
 * The ONE report of the benchmarks: latency sampling with percentiles, facts about the machine with
 * its CPU probe (how fast a core runs right now), a plain-text table and the JSON results writer.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Sql } from './db.ts';

// ---------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------

export interface LatencyStats {
  iterations: number;
  /** Set when the time budget ran out before all iterations. */
  truncated?: boolean;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentile by nearest rank of ascending-sorted samples. */
function percentile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** Summarises samples given in milliseconds. */
export function summarize(samplesMs: number[]): LatencyStats {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    iterations: sorted.length,
    p50: round(percentile(sorted, 0.5)),
    p90: round(percentile(sorted, 0.9)),
    p99: round(percentile(sorted, 0.99)),
    max: round(sorted.at(-1) ?? 0),
    mean: round(sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length)),
  };
}

/**
 * Runs `fn` `warmup` times untimed, then `iterations` times one after another, timing each call with
 * `process.hrtime.bigint()`. `fn` receives the iteration number. A slow query stops early when
 * `budgetMs` is spent (a quarter of it for the warm-up), so one bad plan cannot stall the run.
 */
export async function measure(
  opts: { iterations: number; warmup: number; budgetMs?: number },
  fn: (i: number) => Promise<unknown>,
): Promise<LatencyStats> {
  const deadline = (share: number) =>
    opts.budgetMs === undefined
      ? null
      : process.hrtime.bigint() + BigInt(Math.round(opts.budgetMs * share * 1e6));
  const warmupEnd = deadline(0.25);
  for (let i = 0; i < opts.warmup; i++) {
    await fn(i);
    if (warmupEnd !== null && process.hrtime.bigint() > warmupEnd) break;
  }
  const end = deadline(1);
  const samples: number[] = [];
  for (let i = 0; i < opts.iterations; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    const stop = process.hrtime.bigint();
    samples.push(Number(stop - start) / 1e6);
    if (end !== null && stop > end) break;
  }
  const stats = summarize(samples);
  return samples.length < opts.iterations ? { ...stats, truncated: true } : stats;
}

/** Times one async step, for coarse phases (seeding). Returns its result and the elapsed ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return [result, Number(process.hrtime.bigint() - start) / 1e6];
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

/** The machine a figure was taken on (hostInfo()). */
export interface HostInfo {
  date: string;
  hostname: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  /** 1, 5 and 15 minute load averages when the figures were taken (noise from other work). */
  loadAverage: number[];
  /** cpuProbeMs() before the run: the same code runs slower on a slower (or throttled) CPU. */
  cpuProbeMs: number;
}

export interface MachineInfo extends HostInfo {
  postgres: string;
  postgresSettings: Record<string, string>;
}

/**
 * How fast this machine runs a server's kind of work right now, in ms: the median of seven rounds
 * of JSON encoding and decoding 2,000 session-like rows twenty times (allocation, strings and
 * memory, as in the server, not a loop that fits in registers). Virtual machines differ from each
 * other, and one VM from hour to hour when its host is busy: figures taken at different probe times
 * are not comparable as they stand (twice the probe time is about half the work per CPU second).
 */
export function cpuProbeMs(): number {
  const rows = Array.from({ length: 2000 }, (_, i) => ({
    id: `0e9a1f3c-8b1d-4c1e-9f00-${String(i).padStart(12, '0')}`,
    state: 'AssignedToOperator',
    seq: i,
    at: '2026-11-22T08:00:00.000Z',
    tags: ['vip', 'telegram'],
    client: { name: `client ${i}`, score: i * 1.5, phone: null },
  }));
  const runs: number[] = [];
  for (let run = 0; run < 7; run++) {
    const start = performance.now();
    for (let k = 0; k < 20; k++) JSON.parse(JSON.stringify(rows));
    runs.push(performance.now() - start);
  }
  return Math.round(runs.sort((a, b) => a - b)[3]!);
}

/** Facts about this machine and Node every benchmark records with its figures. */
export function hostInfo(): HostInfo {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    cpuProbeMs: cpuProbeMs(),
  };
}

export async function machineInfo(client: Sql): Promise<MachineInfo> {
  const [version] = await client<{ version: string }[]>`SELECT version()`;
  const settings = await client<{ name: string; setting: string; unit: string | null }[]>`
    SELECT name, setting, unit FROM pg_settings
    WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'random_page_cost', 'jit',
                   'max_parallel_workers_per_gather')
    ORDER BY name`;
  return {
    ...hostInfo(),
    postgres: version?.version ?? 'unknown',
    postgresSettings: Object.fromEntries(
      settings.map((s) => [s.name, `${s.setting}${s.unit ? ` ${s.unit}` : ''}`]),
    ),
  };
}

/** Formats rows as an aligned plain-text table (numbers right-aligned). */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? c.toFixed(3) : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join(
    '\n',
  );
}

/** Writes JSON atomically (temp file, then rename), creating the directory. */
export function writeJson(file: string, data: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(tmp, file);
}

/** bench/results/<name>.json: where a benchmark writes its figures. */
export function resultsFile(name: string): string {
  return path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'results', `${name}.json`);
}
