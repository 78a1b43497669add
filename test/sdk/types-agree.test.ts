/**
 * @omniline/sdk stands alone: no file of sdk/ imports from outside it (not even types), it
 * type-checks on its own, and its types and enums agree with the server's (types-agree.check.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  LineChannelState,
  LineChannelType,
  LineSessionPriority,
  LineSessionState,
} from '../../sdk/src/index.ts';
import { CHANNEL_STATES, CHANNEL_TYPES } from '../../src/domain/channel/channel.ts';
import { PRIORITIES, SESSION_STATES } from '../../src/domain/session/session.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SDK = path.join(ROOT, 'sdk');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const tsc = (...args: string[]) =>
  promisify(execFile)(process.execPath, [TSC, ...args], { cwd: ROOT }).then(
    () => ({ ok: true, out: '' }),
    (err: { stdout: string }) => ({ ok: false, out: err.stdout }),
  );

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(full)));
    else if (/\.(m?[jt]s)$/.test(entry.name)) out.push(full);
  }
  return out;
}

it('imports nothing from outside sdk/ but packages (no ../../src, not even a type)', async () => {
  const files = await sources(SDK);
  assert.ok(files.length > 10, files.join(', '));
  const leaks: string[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
      const target = path.resolve(path.dirname(file), m[1]!);
      if (!target.startsWith(SDK + path.sep)) leaks.push(`${path.relative(ROOT, file)} → ${m[1]}`);
    }
  }
  assert.deepEqual(leaks, []);
});

it('type-checks on its own (sdk/tsconfig.json: the SDK files and node_modules only)', async () => {
  const result = await tsc('-p', 'sdk/tsconfig.json');
  assert.ok(result.ok, result.out);
});

it("agrees with the server's schemas, type by type (types-agree.check.ts)", async () => {
  const result = await tsc(
    '--noEmit',
    '--strict',
    '--skipLibCheck',
    '--target',
    'ES2022',
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--allowImportingTsExtensions',
    '--types',
    'node',
    'test/sdk/types-agree.check.ts',
  );
  assert.ok(result.ok, result.out);
});

it("has enums with exactly the server's values", () => {
  assert.deepEqual(Object.values(LineChannelType), [...CHANNEL_TYPES]);
  assert.deepEqual(Object.values(LineChannelState), [...CHANNEL_STATES]);
  assert.deepEqual(Object.values(LineSessionState), [...SESSION_STATES]);
  assert.deepEqual(Object.values(LineSessionPriority), [...PRIORITIES]);
});
