/**
 * One phase of ingest load and its figures: acknowledgements/s, latency percentiles, 5-second
 * windows and CPU use by process over the phase (shared by every mode of bench/ingest.ts).
 */

import type { ServerProcess } from '../../test/helpers/server-process.ts';
import { type CpuUse, cpuMeter } from './cpu.ts';
import type { LoadResult } from './load.ts';
import { type LatencyStats, summarize } from './report.ts';

export interface PhaseFigures {
  acked: number;
  seconds: number;
  ackPerSecond: number;
  latencyMs: LatencyStats;
  errors: Record<string, number>;
  /** Lowest and highest acknowledgements/s over whole 5-second windows. */
  windows5s: { min: number; max: number };
  cpuCores: CpuUse;
}

export function figures(result: LoadResult, cpu: CpuUse): PhaseFigures {
  const windows: number[] = [];
  for (let i = 0; i + 5 <= result.perSecond.length; i += 5) {
    windows.push(result.perSecond.slice(i, i + 5).reduce((s, n) => s + n, 0) / 5);
  }
  const seconds = result.elapsedMs / 1000;
  const ackPerSecond = Math.round(result.acked / seconds);
  return {
    acked: result.acked,
    seconds: Math.round(seconds * 10) / 10,
    ackPerSecond,
    latencyMs: summarize(result.latenciesMs),
    errors: result.errors,
    windows5s: windows.length
      ? { min: Math.min(...windows), max: Math.max(...windows) }
      : { min: ackPerSecond, max: ackPerSecond },
    cpuCores: cpu,
  };
}

/** Runs one phase of load, measuring CPU use by process over it. */
export async function phase(
  server: ServerProcess | null,
  database: string,
  run: (loadDone: () => void) => Promise<LoadResult>,
): Promise<PhaseFigures> {
  const meter = cpuMeter({ server: server?.pid ?? null, database });
  // Read when the load ends, before its connections close (their backends' CPU goes with them).
  let cpu: CpuUse | undefined;
  const loadDone = () => {
    cpu ??= meter();
  };
  const result = await run(loadDone);
  loadDone();
  return figures(result, cpu!);
}

export function describePhase(name: string, f: PhaseFigures): string {
  const errors = Object.entries(f.errors).map(([k, n]) => `${k}×${n}`);
  const cpu = Object.entries(f.cpuCores).flatMap(([k, v]) =>
    typeof v === 'number' && k !== 'seconds' ? [`${k} ${v}`] : [],
  );
  return [
    `${name}: ${f.acked} acknowledged in ${f.seconds} s → ${f.ackPerSecond} msg/s ` +
      `(5 s windows ${f.windows5s.min}–${f.windows5s.max}); errors: ${errors.join(', ') || 'none'}`,
    `  latency ms: p50 ${f.latencyMs.p50}  p90 ${f.latencyMs.p90}  p99 ${f.latencyMs.p99}  max ${f.latencyMs.max}`,
    `  CPU (cores): ${cpu.join(', ')}`,
  ].join('\n');
}
