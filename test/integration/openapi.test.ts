/**
 * The OpenAPI document describes every operation: a summary, its success answer and its error
 * answers, all in the one error shape — and errors answered through those schemas lose nothing.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachDatabase } from '../helpers/app.ts';
import { createWorld, openSession } from '../helpers/factories.ts';

interface Operation {
  summary?: string;
  security?: unknown[];
  parameters?: { in: string }[];
  requestBody?: unknown;
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}

const ERROR_REF = { $ref: '#/components/schemas/ErrorResponse' };

describeEachDatabase('OpenAPI document', (ctx) => {
  async function document() {
    const res = await ctx().request('GET', '/api/docs/json', { token: null });
    assert.equal(res.status, 200);
    return res.body as {
      security: unknown[];
      components: { schemas: Record<string, any> };
      paths: Record<string, Record<string, Operation>>;
    };
  }

  it('gives every operation a summary, a success answer and its error answers in the error shape', async () => {
    const doc = await document();
    const problems: string[] = [];
    let count = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        count++;
        const name = `${method.toUpperCase()} ${path}`;
        const responses = op.responses ?? {};
        const statuses = Object.keys(responses);
        if (!op.summary?.trim()) problems.push(`${name}: no summary`);
        if (!statuses.some((s) => /^2/.test(s))) problems.push(`${name}: no success answer`);
        const isPublic = (op.security ?? doc.security).length === 0;
        const expected = ['400', '503'];
        if (!isPublic) expected.push('401', '403');
        if (op.parameters?.some((p) => p.in === 'path')) expected.push('404');
        if (op.requestBody) expected.push('413');
        if (path.startsWith('/api/v1/')) expected.push('429');
        for (const status of expected) {
          if (!statuses.includes(status)) problems.push(`${name}: no ${status}`);
        }
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          const answer = responses[status]!;
          if (!answer.description || answer.description === 'Default Response')
            problems.push(`${name} ${status}: not described`);
          // /healthz answers its own shape when the database is down; everything else the error shape.
          if (name === 'GET /healthz' && status === '503') continue;
          const schema = answer.content?.['application/json']?.schema;
          if (JSON.stringify(schema) !== JSON.stringify(ERROR_REF))
            problems.push(`${name} ${status}: not the error shape: ${JSON.stringify(schema)}`);
        }
      }
    }
    assert.ok(count > 70, `${count} operations`);
    assert.deepEqual(problems, []);
  });

  it('describes the error shape once: code, message and free-form details, nothing dropped', async () => {
    const { ErrorResponse: shape } = (await document()).components.schemas;
    assert.ok(shape, 'components.schemas.ErrorResponse');
    assert.deepEqual(shape.required, ['error']);
    assert.deepEqual(shape.properties.error.required, ['code', 'message']);
    assert.equal(shape.properties.error.properties.code.type, 'string');
    assert.equal(shape.properties.error.properties.message.type, 'string');
    assert.ok(shape.properties.error.properties.details, 'details is documented');
    assert.equal(shape.properties.error.properties.details.type, undefined, 'details is free-form');
    assert.equal(shape.properties.error.additionalProperties, true);
  });

  it('answers errors through those schemas with their details whole', async () => {
    const { channel } = await createWorld(ctx(), 'api');
    const s = await openSession(ctx(), channel.id);
    const invalid = await ctx().request('POST', `/api/v1/sessions/${s.id}/assign`, {
      body: { operatorId: 'not-a-uuid' },
    });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'VALIDATION_FAILED');
    assert.match(invalid.body.error.details.errors[0].path, /^body/);
    assert.equal(typeof invalid.body.error.details.errors[0].message, 'string');
    const missing = '00000000-0000-4000-8000-000000000000';
    const notFound = await ctx().request('GET', `/api/v1/sessions/${missing}`);
    assert.equal(notFound.status, 404);
    assert.deepEqual(notFound.body.error.details, { id: missing });
    assert.equal((await ctx().request('POST', `/api/v1/sessions/${s.id}/close`)).status, 200);
    const again = await ctx().request('POST', `/api/v1/sessions/${s.id}/close`);
    assert.equal(again.status, 409);
    assert.deepEqual(again.body.error, {
      code: 'SESSION_ALREADY_CLOSED',
      message: again.body.error.message,
      details: { from: 'Closed', event: 'close' },
    });
    const unauthorized = await ctx().request('GET', `/api/v1/sessions/${s.id}`, { token: 'oml_nope' });
    assert.equal(unauthorized.status, 401);
    assert.equal(typeof unauthorized.body.error.message, 'string');
  });
});
