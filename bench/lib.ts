/**
 * The benchmarks' shared library lives in bench/lib/: one CPU and memory meter (cpu.ts), one load
 * loop, closed and open (load.ts), one report and JSON writer with the machine's CPU probe
 * (report.ts), and the database helpers (db.ts). This file keeps the names it used to export.
 */
export * from './lib/cpu.ts';
export * from './lib/db.ts';
export * from './lib/load.ts';
export * from './lib/report.ts';
