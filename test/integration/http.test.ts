import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestContext } from '../helpers/app.ts';

describe('HTTP surface', () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await startTestApp('pglite', { bodyLimitBytes: 4096 });
  });
  after(() => ctx.close());

  it('answers malformed JSON with 400 INVALID_JSON', async () => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/lines',
      headers: { authorization: `Bearer ${ctx.adminToken}`, 'content-type': 'application/json' },
      payload: '{"name":',
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'INVALID_JSON');
  });

  it('answers an oversized body with 413 PAYLOAD_TOO_LARGE and writes nothing', async () => {
    const name = 'x'.repeat(10_000);
    const res = await ctx.request('POST', '/api/v1/contacts', { body: { name } });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'PAYLOAD_TOO_LARGE');
    const found = await ctx.request('POST', '/api/v1/contacts/search', {
      body: { where: { field: 'name', op: 'like', value: 'xxxxxxxx%' } },
    });
    assert.equal(found.body.total, 0);
  });

  it('answers unknown routes with 404 ROUTE_NOT_FOUND and unknown ids with a coded 404', async () => {
    const res = await ctx.request('GET', '/api/v1/nothing');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, 'ROUTE_NOT_FOUND');
    const missing = await ctx.request('GET', '/api/v1/sessions/00000000-0000-4000-8000-000000000000');
    assert.equal(missing.body.error.code, 'SESSION_NOT_FOUND');
    const group = await ctx.request('GET', '/api/v1/groups/00000000-0000-4000-8000-000000000000');
    assert.equal(group.body.error.code, 'OPERATOR_GROUP_NOT_FOUND');
  });

  it('names the path of a malformed id and of an unknown property', async () => {
    const res = await ctx.request('GET', '/api/v1/sessions/not-a-uuid');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.errors[0].path, 'params.id');
    const extra = await ctx.request('POST', '/api/v1/lines', { body: { name: 'x', colour: 'red' } });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error.details.errors[0].path, 'body.colour');
  });

  it('rejects unknown search fields and ops with 400 naming them', async () => {
    const field = await ctx.request('POST', '/api/v1/sessions/search', {
      body: {
        where: {
          or: [
            { field: 'state', op: 'eq', value: 'Waiting' },
            { field: 'colour', op: 'eq', value: 1 },
          ],
        },
      },
    });
    assert.equal(field.status, 400);
    assert.equal(field.body.error.code, 'UNKNOWN_FIELD');
    assert.equal(field.body.error.details.errors[0].path, 'where.or[1].field');
    const op = await ctx.request('POST', '/api/v1/sessions/search', {
      body: { where: { field: 'state', op: 'near', value: 'x' } },
    });
    assert.equal(op.body.error.code, 'UNKNOWN_OP');
    const value = await ctx.request('POST', '/api/v1/sessions/search', {
      body: { where: { field: 'state', op: 'eq', value: 'Open' } },
    });
    assert.equal(value.status, 400);
    assert.match(value.body.error.message, /where\.value: must be one of Waiting/);
  });

  it('serves the OpenAPI document and the docs page', async () => {
    const json = await ctx.request('GET', '/api/docs/json', { token: null });
    assert.equal(json.status, 200);
    assert.equal(json.body.openapi, '3.0.3');
    assert.ok(json.body.paths['/api/v1/sessions/search']);
    assert.ok(json.body.paths['/api/v1/channels/{id}/reconnect']);
    assert.equal((await ctx.request('GET', '/api/docs', { token: null })).status, 200);
  });

  it('reports health with a database check, and Prometheus metrics', async () => {
    const health = await ctx.request('GET', '/healthz', { token: null });
    assert.deepEqual(health.body, { status: 'ok', database: 'ok' });
    const metrics = await ctx.request('GET', '/metrics', { token: null });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /omniline_http_request_duration_seconds_bucket/);
  });
});
