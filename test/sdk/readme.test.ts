/**
 * The README's "Scripting: the lines SDK and the `omniline` CLI" section, run as written against a
 * real server over HTTP: the library example as a Node program (its `@omniline/sdk` import resolved
 * to sdk/src/index.ts), the script through `omniline script`, and the shell block through bash with
 * `omniline` the package's bin. The two TypeScript examples also type-check with `tsc --strict`.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stubProviders } from '../fakes/stub-providers.ts';
import { ADMIN_PASSWORD, describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, openSession } from '../helpers/factories.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = path.join(ROOT, 'sdk/bin/omniline.mjs');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const SECTION = '## Scripting: the lines SDK and the `omniline` CLI';

/** The fenced blocks of the README's SDK section, in order, by language. */
async function sectionBlocks(): Promise<{ lang: string; code: string }[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${SECTION}\n`);
  assert.ok(start >= 0, `README.md has no "${SECTION}" section`);
  const end = readme.indexOf('\n## ', start + SECTION.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<Run> {
  // Only what the example is given: no OMNILINE_* of the test run, no config dir but the test's own.
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith('OMNILINE_') && k !== 'XDG_CONFIG_HOME' && k !== 'NODE_TEST_CONTEXT',
    ),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: { ...base, ...opts.env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** The library example with its package import pointed at the SDK's sources (no install here). */
const asProgram = (code: string, dir: string) =>
  code.replaceAll(
    "from '@omniline/sdk'",
    `from '${path.relative(dir, path.join(ROOT, 'sdk/src/index.ts')).split(path.sep).join('/')}'`,
  );

it('has the SDK section with a program, a script and the CLI commands', async () => {
  const blocks = await sectionBlocks();
  assert.deepEqual(
    blocks.map((b) => b.lang),
    ['ts', 'ts', 'sh'],
  );
  assert.match(blocks[0]!.code, /from '@omniline\/sdk'/);
  assert.match(blocks[2]!.code, /omniline script close-stale\.ts/);
});

it('type-checks the TypeScript examples with tsc --strict', async () => {
  const [program, script] = await sectionBlocks();
  const dir = await mkdtemp(path.join(ROOT, 'test/sdk/.readme-tsc-'));
  try {
    await writeFile(path.join(dir, 'example.ts'), asProgram(program!.code, dir));
    await writeFile(path.join(dir, 'close-stale.ts'), script!.code);
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: path.join(ROOT, 'test/sdk/snippets/tsconfig.json'),
        files: [path.join(ROOT, 'sdk/src/globals.ts')],
        include: ['*.ts'],
      }),
    );
    const result = await promisify(execFile)(process.execPath, [TSC, '-p', path.join(dir, 'tsconfig.json')], {
      cwd: ROOT,
    }).then(
      () => ({ ok: true, out: '' }),
      (err: { stdout: string }) => ({ ok: false, out: err.stdout }),
    );
    assert.ok(result.ok, result.out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describeEachDatabase(
  'the README’s SDK and CLI examples, run as written',
  (ctx) => {
    let dir: string;
    const w = {} as { line: { id: string }; channel: { id: string }; waiting: string[] };

    before(async () => {
      dir = await mkdtemp(path.join(ROOT, 'test/sdk/.readme-'));
      w.line = await createLine(ctx(), { name: 'Support' });
      await createLine(ctx(), { name: 'Sales' });
      w.channel = await createChannel(ctx(), w.line.id, 'livechat');
      w.waiting = [];
      for (let i = 0; i < 3; i++) w.waiting.push((await openSession(ctx(), w.channel.id)).id);
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('runs the library example as a Node program', async () => {
      const [program] = await sectionBlocks();
      await writeFile(path.join(dir, 'example.mts'), asProgram(program!.code, dir));
      const out = await run(process.execPath, ['--import', 'tsx', path.join(dir, 'example.mts')], {
        cwd: ROOT,
        env: { OMNILINE_URL: ctx().url!, OMNILINE_TOKEN: ctx().adminToken },
      });
      assert.equal(out.code, 0, out.stderr);
      const lines = out.stdout.trim().split('\n');
      assert.equal(lines[0], '3 waiting in Support');
      // Oldest first, as the sort says; each with its priority.
      assert.deepEqual(
        lines.slice(1, 4).map((l) => l.split(' ')),
        w.waiting.map((id) => [id, 'Medium']),
      );
      assert.equal(lines[4], 'SESSION_NOT_FOUND 404');
      assert.equal(lines.length, 5);
    });

    it('runs the shell block through bash: login, lists, search, disconnect, reconnect, the script', async () => {
      const [, script, shell] = await sectionBlocks();
      await writeFile(path.join(dir, 'close-stale.ts'), script!.code);
      const env = {
        OMNILINE_URL: ctx().url!,
        ADMIN_PASSWORD,
        LINE_ID: w.line.id,
        CHANNEL_ID: w.channel.id,
        XDG_CONFIG_HOME: path.join(dir, 'config'),
      };
      const prelude = `set -euo pipefail\nomniline() { "${process.execPath}" "${BIN}" "$@"; }\n`;
      const out = await run('bash', ['-c', prelude + shell!.code], { cwd: dir, env });
      assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);
      assert.match(out.stdout, /logged in to http:\/\/127\.0\.0\.1:\d+ as admin \(admin\)/);
      assert.match(out.stdout, /Support/);
      assert.match(out.stdout, /Sales/);
      // `sessions search` for the line's Waiting sessions lists each of them.
      for (const id of w.waiting)
        assert.ok(out.stdout.split(id).length - 1 >= 2, `${id} listed and searched`);
      assert.match(out.stdout, /"state": "Waiting"/); // --json
      assert.match(out.stdout, /disconnected/);
      assert.match(out.stdout, /closed 0 waiting sessions of Support/); // hours=24: none is that old
      const channel = await ctx().request('GET', `/api/v1/channels/${w.channel.id}`);
      assert.equal(channel.body.state, 'active', 'disconnected, then reconnected');
      const credentials = JSON.parse(
        await readFile(path.join(dir, 'config/omniline/credentials.json'), 'utf8'),
      );
      assert.equal(credentials.url, ctx().url);

      // The same script with hours=0 closes every Waiting session of the line.
      const closing = await run(
        'bash',
        ['-c', `${prelude}omniline script close-stale.ts --context line=line:"$LINE_ID" --context hours=0`],
        { cwd: dir, env },
      );
      assert.equal(closing.code, 0, closing.stderr);
      assert.equal(closing.stdout.trim(), 'closed 3 waiting sessions of Support');
      for (const id of w.waiting) {
        assert.equal((await ctx().request('GET', `/api/v1/sessions/${id}`)).body.state, 'Closed');
      }
    });
  },
  { listen: true, plugins: [stubProviders()] },
);
