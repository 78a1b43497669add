/**
 * Test databases: every test suite gets its own fresh database, so runs never see each other's rows.
 * - PGlite (always): in memory, started from a migrated template dump cached in node_modules/.cache
 *   (a fresh PGlite cluster takes ~4 s to initialise; a restore takes well under 1 s).
 * - PostgreSQL (when DATABASE_URL is set): a new database per suite, dropped afterwards.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SQL } from 'drizzle-orm';
import postgres from 'postgres';
import { type Database, openDatabase, queryRows } from '../../src/db/client.ts';
import { migrate } from '../../src/db/migrate.ts';

export type DatabaseKind = 'pglite' | 'postgres';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MIGRATIONS = path.join(ROOT, 'src/db/migrations');
const CACHE = path.join(ROOT, 'node_modules/.cache/omniline');

/** The kinds to run integration tests on: PGlite always, PostgreSQL when DATABASE_URL is set. */
export function databaseKinds(): DatabaseKind[] {
  return process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

function migrationsHash(): string {
  const h = createHash('sha256');
  const pglite = JSON.parse(
    readFileSync(path.join(ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8'),
  ) as {
    version: string;
  };
  h.update(pglite.version);
  for (const dir of [MIGRATIONS, path.join(MIGRATIONS, 'meta')]) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.sql') || f.endsWith('.json')) h.update(f).update(readFileSync(path.join(dir, f)));
    }
  }
  return h.digest('hex').slice(0, 16);
}

async function pgliteTemplate(): Promise<Blob> {
  const file = path.join(CACHE, `pglite-${migrationsHash()}.tar`);
  try {
    return new Blob([readFileSync(file)]);
  } catch {
    const db = await openDatabase({ url: null, dataDir: null });
    await migrate(db.db);
    const dump = await db.pglite!.dumpDataDir('none');
    await db.close();
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, file);
    return dump;
  }
}

export interface TestDatabase extends Database {
  /** Connection URL (postgres) — for child processes that open their own pool. */
  url: string | null;
}

export async function createTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const db = await openDatabase({ url: null, dataDir: null, pgliteDump: await pgliteTemplate() });
    // A restored template may predate a migration only if the cache key is wrong; migrate is a no-op otherwise.
    await migrate(db.db);
    return Object.assign(db, { url: null });
  }
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is not set');
  const name = `omniline_t_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), dataDir: null, maxConnections: 20 });
  await migrate(db.db);
  return {
    ...db,
    url: url.toString(),
    close: async () => {
      await db.close();
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
}

/** The number a `SELECT count(*) AS n …` statement returns. */
export async function countOf(db: Database['db'], query: SQL): Promise<number> {
  const [row] = await queryRows<{ n: string | number }>(db, query);
  return Number(row?.n);
}
