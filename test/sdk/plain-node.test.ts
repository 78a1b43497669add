/**
 * `import '@omniline/sdk'` in plain Node ≥ 20 — no TypeScript loader — as an integrator's program
 * runs it: the package's JavaScript build (scripts/build-sdk.mjs, the same that `npm install` runs
 * into sdk/dist/) imported by a `node` child process, which searches and is refused against a real
 * server over HTTP.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildSdk } from '../../scripts/build-sdk.mjs';
import { describeEachDatabase } from '../helpers/app.ts';
import { createLine, unique } from '../helpers/factories.ts';

const run = promisify(execFile);

describeEachDatabase(
  'SDK in plain Node',
  (ctx) => {
    let outdir: string;
    before(async () => {
      outdir = await buildSdk(mkdtempSync(path.join(tmpdir(), 'omniline-sdk-')));
    });
    after(() => rmSync(outdir, { recursive: true, force: true }));

    it('imports the built package without tsx, finds a line and gets a typed refusal', async () => {
      const built = readFileSync(path.join(outdir, 'index.js'), 'utf8');
      assert.doesNotMatch(built, /from ["']tsx|node:/, 'the library loads neither tsx nor Node built-ins');
      const name = unique('plain');
      const line = await createLine(ctx(), { name });
      const program = `
        const { createSystem, OmnilineError } = await import(${JSON.stringify(pathToFileURL(path.join(outdir, 'index.js')).href)});
        const System = createSystem({ url: process.env.URL, token: process.env.TOKEN });
        const found = await System.lines.lines.search().where((f) => f.__name.eq(${JSON.stringify(name)})).first();
        const refused = await System.lines.sessions.ref('00000000-0000-4000-8000-000000000000').fetch().catch((e) => e);
        console.log(JSON.stringify({ id: found.data.__id, typed: refused instanceof OmnilineError, code: refused.code }));
      `;
      // process.execPath with no --import: nothing but Node itself compiles the program.
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', program], {
        env: { PATH: process.env.PATH, URL: ctx().url!, TOKEN: ctx().adminToken },
      });
      assert.deepEqual(JSON.parse(stdout), { id: line.id, typed: true, code: 'SESSION_NOT_FOUND' });
    });
  },
  { listen: true },
);
