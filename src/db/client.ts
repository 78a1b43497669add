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
import * as schema from './schema.ts';

export type Schema = typeof schema;
/** A database or a transaction: repositories accept either. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

export interface Database {
  readonly db: Db;
  readonly kind: 'pglite' | 'postgres';
  /** The embedded instance, when kind is pglite. */
  readonly pglite?: PGlite;
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
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (opts.url) {
    const client = postgres(opts.url, {
      max: opts.maxConnections ?? 10,
      onnotice: () => {},
      connection: { application_name: 'omniline' },
    });
    const db = drizzlePostgres({ client, schema }) as unknown as Db;
    return { db, kind: 'postgres', close: () => client.end({ timeout: 5 }) };
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

/** Runs raw SQL and returns its rows, whichever driver is underneath. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown;
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}
