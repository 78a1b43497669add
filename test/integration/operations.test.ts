/** Operations: what a node tells its operators — its logs (here) and its Prometheus metrics. */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import pino from 'pino';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { jobs } from '../../src/db/schema.ts';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

describeEachDatabase('health check logs', (ctx) => {
  /** A second app on the suite's platform, logging JSON records at `level` into an array. */
  async function loggedApp(level: string) {
    const records: Record<string, any>[] = [];
    const logger = pino({ level }, { write: (line: string) => records.push(JSON.parse(line)) });
    const app = await buildApp({ platform: ctx().platform, logger });
    return { app, records };
  }
  const aboutHealthz = (r: Record<string, any>) => r.req?.url === '/healthz' || r.msg === 'health check';

  it('logs GET /healthz at debug only, while other requests stay at info', async () => {
    const info = await loggedApp('info');
    assert.equal((await info.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.deepEqual(info.records.filter(aboutHealthz), [], 'no /healthz line at info');
    await info.app.inject({ method: 'GET', url: '/no-such-route' });
    assert.ok(
      info.records.some((r) => r.level === 30 && r.req?.url === '/no-such-route'),
      'other requests are logged at info',
    );

    const debug = await loggedApp('debug');
    await debug.app.inject({ method: 'GET', url: '/healthz' });
    const lines = debug.records.filter(aboutHealthz);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.level, 20);
    assert.equal(lines[0]!.res.statusCode, 200);
  });
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** `GET /metrics`, parsed into samples (Prometheus text format, one sample per line). */
async function scrape(ctx: TestContext): Promise<Sample[]> {
  const res = await ctx.app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200, res.body);
  const samples: Sample[] = [];
  for (const line of res.body.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*)(?:\{(.*)\})? (\S+)$/i.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample of `name` whose labels include `labels` (undefined: no such series). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

describeEachDatabase(
  'business metrics at /metrics',
  (ctx) => {
    let callback: ApiCallbackServer;
    before(async () => {
      callback = await ApiCallbackServer.start();
    });
    after(() => callback.close());

    /** A client writes into the channel; returns the session that holds the message. */
    async function clientWrites(channelId: string) {
      const from = unique('client');
      const res = await apiWebhook(ctx(), channelId, clientMessage(from));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const found = await ctx().request('POST', '/api/v1/sessions/search', {
        body: {
          where: { field: 'channelId', op: 'eq', value: channelId },
          sort: [{ field: 'startedAt', dir: 'desc' }],
        },
      });
      return found.body.items[0] as { id: string; state: string };
    }

    it('counts sessions by line and state, the queue, assignments, send failures, rejections, jobs and connections', async () => {
      const c = ctx();
      const operator = await createUser(c, 'operator');
      const served = await createLine(c, { operatorIds: [operator.id] });
      const unserved = await createLine(c);
      const channel = await createChannel(c, served.id, 'api', {
        settings: { secret: API_SECRET, callbackUrl: `${callback.url}/inbox` },
      });
      const queueChannel = await createChannel(c, unserved.id, 'api');
      const status = await c.request('PUT', '/api/v1/me/status', {
        token: operator.token,
        body: { status: 'online' },
      });
      assert.equal(status.status, 200, JSON.stringify(status.body));

      // Two sessions on the served line: one routed, one assigned by hand; one waits on the other line.
      const routed = await clientWrites(channel.id);
      assert.equal(await c.platform.router.route(routed.id), 'assigned');
      const manual = await clientWrites((await createChannel(c, served.id, 'api')).id);
      const assign = await c.request('POST', `/api/v1/sessions/${manual.id}/assign`, {
        body: { operatorId: operator.id },
      });
      assert.equal(assign.status, 200, JSON.stringify(assign.body));
      const waiting = await clientWrites(queueChannel.id);
      assert.equal(waiting.state, 'Waiting');

      // A reply the receiver refuses once (503: retried), then for good (400).
      callback.answerNext({ status: 503 }, { status: 400, body: { error: 'unknown recipient' } });
      const sent = await c.request('POST', `/api/v1/sessions/${routed.id}/messages`, {
        token: operator.token,
        body: { text: 'hello' },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      await waitFor(
        async () => {
          await c.platform.worker.drain();
          const last = await c.request('GET', `/api/v1/sessions/${routed.id}/last-message`);
          return last.body.status === 'failed';
        },
        5000,
        'the send to fail',
      );

      // Webhooks refused: a wrong signature, and a provider that does not exist.
      const forged = await apiWebhook(
        c,
        channel.id,
        clientMessage(unique('client')),
        'not-the-secret-0123456789',
      );
      assert.equal(forged.status, 401);
      const unknown = await c.app.inject({
        method: 'POST',
        url: `/webhooks/nosuch/${channel.id}`,
        headers: { 'content-type': 'application/json' },
        payload: '{}',
      });
      assert.equal(unknown.statusCode, 404);

      // A job that is not due for an hour, enqueued 90 s ago.
      await c.db.insert(jobs).values({
        kind: 'metrics.test',
        payload: {},
        runAt: new Date(Date.now() + 3600_000),
        createdAt: new Date(Date.now() - 90_000),
      });

      // One live WebSocket (a socket that has not sent its connect yet counts too).
      const socket = new WebSocket(`${c.url!.replace('http', 'ws')}/connection/websocket`);
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

      const m = await scrape(c);
      const line = served.id;
      assert.equal(value(m, 'omniline_sessions', { line, state: 'AssignedToOperator' }), 2);
      assert.equal(value(m, 'omniline_sessions', { line, state: 'Waiting' }), 0);
      assert.equal(value(m, 'omniline_sessions', { line, state: 'AssignedToBot' }), 0);
      assert.equal(value(m, 'omniline_sessions', { line: unserved.id, state: 'Waiting' }), 1);
      assert.equal(value(m, 'omniline_queue_length', { line }), 0);
      assert.equal(value(m, 'omniline_queue_length', { line: unserved.id }), 1);
      const wait = value(m, 'omniline_queue_oldest_wait_seconds', { line: unserved.id });
      assert.ok(wait !== undefined && wait > 0 && wait < 60, `oldest wait ${wait}`);
      assert.equal(value(m, 'omniline_queue_oldest_wait_seconds', { line }), 0);

      assert.equal(value(m, 'omniline_assignments_total', { line, by: 'router' }), 1);
      assert.equal(value(m, 'omniline_assignments_total', { line, by: 'manual' }), 1);
      assert.equal(value(m, 'omniline_assignments_total', { line: unserved.id }), undefined);
      const passes = value(m, 'omniline_router_pass_duration_seconds_count', { outcome: 'committed' });
      assert.ok(passes !== undefined && passes >= 1, `router passes ${passes}`);

      assert.equal(
        value(m, 'omniline_send_failures_total', {
          provider: 'api',
          code: 'UPSTREAM_ERROR',
          outcome: 'retry',
        }),
        1,
      );
      assert.equal(
        value(m, 'omniline_send_failures_total', { provider: 'api', code: 'REJECTED', outcome: 'failed' }),
        1,
      );

      assert.equal(
        value(m, 'omniline_webhook_rejections_total', { provider: 'api', code: 'INVALID_SIGNATURE' }),
        1,
      );
      assert.equal(
        value(m, 'omniline_webhook_rejections_total', { provider: 'unknown', code: 'UNKNOWN_PROVIDER' }),
        1,
      );
      assert.equal(
        m.filter((s) => s.name === 'omniline_webhook_rejections_total').length,
        2,
        'accepted webhooks are not counted',
      );

      assert.equal(value(m, 'omniline_outbox_pending_jobs', { kind: 'metrics.test' }), 1);
      const age = value(m, 'omniline_outbox_oldest_job_age_seconds', { kind: 'metrics.test' });
      assert.ok(age !== undefined && age >= 89 && age < 300, `oldest job age ${age}`);
      assert.equal(value(m, 'omniline_outbox_pending_jobs', { kind: 'message.edit' }), 0);
      assert.equal(value(m, 'omniline_metrics_database_up'), 1);

      assert.equal(value(m, 'omniline_realtime_connections'), 1);
      socket.close();
      await waitFor(
        async () => value(await scrape(c), 'omniline_realtime_connections') === 0,
        5000,
        'the connection to close',
      );
      assert.ok(value(m, 'process_cpu_user_seconds_total') !== undefined, 'process metrics stay');
    });
  },
  { listen: true },
);
