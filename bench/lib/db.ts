/**
 * The database side of the benchmarks: a scratch PostgreSQL database (created, then always dropped),
 * EXPLAIN with a programmatic plan check, plan-cache counters of prepared statements, SQL capture
 * through a Drizzle logger, and a seeded random generator for the data.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'drizzle-orm';
import postgres from 'postgres';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

export type Sql = postgres.Sql;

// ---------------------------------------------------------------------------------------------
// Scratch database
// ---------------------------------------------------------------------------------------------

export interface ScratchDatabase {
  name: string;
  /** URL of the scratch database (same server and credentials as the admin URL). */
  url: string;
  /** Drops the database (idempotent). */
  drop(): Promise<void>;
}

const SCRATCH_NAME_RE = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * Creates `<prefix>_<random>` through an admin connection to `adminUrl`. The database is dropped by
 * `drop()`, and also if the process is interrupted (SIGINT / SIGTERM) before that. Only the database
 * created here is ever dropped. `BENCH_KEEP_DB=1` keeps it, to study its plans
 * (`EXPLAIN` against the data the run left); drop it by hand afterwards.
 */
export async function createScratchDatabase(
  prefix: string,
  adminUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  if (!SCRATCH_NAME_RE.test(name)) throw new Error(`invalid scratch database name ${name}`);
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;

  let dropped: Promise<void> | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\n${signal}: dropping ${name}…`);
    void drop().finally(() => process.exit(130));
  };
  const drop = (): Promise<void> => {
    dropped ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        if (process.env.BENCH_KEEP_DB) console.error(`BENCH_KEEP_DB: kept ${name}`);
        else await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end({ timeout: 5 });
      }
    })();
    return dropped;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { name, url: url.toString(), drop };
}

// ---------------------------------------------------------------------------------------------
// Random
// ---------------------------------------------------------------------------------------------

/** A small seeded generator (mulberry32), so runs pick the same targets. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }
}

// ---------------------------------------------------------------------------------------------
// SQL capture and EXPLAIN
// ---------------------------------------------------------------------------------------------

export interface CapturedQuery {
  sql: string;
  params: unknown[];
}

/** A Drizzle logger that records queries only while `capture()` runs. */
export class CaptureLogger implements Logger {
  #recording: CapturedQuery[] | null = null;

  logQuery(query: string, params: unknown[]): void {
    this.#recording?.push({ sql: query, params: [...params] });
  }

  async capture(fn: () => Promise<unknown>): Promise<CapturedQuery[]> {
    const recording: CapturedQuery[] = [];
    this.#recording = recording;
    try {
      await fn();
    } finally {
      this.#recording = null;
    }
    return recording;
  }
}

export interface ScanNode {
  node: string;
  relation: string | null;
  index: string | null;
  /** Whether the index is searched with a condition (false: the whole index is walked in order). */
  indexCond: boolean;
  /** Rows read and discarded by a filter (all loops). */
  rowsRemovedByFilter: number;
}

export interface PlanCheck {
  /** The plan as PostgreSQL prints it. */
  text: string[];
  /** Every scan node of the plan, in tree order. */
  scans: ScanNode[];
  /**
   * Rows are found through an index: no Seq Scan on a watched relation, no walk of a whole index
   * (an Index Scan without an Index Cond, filtering every row), and at least one index used.
   */
  onIndex: boolean;
  seqScans: string[];
  /** Indexes walked whole (an index-ordered scan without a condition), by relation. */
  fullIndexScans: string[];
  indexes: string[];
  /** Rows discarded by filters on the watched relations. */
  rowsRemovedByFilter: number;
  executionMs: number | null;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Rows Removed by Filter'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

function collectScans(node: PlanNode, out: ScanNode[]): ScanNode[] {
  if (node['Relation Name'] !== undefined || node['Index Name'] !== undefined) {
    out.push({
      node: node['Node Type'],
      relation: node['Relation Name'] ?? null,
      index: node['Index Name'] ?? null,
      indexCond: node['Index Cond'] !== undefined,
      rowsRemovedByFilter: (node['Rows Removed by Filter'] ?? 0) * (node['Actual Loops'] ?? 1),
    });
  }
  for (const child of node.Plans ?? []) collectScans(child, out);
  return out;
}

function checkPlan(
  text: string[],
  json: { Plan: PlanNode; 'Execution Time'?: number },
  watched: readonly string[],
): PlanCheck {
  const scans = collectScans(json.Plan, []);
  const onWatched = scans.filter((s) => s.relation !== null && watched.includes(s.relation));
  const seqScans = onWatched.filter((s) => s.node === 'Seq Scan').map((s) => s.relation!);
  const fullIndexScans = onWatched
    .filter((s) => (s.node === 'Index Scan' || s.node === 'Index Only Scan') && !s.indexCond)
    .map((s) => `${s.index} on ${s.relation}`);
  const indexes = [...new Set(scans.flatMap((s) => (s.index ? [s.index] : [])))];
  return {
    text,
    scans,
    onIndex: seqScans.length === 0 && fullIndexScans.length === 0 && indexes.length > 0,
    seqScans,
    fullIndexScans,
    indexes,
    rowsRemovedByFilter: onWatched.reduce((n, s) => n + s.rowsRemovedByFilter, 0),
    executionMs: json['Execution Time'] ?? null,
  };
}

async function explainRows(client: Sql, statement: string, values: unknown[] = []) {
  // The values are the ones Drizzle handed to the same driver, so they serialise the same way.
  const params = values as postgres.ParameterOrJSON<never>[];
  const text = await client.unsafe(`EXPLAIN (ANALYZE, BUFFERS) ${statement}`, params);
  const json = await client.unsafe(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement}`, params);
  const lines = text.map((r) => String(r['QUERY PLAN']));
  const raw = json[0]?.['QUERY PLAN'];
  const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [
    { Plan: PlanNode; 'Execution Time'?: number },
  ];
  return { lines, plan: parsed[0] };
}

