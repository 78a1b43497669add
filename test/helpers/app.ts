/** A real app on a fresh test database, driven through `app.inject`. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import type { Db } from '../../src/db/client.ts';
import type { Clock } from '../../src/domain/deps.ts';
import { SecretBox } from '../../src/lib/secret-box.ts';
import { createPlatform, type Platform } from '../../src/platform.ts';
import type { OmnilinePlugin } from '../../src/plugins.ts';
import type { SecuritySettings } from '../../src/security/settings.ts';
import type { Services } from '../../src/services.ts';
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
  platform: Platform;
  clock: TestClock;
  /** http://127.0.0.1:<port> when the app listens. */
  url: string | null;
  adminToken: string;
  request<T = any>(
    method: string,
    url: string,
    opts?: { token?: string | null; body?: unknown; headers?: Record<string, string> },
  ): Promise<Reply<T>>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  bodyLimitBytes?: number;
  publicUrl?: string;
  plugins?: OmnilinePlugin[];
  /** Start the job worker and pollers (tests that drive jobs by hand leave them stopped). */
  background?: boolean;
  /** Listen on a loopback port (realtime tests connect over real WebSockets). */
  listen?: boolean;
  /** Use Redis for realtime fan-out (with a key prefix of this test's own). */
  redisUrl?: string;
  redisPrefix?: string;
  /** Share another test app's database (a second node). */
  database?: TestDatabase;
  /** Hosts providers may fetch from although private (OMNILINE_FETCH_ALLOW_PRIVATE). */
  fetchAllowPrivate?: string[];
  presenceGraceMs?: number;
  /** Login, API and webhook limits, the metrics token (the product's defaults otherwise). */
  security?: Partial<SecuritySettings>;
  /** The server's client silence timeout (seconds), for lines that set none. */
  clientOfflineTimeoutSeconds?: number;
  /** Run the SMTP-in listener on a free loopback port (`ctx.platform.smtpIn.port`). */
  smtpIn?: { maxBytes?: number; maxRecipients?: number };
}

export async function startTestApp(kind: DatabaseKind, opts: TestAppOptions = {}): Promise<TestContext> {
  const database = opts.database ?? (await createTestDatabase(kind));
  const clock = new TestClock();
  const filesDir = await mkdtemp(path.join(tmpdir(), 'omniline-files-'));
  const platform = createPlatform({
    db: database.db,
    secrets: new SecretBox('test-secret-key-0123456789abcdef0123'),
    filesDir,
    clock,
    publicUrl: opts.publicUrl ?? 'http://omniline.test',
    plugins: opts.plugins,
    worker: { pollIntervalMs: 50, baseBackoffMs: 20, maxBackoffMs: 200 },
    pollLeaseMs: 5000,
    redisUrl: opts.redisUrl,
    redisPrefix: opts.redisPrefix,
    router: { presenceGraceMs: opts.presenceGraceMs },
    fetchAllowPrivate: opts.fetchAllowPrivate,
    security: opts.security,
    clientOfflineTimeoutSeconds: opts.clientOfflineTimeoutSeconds,
    smtpIn: opts.smtpIn
      ? { port: 0, host: '127.0.0.1', maxBytes: opts.smtpIn.maxBytes ?? 1024 * 1024, ...opts.smtpIn }
      : null,
  });
  const { services } = platform;
  await services.users.bootstrapAdmin('admin', ADMIN_PASSWORD);
  const app = await buildApp({ platform, bodyLimitBytes: opts.bodyLimitBytes });
  if (opts.background) platform.start();
  if (platform.smtpIn) await platform.smtpIn.listen();
  const url = opts.listen ? await app.listen({ port: 0, host: '127.0.0.1' }) : null;
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
    platform,
    clock,
    url,
    adminToken,
    request,
    close: async () => {
      await platform.stop();
      await app.close();
      if (!opts.database) await database.close();
      await rm(filesDir, { recursive: true, force: true });
    },
  };
}

/**
 * Defines the suite once per database kind (PGlite always; PostgreSQL with DATABASE_URL), each with
 * its own app and fresh database.
 */
export function describeEachDatabase(
  title: string,
  body: (ctx: () => TestContext) => void,
  opts: TestAppOptions = {},
): void {
  for (const kind of databaseKinds()) {
    describe(`${title} [${kind}]`, () => {
      let ctx: TestContext | undefined;
      before(async () => {
        ctx = await startTestApp(kind, opts);
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

/** POSTs a multipart form (files and fields) through `app.inject`, as a browser would send it. */
export async function postForm(ctx: TestContext, url: string, form: FormData, token = ctx.adminToken) {
  const request = new Request('http://omniline.test', { method: 'POST', body: form });
  return ctx.app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${token}`, 'content-type': request.headers.get('content-type')! },
    payload: Buffer.from(await request.arrayBuffer()),
  });
}
