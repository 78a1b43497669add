/** A real app on a fresh test database, driven through `app.inject`. */
import { after, before, describe } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { Db } from '../../src/db/client.ts';
import type { Clock } from '../../src/domain/deps.ts';
import { SecretBox } from '../../src/lib/secret-box.ts';
import { createServices, type Services } from '../../src/services.ts';
import { createTestDatabase, type DatabaseKind, databaseKinds, type TestDatabase } from './db.ts';

export const ADMIN_PASSWORD = 'admin-password-1';

/** A clock tests can move; it follows real time until set. */
export class TestClock implements Clock {
  #fixed: Date | null = null;
  now(): Date {
    return this.#fixed ? new Date(this.#fixed) : new Date();
  }
  set(at: Date | string): void {
    this.#fixed = new Date(at);
  }
  advance(ms: number): void {
    this.#fixed = new Date(this.now().getTime() + ms);
  }
}

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
}

export interface TestContext {
  kind: DatabaseKind;
  database: TestDatabase;
  db: Db;
  app: FastifyInstance;
  services: Services;
  clock: TestClock;
  adminToken: string;
  request<T = any>(
    method: string,
    url: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Reply<T>>;
  close(): Promise<void>;
}

export async function startTestApp(
  kind: DatabaseKind,
  opts: { bodyLimitBytes?: number } = {},
): Promise<TestContext> {
  const database = await createTestDatabase(kind);
  const clock = new TestClock();
  const services = createServices({
    db: database.db,
    secrets: new SecretBox('test-secret-key-0123456789abcdef0123'),
    clock,
  });
  await services.users.bootstrapAdmin('admin', ADMIN_PASSWORD);
  const app = await buildApp({ services, bodyLimitBytes: opts.bodyLimitBytes });
  const adminToken = (await services.users.login('admin', ADMIN_PASSWORD)).token;
  const request: TestContext['request'] = async (method, url, o = {}) => {
    const token = o.token === undefined ? adminToken : o.token;
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers: { ...(token && { authorization: `Bearer ${token}` }), ...o.headers },
      ...(o.body !== undefined && { payload: o.body as object }),
    });
    let body: unknown = res.body;
    if (res.headers['content-type']?.toString().includes('json') && res.body) body = JSON.parse(res.body);
    return { status: res.statusCode, body: body as any, headers: res.headers };
  };
  return {
    kind,
    database,
    db: database.db,
    app,
    services,
    clock,
    adminToken,
    request,
    close: async () => {
      await app.close();
      await database.close();
    },
  };
}

/**
 * Defines the suite once per database kind (PGlite always; PostgreSQL with DATABASE_URL), each with
 * its own app and fresh database.
 */
export function describeEachDatabase(title: string, body: (ctx: () => TestContext) => void): void {
  for (const kind of databaseKinds()) {
    describe(`${title} [${kind}]`, () => {
      let ctx: TestContext | undefined;
      before(async () => {
        ctx = await startTestApp(kind);
      });
      after(async () => {
        await ctx?.close();
      });
      body(() => {
        if (!ctx) throw new Error('test app not started');
        return ctx;
      });
    });
  }
}
