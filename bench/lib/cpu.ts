/**
 * The ONE CPU and memory meter of the benchmarks, from /proc: CPU use between two moments by the
 * server, this process (the load generator), PostgreSQL (the backends of the bench's database and
 * the server's background processes) and the rest of the machine, in cores (1.0 = one core busy the
 * whole time); and resident memory of a process.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_S = 100;
const round2 = (v: number) => Math.round(v * 100) / 100;

/** Resident set size of a process (this one by default), MiB (VmRSS); null when it is gone. */
export function rssMb(pid: number | 'self' = 'self'): number | null {
  try {
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? null : Math.round((Number(kb) / 1024) * 10) / 10;
  } catch {
    return null;
  }
}

/** V8 heap in use by this process, MiB (after a full GC when `gc` is given: what is still held). */
export function heapUsedMb(gc?: () => void): number {
  gc?.();
  return Math.round((process.memoryUsage().heapUsed / 1024 / 1024) * 10) / 10;
}

/** RSS of a process read every `intervalMs`, with the time (s) since sampling started. */
export class RssSampler {
  readonly samples: { s: number; mb: number }[] = [];
  #timer: NodeJS.Timeout | null = null;
  #t0 = performance.now();

  constructor(private readonly pid: number | 'self' = 'self') {}

  start(intervalMs = 1000): this {
    this.#t0 = performance.now();
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
    return this;
  }

  sample(): void {
    const mb = rssMb(this.pid);
    if (mb !== null) this.samples.push({ s: Math.round(this.elapsed() * 10) / 10, mb });
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.sample();
  }

  /** Seconds since sampling started. */
  elapsed(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  get first(): number {
    return this.samples[0]?.mb ?? 0;
  }
  get last(): number {
    return this.samples.at(-1)?.mb ?? 0;
  }
  get peak(): number {
    return Math.max(0, ...this.samples.map((x) => x.mb));
  }

  /** Median RSS of the samples taken from `fromS` to `toS` (GC makes single readings jumpy). */
  median(fromS = 0, toS = Number.POSITIVE_INFINITY): number {
    const window = this.samples
      .filter((x) => x.s >= fromS && x.s <= toS)
      .map((x) => x.mb)
      .sort((a, b) => a - b);
    if (window.length === 0) throw new Error(`no RSS sample from ${fromS} s to ${toS} s`);
    return window[Math.floor((window.length - 1) / 2)]!;
  }
}

/** Ticks (user + system) used so far by a process; 0 when it is gone. */
function procTicks(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat(5))
  } catch {
    return 0;
  }
}

/** The command line of a process, or `[name]` for a kernel thread (which has none). */
function procCommand(pid: number | string): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    return cmd === '' ? `[${readFileSync(`/proc/${pid}/comm`, 'utf8').trim()}]` : cmd;
  } catch {
    return '';
  }
}

/** Busy ticks of the whole machine (every field of /proc/stat's cpu line but idle and iowait). */
function machineBusyTicks(): number {
  const v = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
  return total - (v[3] ?? 0) - (v[4] ?? 0);
}

type Category = 'server' | 'loadgen' | 'postgresBackends' | 'postgresBackground' | 'other';

function postgresCategory(cmd: string, database: string | undefined): Category | null {
  if (!cmd.startsWith('postgres') && !cmd.includes('/bin/postgres')) return null;
  if (database && cmd.includes(` ${database} `)) return 'postgresBackends';
  // Backends of other databases carry a client address; the rest is the server's own work.
  return /\d+\)|\[local\]/.test(cmd) ? null : 'postgresBackground';
}

interface Snapshot {
  at: number;
  machine: number;
  procs: Map<string, { category: Category; ticks: number }>;
}

export interface CpuWatch {
  /** The server's process; 'self' when the server runs in this process (then `loadgen` is 0). */
  server?: number | 'self' | null;
  /** The database whose PostgreSQL backends are counted as `postgresBackends`. */
  database?: string;
  /** Processes whose work is the bench's own (its sampling connection's backend): counted as `loadgen`. */
  loadgen?: number[];
}

export interface CpuUse {
  /** How long the meter ran, s. */
  seconds: number;
  /** Cores used on average by each part. */
  server: number;
  loadgen: number;
  postgresBackends: number;
  /** PostgreSQL's own processes (WAL writer, checkpointer…). */
  postgresBackground: number;
  /** The rest of the machine: other work running meanwhile (noise), kernel time not charged to a process. */
  otherProcesses: number;
  machine: number;
  /** The busiest other processes. */
  topOthers: { pid: number; cores: number; cmd: string }[];
}

function snapshot(watch: CpuWatch): Snapshot {
  const server = watch.server === 'self' ? String(process.pid) : watch.server ? String(watch.server) : null;
  const procs: Snapshot['procs'] = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const category: Category =
      pid === server
        ? 'server'
        : pid === String(process.pid) || watch.loadgen?.includes(Number(pid))
          ? 'loadgen'
          : (postgresCategory(procCommand(pid), watch.database) ?? 'other');
    procs.set(pid, { category, ticks: procTicks(pid) });
  }
  return { at: performance.now(), machine: machineBusyTicks(), procs };
}

/**
 * Starts metering; the function returned reads the use since then (call it when the load ends,
 * before its connections close: a backend's CPU goes with it).
 */
export function cpuMeter(watch: CpuWatch = {}): () => CpuUse {
  const from = snapshot(watch);
  return () => {
    const to = snapshot(watch);
    const seconds = (to.at - from.at) / 1000;
    const cores = (ticks: number) => round2(ticks / TICKS_PER_S / seconds);
    const ticks: Record<Category, number> = {
      server: 0,
      loadgen: 0,
      postgresBackends: 0,
      postgresBackground: 0,
      other: 0,
    };
    const others: { pid: string; ticks: number }[] = [];
    for (const [pid, p] of to.procs) {
      const used = p.ticks - (from.procs.get(pid)?.ticks ?? 0);
      ticks[p.category] += used;
      if (p.category === 'other' && used > 0) others.push({ pid, ticks: used });
    }
    const machine = to.machine - from.machine;
    const known = ticks.server + ticks.loadgen + ticks.postgresBackends + ticks.postgresBackground;
    return {
      seconds: Math.round(seconds * 10) / 10,
      server: cores(ticks.server),
      loadgen: cores(ticks.loadgen),
      postgresBackends: cores(ticks.postgresBackends),
      postgresBackground: cores(ticks.postgresBackground),
      otherProcesses: cores(Math.max(0, machine - known)),
      machine: cores(machine),
      topOthers: others
        .sort((a, b) => b.ticks - a.ticks)
        .slice(0, 3)
        .map((p) => ({ pid: Number(p.pid), cores: cores(p.ticks), cmd: procCommand(p.pid).slice(0, 80) }))
        .filter((p) => p.cores >= 0.01),
    };
  };
}
