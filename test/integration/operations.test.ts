/** Operations: what a node tells its operators — its logs (here) and its Prometheus metrics. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import pino from 'pino';
import { buildApp } from '../../src/app.ts';
import { describeEachDatabase } from '../helpers/app.ts';

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