/**
 * `EXPLAIN (ANALYZE, BUFFERS)` of a query with its real parameter values (the custom plan
 * PostgreSQL makes for those values), checked for sequential scans on the watched relations.
 */
export async function explainQuery(
  client: Sql,
  query: CapturedQuery,
  watched: readonly string[],
): Promise<PlanCheck> {
  const { lines, plan } = await explainRows(client, query.sql, query.params);
  return checkPlan(lines, plan, watched);
}

function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  const s = v instanceof Date ? v.toISOString() : String(v);
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * The generic plan of the query (what a prepared statement may switch to after five executions),
 * executed with the real values: PREPARE, `plan_cache_mode = force_generic_plan`, EXPLAIN EXECUTE.
 * `client` must hold a single connection, since the prepared statement and setting are per session.
 */
export async function explainGeneric(
  client: Sql,
  query: CapturedQuery,
  watched: readonly string[],
): Promise<PlanCheck> {
  const name = `bench_generic_${randomBytes(4).toString('hex')}`;
  await client.unsafe(`PREPARE ${name} AS ${query.sql}`);
  try {
    await client.unsafe('SET plan_cache_mode = force_generic_plan');
    const args = query.params.length ? `(${query.params.map(sqlLiteral).join(', ')})` : '';
    const { lines, plan } = await explainRows(client, `EXECUTE ${name}${args}`);
    return checkPlan(lines, plan, watched);
  } finally {
    await client.unsafe('RESET plan_cache_mode');
    await client.unsafe(`DEALLOCATE ${name}`);
  }
}

/** How often PostgreSQL planned a prepared statement afresh (custom) or reused its generic plan. */
export interface PlanCacheUse {
  custom: number;
  generic: number;
}

/**
 * The plan-cache counters of `pg_prepared_statements` (PostgreSQL 14+), summed per statement text
 * over the connections of a pool. The view is per connection, so `width` queries that each hold
 * their connection for a moment are sent at once to reach every connection of a pool of that size.
 */
export async function planCacheSnapshot(
  query: (
    statement: string,
  ) => Promise<{ pid: number; statement: string; generic: number; custom: number }[]>,
  width: number,
): Promise<Map<string, PlanCacheUse>> {
  const statement = `SELECT pg_backend_pid() AS pid, p.statement, p.generic_plans::int AS generic,
      p.custom_plans::int AS custom
    FROM pg_sleep(0.05) CROSS JOIN pg_prepared_statements p
    WHERE p.statement NOT LIKE '%pg_prepared_statements%'`;
  const replies = await Promise.all(Array.from({ length: width }, () => query(statement)));
  const seen = new Set<number>();
  const totals = new Map<string, PlanCacheUse>();
  for (const rows of replies) {
    const pid = rows[0]?.pid;
    if (pid === undefined || seen.has(pid)) continue;
    seen.add(pid);
    for (const r of rows) {
      const t = totals.get(r.statement) ?? { custom: 0, generic: 0 };
      totals.set(r.statement, { custom: t.custom + r.custom, generic: t.generic + r.generic });
    }
  }
  return totals;
}

/** What happened to one statement's counters between two snapshots. */
export function planCacheDelta(
  before: Map<string, PlanCacheUse>,
  after: Map<string, PlanCacheUse>,
  statement: string,
): PlanCacheUse {
  const a = after.get(statement) ?? { custom: 0, generic: 0 };
  const b = before.get(statement) ?? { custom: 0, generic: 0 };
  return { custom: a.custom - b.custom, generic: a.generic - b.generic };
}
