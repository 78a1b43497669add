/**
 * Opens the database: a PostgreSQL server through postgres.js when a URL is given, otherwise
 * embedded PostgreSQL (PGlite) in a directory (or in memory). Both speak the same SQL and are
 * used through the same Drizzle API, so nothing above this file knows which one it has.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { DatabaseMonitor, type MonitorOptions } from './availability.ts';
import * as schema from './schema.ts';

export type Schema = typeof schema;
/** A database or a transaction: repositories accept either. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  readonly db: Db;
  readonly kind: 'pglite' | 'postgres';
  /** The embedded instance, when kind is pglite. */
  readonly pglite?: PGlite;
  /** A server database's availability monitor (none for PGlite: it cannot be cut off). */
  readonly monitor?: DatabaseMonitor;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL of a server; when null, PGlite is used. */
  url: string | null;
  /** PGlite data directory; null keeps PGlite in memory (tests). */
  dataDir: string | null;
  /** Pool size for a server database. */
  maxConnections?: number;
  /** PGlite only: start from a data-directory dump (PGlite's dumpDataDir) instead of an empty cluster. */
  pgliteDump?: Blob;
  /** Server only: how long a statement may wait for an unanswering server before it fails (ms; 5 s). */
  unavailableAfterMs?: number;
  log?: MonitorOptions['log'];
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (opts.url) {
    const monitor = new DatabaseMonitor({ timeoutMs: opts.unavailableAfterMs ?? 5000, log: opts.log });
    const common = {
      onnotice: () => {},
      socket: monitor.socket,
      ...monitor.connectionOptions(),
      connection: { application_name: 'omniline' },
    } as const;
    const client = postgres(opts.url, {
      ...common,
      max: opts.maxConnections ?? 10,
      // Connections are recycled, which also bounds each one's cache of prepared statements.
      max_lifetime: 30 * 60,
    });
    const heartbeat = postgres(opts.url, { ...common, max: 1 });
    monitor.start(() => heartbeat`SELECT 1`);
    const db = drizzlePostgres({ client: preparing(client, monitor), schema }) as unknown as Db;
    return {
      db,
      kind: 'postgres',
      monitor,
      close: async () => {
        monitor.stop();
        await Promise.all([client.end({ timeout: 5 }), heartbeat.end({ timeout: 1 })]);
      },
    };
  }
  let dir: string | undefined;
  if (opts.dataDir) {
    dir = path.join(opts.dataDir, 'pgdata');
    mkdirSync(dir, { recursive: true });
  }
  const client = new PGlite(dir, opts.pgliteDump ? { loadDataDir: opts.pgliteDump } : {});
  await client.waitReady;
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return { db, kind: 'pglite', close: () => client.close(), pglite: client };
}

/** Statements longer than this (big search filters) are not kept prepared. */
const MAX_PREPARED_LENGTH = 4000;

/**
 * Drizzle runs postgres.js queries unprepared, so PostgreSQL parses and plans every statement
 * anew. This wrapper prepares parameterised statements (per connection, reused by text), which
 * roughly halves the database's CPU per statement on the hot paths.
 *
 * It also runs transactions on a connection reserved BEFORE `BEGIN` is sent. postgres.js's own
 * `sql.begin` can pipeline `BEGIN` onto a busy connection without reserving it when that write
 * fills the pipeline or the socket buffer (porsager/postgres#823, #1189): under load the
 * transaction then fails with UNSAFE_TRANSACTION while its connection goes back to the pool inside
 * an open transaction. `reserve()` only ever hands out an idle connection.
 */
function preparing(client: postgres.Sql, monitor: DatabaseMonitor): postgres.Sql {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        return (query: string, params?: unknown[], options?: { prepare?: boolean }) => {
          // While the server is unreachable, fail at once (the caller answers 503) instead of queueing.
          monitor.assertUp();
          // Dates go as ISO text: prepared parameters are serialised by their described type, and
          // Drizzle installs pass-through serialisers for the date types.
          return target.unsafe(
            query,
            params?.map((p) => (p instanceof Date ? p.toISOString() : p)) as never,
            {
              ...options,
              prepare: !!params?.length && query.length <= MAX_PREPARED_LENGTH,
            },
          );
        };
      }
      if (prop === 'begin') {
        return async (...args: unknown[]) => {
          const callback = args.pop() as (tx: postgres.Sql) => unknown;
          const mode = typeof args[0] === 'string' ? args[0].replace(/[^a-z ]/gi, '') : '';
          monitor.assertUp();
          const reserved = await target.reserve();
          try {
            return await inTransaction(reserved, `begin ${mode}`, 'commit', 'rollback', () =>
              callback(transactionSql(reserved, monitor)),
            );
          } finally {
            reserved.release();
          }
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** A reserved connection inside a transaction: prepared statements, and savepoints for nesting. */
function transactionSql(reserved: postgres.ReservedSql, monitor: DatabaseMonitor): postgres.Sql {
  let savepoints = 0;
  const sql = preparing(reserved as unknown as postgres.Sql, monitor);
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === 'savepoint') {
        return (...args: unknown[]) => {
          const callback = args.pop() as (tx: postgres.Sql) => unknown;
          const name = `s${++savepoints}`;
          return inTransaction(
            reserved,
            `savepoint ${name}`,
            `release savepoint ${name}`,
            `rollback to savepoint ${name}`,
            () => callback(target),
          );
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

async function inTransaction<T>(
  sql: postgres.ReservedSql,
  open: string,
  commit: string,
  rollback: string,
  body: () => T | Promise<T>,
): Promise<T> {
  // BEGIN is not awaited on its own: it goes out in one write with the body's first statement
  // (the connection is reserved, so nothing else can slip in between), saving a round trip.
  const opened = sql.unsafe(open).execute();
  let result: T;
  try {
    result = await body();
    await opened;
  } catch (err) {
    await opened.catch(() => undefined);
    await sql.unsafe(rollback).catch(() => undefined);
    throw err;
  }
  const done = await sql.unsafe(commit);
  // COMMIT of a transaction that had failed rolls back without an error: say so.
  if (done.command === 'ROLLBACK') throw new Error('the transaction failed and was rolled back');
  return result;
}

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
