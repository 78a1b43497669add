import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// A plain-JavaScript module (node 20 loads reporters without tsx): imported untyped.
const { default: skippedReporter } = await import(new URL('./reporter.mjs', import.meta.url).href);

async function run(events: { type: string; data: Record<string, unknown> }[]): Promise<string> {
  async function* source() {
    for (const e of events) yield e as never;
  }
  let out = '';
  for await (const chunk of skippedReporter(source())) out += chunk;
  return out;
}

const file = `${process.cwd()}/test/x.test.ts`;
const start = (name: string, nesting: number, f = file) => ({
  type: 'test:start',
  data: { name, nesting, file: f },
});
const pass = (name: string, nesting: number, extra: Record<string, unknown> = {}, f = file) => ({
  type: 'test:pass',
  data: { name, nesting, file: f, ...extra },
});

describe('the skipped-tests reporter', () => {
  it('lists skipped suites and tests with their reasons and where they are', async () => {
    const out = await run([
      start('faults', 0),
      pass('faults', 0, { skip: 'needs DATABASE_URL', details: { type: 'suite' } }),
      start('routing', 0),
      start('two nodes', 1),
      pass('two nodes', 1, { skip: 'needs two connections' }),
      start('one node', 1),
      pass('one node', 1),
      pass('routing', 0, { details: { type: 'suite' } }),
      start('redis', 0, '/elsewhere/y.test.ts'),
      pass('redis', 0, { skip: true, details: { type: 'suite' } }, '/elsewhere/y.test.ts'),
    ]);
    assert.match(out, /Did not run: 2 suites, 1 tests/);
    assert.match(out, /needs DATABASE_URL\n {4}suite {2}faults {2}\(test\/x\.test\.ts\)/);
    assert.match(out, /needs two connections\n {4}test {3}routing › two nodes {2}\(test\/x\.test\.ts\)/);
    assert.match(out, /\(no reason given\)\n {4}suite {2}redis/);
    assert.doesNotMatch(out, /one node/);
  });

  it('says nothing when everything ran', async () => {
    assert.equal(await run([start('a', 0), pass('a', 0)]), '');
  });
});
