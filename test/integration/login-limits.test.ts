/**
 * Login abuse, request limits and what is public: lockouts per login and per address with backoff,
 * the audit of refused logins, per-address, per-token and per-channel request limits (shared by two
 * nodes through Redis), the metrics token and the OpenAPI document's public operations.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { loadConfig } from '../../src/config.ts';
import { queryRows } from '../../src/db/client.ts';
import { signApiBody } from '../../src/providers/api/api.provider.ts';
import { describeEachDatabase, startTestApp, type TestContext } from '../helpers/app.ts';
import { databaseKinds } from '../helpers/db.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

const PASSWORD = 'password-123';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let ipSeq = 0;
/** A client address of its own, so that only the test's chosen addresses add up. */
const nextIp = () =>
  `10.${200 + Math.floor(ipSeq / 65536)}.${Math.floor(ipSeq / 256) % 256}.${ipSeq++ % 256}`;

async function login(ctx: TestContext, user: string, password: string, ip = nextIp()) {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    remoteAddress: ip,
    payload: { login: user, password },
  });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
}

function assertLocked(res: Awaited<ReturnType<typeof login>>, scope: 'login' | 'ip') {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'LOGIN_LOCKED');
  assert.equal(res.body.error.details.scope, scope);
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${res.headers['retry-after']}`);
  assert.equal(res.body.error.details.retryAfterSeconds, retryAfter);
  return retryAfter;
}

async function auditRows(ctx: TestContext, loginName: string) {
  const res = await ctx.request('POST', '/api/v1/audit/search', {
    body: { where: { field: 'login', op: 'eq', value: loginName }, sort: [{ field: 'id', dir: 'asc' }] },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { items: { reason: string; ip: string; userId: string | null; action: string }[] };
}

const LOGIN_LIMITS = {
  loginMaxFailures: 3,
  loginIpMaxFailures: 8,
  loginLockMs: 1000,
  loginLockMaxMs: 2000,
  loginIpRateLimit: 0,
};

describeEachDatabase(
  'login lockout',
  (ctx) => {
    it('locks a login after its failures: 429 LOGIN_LOCKED with Retry-After, the right password too, until the lock ends', async () => {
      const user = await createUser(ctx(), 'operator');
      for (let i = 0; i < 3; i++) {
        const res = await login(ctx(), user.login, 'wrong-password', `10.0.0.${i + 1}`);
        assert.equal(res.status, 401);
        assert.equal(res.body.error.code, 'INVALID_CREDENTIALS');
      }
      // Locked for every address, and the right password does not help.
      const retryAfter = assertLocked(await login(ctx(), user.login, PASSWORD, '10.0.0.9'), 'login');
      assert.equal(retryAfter, 1);
      assertLocked(await login(ctx(), user.login.toUpperCase(), PASSWORD), 'login');
      await sleep(retryAfter * 1000 + 100);
      const ok = await login(ctx(), user.login, PASSWORD);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.match(ok.body.token, /^oml_/);
    });

    it('locks a login again for twice as long, capped', async () => {
      const user = await createUser(ctx(), 'operator');
      const lockOut = async () => {
        for (let i = 0; i < 3; i++) assert.equal((await login(ctx(), user.login, 'nope-nope')).status, 401);
        return assertLocked(await login(ctx(), user.login, PASSWORD), 'login');
      };
      assert.equal(await lockOut(), 1);
      await sleep(1100);
      assert.equal(await lockOut(), 2);
      await sleep(2100);
      assert.equal(await lockOut(), 2, 'capped at loginLockMaxMs');
    });

    it('forgets the failures of a login on a success', async () => {
      const user = await createUser(ctx(), 'operator');
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2; i++) assert.equal((await login(ctx(), user.login, 'nope-nope')).status, 401);
        assert.equal((await login(ctx(), user.login, PASSWORD)).status, 200);
      }
    });

    it('checks at most the allowed number of passwords of a burst of concurrent guesses', async () => {
      const user = await createUser(ctx(), 'operator');
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => login(ctx(), user.login, `guess-${i}`, `10.9.0.${i + 1}`)),
      );
      const checked = replies.filter((r) => r.status === 401).length;
      const refused = replies.filter((r) => r.status === 429).length;
      assert.ok(checked <= 3, `${checked} passwords checked`);
      assert.equal(checked + refused, 20);
      for (const r of replies.filter((x) => x.status === 429))
        assert.equal(r.body.error.code, 'LOGIN_LOCKED');
    });

    it('locks an address after its failures across logins, and only that address', async () => {
      const user = await createUser(ctx(), 'operator');
      const ip = '192.0.2.77';
      for (let i = 0; i < 8; i++) {
        // A different (unknown) login each time: no login is locked, the address is.
        assert.equal((await login(ctx(), unique('nobody'), 'wrong-password', ip)).status, 401);
      }
      assertLocked(await login(ctx(), user.login, PASSWORD, ip), 'ip');
      assert.equal((await login(ctx(), user.login, PASSWORD, '192.0.2.78')).status, 200);
    });

    it('does not count successes against the address', async () => {
      const user = await createUser(ctx(), 'operator');
      const ip = '192.0.2.90';
      for (let i = 0; i < 12; i++) assert.equal((await login(ctx(), user.login, PASSWORD, ip)).status, 200);
    });

    it('records every refused login in the audit log: login, address, reason, the user — never the password', async () => {
      const user = await createUser(ctx(), 'operator');
      const ip = '198.51.100.7';
      for (let i = 0; i < 3; i++) await login(ctx(), user.login, `secret-guess-${i}`, ip);
      await login(ctx(), user.login, PASSWORD, ip);
      const stranger = unique('stranger');
      await login(ctx(), stranger, 'secret-guess-x', ip);

      const rows = (await auditRows(ctx(), user.login)).items;
      assert.deepEqual(
        rows.map((r) => r.reason),
        ['invalid_credentials', 'invalid_credentials', 'invalid_credentials', 'login_locked'],
      );
      for (const r of rows) {
        assert.equal(r.action, 'login.failed');
        assert.equal(r.ip, ip);
        assert.equal(r.userId, user.id);
      }
      const unknown = (await auditRows(ctx(), stranger)).items;
      assert.equal(unknown.length, 1);
      assert.equal(unknown[0]!.userId, null);
      // A successful login is not a refusal.
      assert.equal((await auditRows(ctx(), 'admin')).items.length, 0);

      const [leak] = await queryRows<{ n: number }>(
        ctx().db,
        sql`SELECT count(*)::int AS n FROM audit_log WHERE row_to_json(audit_log)::text LIKE '%secret-guess%'`,
      );
      assert.equal(leak?.n, 0);
    });

    it('records a blocked user refused, and lets only admins read the audit log', async () => {
      const user = await createUser(ctx(), 'operator');
      await ctx().request('PATCH', `/api/v1/users/${user.id}`, { body: { blocked: true } });
      assert.equal((await login(ctx(), user.login, PASSWORD)).status, 403);
      assert.deepEqual(
        (await auditRows(ctx(), user.login)).items.map((r) => r.reason),
        ['user_blocked'],
      );
      for (const role of ['operator', 'supervisor'] as const) {
        const other = await createUser(ctx(), role);
        const res = await ctx().request('POST', '/api/v1/audit/search', { token: other.token, body: {} });
        assert.equal(res.status, 403);
      }
    });

    it('lets an admin unlock a login and an address at once, recorded in the audit log as who did it', async () => {
      const user = await createUser(ctx(), 'operator');
      const ip = '192.0.2.120';
      for (let i = 0; i < 3; i++) assert.equal((await login(ctx(), user.login, 'wrong-guess')).status, 401);
      for (let i = 0; i < 8; i++) await login(ctx(), unique('nobody'), 'wrong-guess', ip);
      assertLocked(await login(ctx(), user.login, PASSWORD), 'login');
      assertLocked(await login(ctx(), unique('other'), PASSWORD, ip), 'ip');

      const byLogin = await ctx().request('POST', '/api/v1/auth/unlock', {
        body: { login: user.login.toUpperCase() },
      });
      assert.equal(byLogin.status, 204, JSON.stringify(byLogin.body));
      assert.equal((await login(ctx(), user.login, PASSWORD)).status, 200);
      // The address is still locked until it is named.
      assertLocked(await login(ctx(), user.login, PASSWORD, ip), 'ip');
      assert.equal((await ctx().request('POST', '/api/v1/auth/unlock', { body: { ip } })).status, 204);
      assert.equal((await login(ctx(), user.login, PASSWORD, ip)).status, 200);

      // The lock history went too: the next lock is the first one again (1 s, not 2 s).
      for (let i = 0; i < 3; i++) await login(ctx(), user.login, 'wrong-guess');
      assert.equal(
        (await ctx().request('POST', '/api/v1/auth/unlock', { body: { login: user.login } })).status,
        204,
      );
      for (let i = 0; i < 3; i++) await login(ctx(), user.login, 'wrong-guess');
      assert.equal(assertLocked(await login(ctx(), user.login, PASSWORD), 'login'), 1);

      const unlocks = await ctx().request('POST', '/api/v1/audit/search', {
        body: {
          where: {
            and: [
              { field: 'action', op: 'eq', value: 'login.unlocked' },
              { field: 'userId', op: 'eq', value: user.id },
            ],
          },
        },
      });
      assert.equal(unlocks.status, 200, JSON.stringify(unlocks.body));
      const admin = await ctx().request('GET', '/api/v1/me');
      assert.deepEqual(
        unlocks.body.items.map((r: { reason: string }) => r.reason),
        [`by:${admin.body.id}`, `by:${admin.body.id}`],
      );
    });

    it('lets only admins unlock, and names a wrong field', async () => {
      for (const role of ['operator', 'supervisor'] as const) {
        const other = await createUser(ctx(), role);
        const res = await ctx().request('POST', '/api/v1/auth/unlock', {
          token: other.token,
          body: { login: other.login },
        });
        assert.equal(res.status, 403);
      }
      const badIp = await ctx().request('POST', '/api/v1/auth/unlock', { body: { ip: '999.1.1.1' } });
      assert.equal(badIp.status, 400);
      assert.equal(badIp.body.error.details.errors[0].path, 'body.ip');
      const empty = await ctx().request('POST', '/api/v1/auth/unlock', { body: {} });
      assert.equal(empty.status, 400);
      assert.equal(empty.body.error.code, 'VALIDATION_FAILED');
    });
  },
  { security: LOGIN_LIMITS },
);

describeEachDatabase(
  'login requests per address',
  (ctx) => {
    it('answers 429 TOO_MANY_REQUESTS with Retry-After past the requests per minute of one address', async () => {
      const user = await createUser(ctx(), 'operator');
      for (let i = 0; i < 4; i++)
        assert.equal((await login(ctx(), user.login, PASSWORD, '203.0.113.5')).status, 200);
      const refused = await login(ctx(), user.login, PASSWORD, '203.0.113.5');
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'TOO_MANY_REQUESTS');
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.equal((await login(ctx(), user.login, PASSWORD, '203.0.113.6')).status, 200);
    });
  },
  { security: { loginIpRateLimit: 4 } },
);

describeEachDatabase(
  'API requests per token',
  (ctx) => {
    it('answers 429 TOO_MANY_REQUESTS with Retry-After past the requests per minute of one token, not of another', async () => {
      // Users made through the services: the admin's own requests would count too.
      const make = async () => {
        const loginName = unique('limited');
        await ctx().services.users.create({
          login: loginName,
          name: loginName,
          role: 'operator',
          password: PASSWORD,
        });
        return (await ctx().services.users.login(loginName, PASSWORD)).token;
      };
      const [a, b] = [await make(), await make()];
      for (let i = 0; i < 5; i++) {
        const res = await ctx().request('GET', '/api/v1/me', { token: a });
        assert.equal(res.status, 200);
        assert.equal(res.headers['x-ratelimit-remaining'], String(4 - i));
      }
      const refused = await ctx().request('GET', '/api/v1/me', { token: a });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'TOO_MANY_REQUESTS');
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.equal((await ctx().request('GET', '/api/v1/me', { token: b })).status, 200);
    });
  },
  { security: { apiRateLimit: 5 } },
);

describeEachDatabase(
  'webhooks per channel',
  (ctx) => {
    it('answers 429 TOO_MANY_REQUESTS past the webhooks per minute of one channel, storing nothing', async () => {
      const line = await createLine(ctx());
      const one = await createChannel(ctx(), line.id, 'api');
      const two = await createChannel(ctx(), line.id, 'api');
      for (let i = 0; i < 3; i++) {
        assert.equal((await apiWebhook(ctx(), one.id, clientMessage('c-1', `m${i}`))).status, 200);
      }
      const refused = await apiWebhook(ctx(), one.id, clientMessage('c-1', 'one too many'));
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'TOO_MANY_REQUESTS');
      const [stored] = await queryRows<{ n: number }>(
        ctx().db,
        sql`SELECT count(*)::int AS n FROM messages WHERE text = 'one too many'`,
      );
      assert.equal(stored?.n, 0);
      assert.equal((await apiWebhook(ctx(), two.id, clientMessage('c-2', 'other channel'))).status, 200);
    });
  },
  { security: { webhookRateLimit: 3 } },
);

describeEachDatabase('default limits', (ctx) => {
  it('puts no limit on webhooks and 10,000 requests a minute on an API token by default', async () => {
    const line = await createLine(ctx());
    const channel = await createChannel(ctx(), line.id, 'api');
    const raw = JSON.stringify(clientMessage('d-1', 'hello'));
    const hook = await ctx().app.inject({
      method: 'POST',
      url: `/webhooks/api/${channel.id}`,
      headers: { 'content-type': 'application/json', 'x-omniline-signature': signApiBody(API_SECRET, raw) },
      payload: raw,
    });
    assert.equal(hook.statusCode, 200);
    assert.equal(hook.headers['x-ratelimit-limit'], undefined);
    const res = await ctx().request('GET', '/api/v1/me');
    assert.equal(res.headers['x-ratelimit-limit'], '10000');
    const loginReply = await login(ctx(), 'admin', 'wrong-password');
    assert.equal(loginReply.headers['x-ratelimit-limit'], '100');
  });
});

const PUBLIC_OPERATIONS = [
  'GET /api/v1/files/{id}/download',
  'GET /healthz',
  // The live-chat widget's calls carry a visitor token (from POST …/visitors), not a staff token.
  'GET /livechat/{channelId}/config',
  'GET /livechat/{channelId}/messages',
  'GET /metrics',
  'GET /webhooks/{provider}/{channelId}',
  'POST /api/v1/auth/login',
  'POST /livechat/{channelId}/files',
  'POST /livechat/{channelId}/messages',
  'POST /livechat/{channelId}/rating',
  'POST /livechat/{channelId}/visitors',
  'POST /webhooks/{provider}/{channelId}',
];

async function operations(ctx: TestContext) {
  const res = await ctx.request('GET', '/api/docs/json', { token: null });
  assert.equal(res.status, 200);
  const doc = res.body as {
    security: unknown[];
    paths: Record<string, Record<string, { security?: unknown[] }>>;
  };
  assert.deepEqual(doc.security, [{ bearer: [] }]);
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      name: `${method.toUpperCase()} ${path}`,
      isPublic: (op.security ?? doc.security).length === 0,
    })),
  );
}

describeEachDatabase('public operations and metrics', (ctx) => {
  it('marks exactly the login, health, metrics and webhook operations public in the OpenAPI document', async () => {
    const ops = await operations(ctx());
    assert.ok(ops.length > 50, `${ops.length} operations`);
    assert.deepEqual(
      ops
        .filter((o) => o.isPublic)
        .map((o) => o.name)
        .sort(),
      PUBLIC_OPERATIONS,
    );
  });

  it('refuses every operation the document says needs a token when called without one', async () => {
    for (const op of await operations(ctx())) {
      if (op.isPublic) continue;
      const url = op.path.replace(/\{[^}]+\}/g, randomUUID());
      const res = await ctx().app.inject({ method: op.method as 'GET', url });
      // The guard runs after the schema check: a request without a body may be refused for that first.
      assert.ok(
        res.statusCode === 401 || (res.statusCode === 400 && res.json().error.code !== 'BAD_REQUEST'),
        `${op.name}: ${res.statusCode} ${res.body}`,
      );
    }
  });

  it('serves /metrics without a token when no metrics token is set', async () => {
    const res = await ctx().request('GET', '/metrics', { token: null });
    assert.equal(res.status, 200);
    assert.match(String(res.body), /omniline_http_request_duration_seconds/);
  });
});

const METRICS_TOKEN = 'metrics-token-0123456789';

describeEachDatabase(
  'metrics token',
  (ctx) => {
    it('requires the metrics token for /metrics, refusing none and an API token', async () => {
      assert.equal((await ctx().request('GET', '/metrics', { token: null })).status, 401);
      const api = await ctx().request('GET', '/metrics');
      assert.equal(api.status, 401);
      assert.equal(api.body.error.code, 'UNAUTHORIZED');
      assert.equal((await ctx().request('GET', '/metrics', { token: `${METRICS_TOKEN}x` })).status, 401);
      const ok = await ctx().request('GET', '/metrics', { token: METRICS_TOKEN });
      assert.equal(ok.status, 200);
      assert.match(String(ok.body), /omniline_http_request_duration_seconds/);
    });

    it('marks /metrics as needing a token in the OpenAPI document', async () => {
      const ops = await operations(ctx());
      assert.equal(ops.find((o) => o.name === 'GET /metrics')?.isPublic, false);
      assert.deepEqual(
        ops
          .filter((o) => o.isPublic)
          .map((o) => o.name)
          .sort(),
        PUBLIC_OPERATIONS.filter((o) => o !== 'GET /metrics'),
      );
    });
  },
  { security: { metricsToken: METRICS_TOKEN } },
);

const redisUrl = process.env.REDIS_URL;

for (const kind of databaseKinds()) {
  describe(`limits shared by two nodes through Redis [${kind}]`, {
    skip: redisUrl ? false : 'needs REDIS_URL',
  }, () => {
    let a: TestContext;
    let b: TestContext;
    before(async () => {
      const redisPrefix = `omniline-test-${randomUUID()}:`;
      const security = { ...LOGIN_LIMITS, loginLockMs: 5000, loginLockMaxMs: 5000, apiRateLimit: 4 };
      a = await startTestApp(kind, { redisUrl, redisPrefix, security });
      b = await startTestApp(kind, { redisUrl, redisPrefix, security, database: a.database });
    });
    after(async () => {
      await b?.close();
      await a?.close();
    });
    /** An operator made through node A's services (an admin's request would count against a limit). */
    const sharedOperator = async () => {
      const loginName = unique('shared');
      await a.services.users.create({
        login: loginName,
        name: loginName,
        role: 'operator',
        password: PASSWORD,
      });
      return loginName;
    };

    it('refuses on node B a login locked through node A', async () => {
      const loginName = await sharedOperator();
      assert.equal((await login(a, loginName, 'wrong-1')).status, 401);
      assert.equal((await login(b, loginName, 'wrong-2')).status, 401);
      assert.equal((await login(a, loginName, 'wrong-3')).status, 401);
      assertLocked(await login(b, loginName, PASSWORD), 'login');
      assertLocked(await login(a, loginName, PASSWORD), 'login');
    });

    it('unlocks on every node: an admin on node B lifts a lock taken on node A', async () => {
      const loginName = await sharedOperator();
      for (let i = 0; i < 3; i++) assert.equal((await login(a, loginName, `wrong-${i}`)).status, 401);
      assertLocked(await login(b, loginName, PASSWORD), 'login');
      assert.equal(
        (await b.request('POST', '/api/v1/auth/unlock', { body: { login: loginName } })).status,
        204,
      );
      assert.equal((await login(a, loginName, PASSWORD)).status, 200);
    });

    it('counts the requests of one token on both nodes together', async () => {
      const loginName = await sharedOperator();
      const { token } = await a.services.users.login(loginName, PASSWORD);
      assert.equal((await a.request('GET', '/api/v1/me', { token })).status, 200);
      assert.equal((await b.request('GET', '/api/v1/me', { token })).status, 200);
      assert.equal((await a.request('GET', '/api/v1/me', { token })).status, 200);
      assert.equal((await b.request('GET', '/api/v1/me', { token })).status, 200);
      const refused = await a.request('GET', '/api/v1/me', { token });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, 'TOO_MANY_REQUESTS');
      assert.equal((await b.request('GET', '/api/v1/me', { token })).status, 429);
    });
  });
}

describe('limit settings', () => {
  it('reads the limits from the environment, with defaults, and reports bad values by name', () => {
    const d = loadConfig({}).security;
    assert.equal(d.loginMaxFailures, 5);
    assert.equal(d.webhookRateLimit, 0);
    assert.equal(d.metricsToken, null);
    assert.equal(d.trustProxy, false);
    const c = loadConfig({
      OMNILINE_LOGIN_MAX_FAILURES: '7',
      OMNILINE_LOGIN_LOCK_SECONDS: '30',
      OMNILINE_API_RATE_LIMIT: '0',
      OMNILINE_WEBHOOK_RATE_LIMIT: '60000',
      OMNILINE_METRICS_TOKEN: METRICS_TOKEN,
      OMNILINE_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1',
    }).security;
    assert.equal(c.loginMaxFailures, 7);
    assert.equal(c.loginLockMs, 30_000);
    assert.equal(c.apiRateLimit, 0);
    assert.equal(c.webhookRateLimit, 60_000);
    assert.equal(c.metricsToken, METRICS_TOKEN);
    assert.deepEqual(c.trustProxy, ['10.0.0.0/8', '127.0.0.1']);
    assert.equal(loadConfig({ OMNILINE_TRUST_PROXY: '2' }).security.trustProxy, 2);
    assert.throws(
      () =>
        loadConfig({
          OMNILINE_LOGIN_MAX_FAILURES: '-1',
          OMNILINE_METRICS_TOKEN: 'short',
          OMNILINE_TRUST_PROXY: 'proxy.local',
          OMNILINE_LOGIN_LOCK_SECONDS: '600',
          OMNILINE_LOGIN_LOCK_MAX_SECONDS: '60',
        }),
      (err: Error & { problems?: string[] }) => {
        const text = err.problems?.join('\n') ?? '';
        for (const name of [
          'OMNILINE_LOGIN_MAX_FAILURES',
          'OMNILINE_METRICS_TOKEN',
          'OMNILINE_TRUST_PROXY',
          'OMNILINE_LOGIN_LOCK_MAX_SECONDS',
        ]) {
          assert.match(text, new RegExp(name));
        }
        return true;
      },
    );
  });
});
