/**
 * A node:test reporter that `npm test` runs after `spec`: at the end of the run it lists every suite
 * and test that did not run, grouped by the reason it gave (`needs DATABASE_URL`, `needs REDIS_URL`,
 * …). spec's "skipped" count leaves out whole skipped suites, so without this a run without
 * PostgreSQL or Redis looks complete.
 *
 * Plain JavaScript: node 20 loads reporters without the `--import tsx` hooks.
 */
import path from 'node:path';

/**
 * @typedef {{ name: string, nesting: number, file?: string, skip?: string | boolean, details?: { type?: string } }} EventData
 * @typedef {{ kind: 'suite' | 'test', title: string, file: string, reason: string }} Skipped
 */

/** @param {AsyncIterable<{ type: string, data: EventData }>} source */
export default async function* skippedReporter(source) {
  /** Per file, the names of the suites and tests under way, by nesting (files run concurrently). */
  /** @type {Map<string, string[]>} */
  const open = new Map();
  /** @type {Skipped[]} */
  const skipped = [];
  for await (const { type, data } of source) {
    const file = data.file ?? '';
    if (type === 'test:start') {
      const names = open.get(file) ?? [];
      names.length = data.nesting;
      names.push(data.name);
      open.set(file, names);
    } else if (
      (type === 'test:pass' || type === 'test:fail') &&
      data.skip !== undefined &&
      data.skip !== false
    ) {
      const parents = (open.get(file) ?? []).slice(0, data.nesting);
      skipped.push({
        kind: data.details?.type === 'suite' ? 'suite' : 'test',
        title: [...parents, data.name].join(' › '),
        file: file && path.relative(process.cwd(), file),
        reason: typeof data.skip === 'string' ? data.skip : '(no reason given)',
      });
    }
  }
  yield* report(skipped);
}

/** @param {Skipped[]} skipped */
function* report(skipped) {
  if (skipped.length === 0) return;
  /** @param {Skipped['kind']} kind */
  const count = (kind) => skipped.filter((s) => s.kind === kind).length;
  yield `\nDid not run: ${count('suite')} suites, ${count('test')} tests\n`;
  const reasons = [...new Set(skipped.map((s) => s.reason))].sort();
  for (const reason of reasons) {
    yield `  ${reason}\n`;
    for (const s of skipped.filter((x) => x.reason === reason)) {
      yield `    ${s.kind.padEnd(5)}  ${s.title}${s.file ? `  (${s.file})` : ''}\n`;
    }
  }
}
