/** The document's snippets type-check with `tsc --strict` against the SDK's globals, and a wrong one does not. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const tsc = (project: string) =>
  promisify(execFile)(process.execPath, [TSC, '-p', project], { cwd: ROOT }).then(
    () => ({ ok: true, out: '' }),
    (err: { stdout: string }) => ({ ok: false, out: err.stdout }),
  );

it('type-checks every snippet of the document with tsc --strict', async () => {
  const config = JSON.parse(await readFile(path.join(ROOT, 'test/sdk/snippets/tsconfig.json'), 'utf8'));
  assert.equal(config.compilerOptions.strict, true);
  const result = await tsc('test/sdk/snippets/tsconfig.json');
  assert.ok(result.ok, result.out);
});

it('rejects a snippet that misuses the API (a wrong field, a wrong enum member)', async () => {
  const dir = await mkdtemp(path.join(ROOT, 'test/sdk/.typecheck-'));
  try {
    await writeFile(
      path.join(dir, 'wrong.ts'),
      'const c = await System.lines.channels.search().where((f, g) => g.and(f._stat.eq(LineChannelState.on))).first();\nawait c.explode();\n',
    );
    const base = path.join(ROOT, 'test/sdk/snippets/tsconfig.json');
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: base, files: [path.join(ROOT, 'sdk/src/globals.ts')], include: ['*.ts'] }),
    );
    const result = await tsc(path.relative(ROOT, path.join(dir, 'tsconfig.json')));
    assert.equal(result.ok, false);
    assert.match(result.out, /Property '_stat' does not exist/);
    assert.match(result.out, /Property 'on' does not exist/);
    assert.match(result.out, /Property 'explode' does not exist/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
