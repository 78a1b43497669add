/**
 * `npm run build` (run by `prepare`, so `npm install` and `npm ci` build it): compiles the server once
 * into dist/ — src/main.ts bundled by esbuild (ESM, packages left to node_modules, source maps) —
 * so `npm start` runs plain JavaScript instead of transpiling TypeScript at every start. The SQL
 * migrations go beside the bundle: src/db/migrate.ts finds them relative to its own module.
 * The SDK's library goes to sdk/dist/ (scripts/build-sdk.mjs). Every web app (`web/<name>/vite.config.ts`: the desk, the widget) is built by Vite into
 * dist/web/<name>/, which the server serves (src/http/plugins/web-apps.ts).
 *
 * `--if-stale` (npm's `prestart`) builds only when a file under src/, sdk/src/ or web/ is newer
 * than the bundle, so a `git pull` or an edit is never started from an old dist/.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildSdk } from './build-sdk.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;

/** The newest modification time of a file under `dir` (ms). */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      latest = Math.max(latest, statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs);
  }
  return latest;
}

if (process.argv.includes('--if-stale')) {
  let built = 0;
  try {
    built = statSync(`${dist}/main.js`).mtimeMs;
  } catch {}
  const web = existsSync(`${root}web`) ? newest(`${root}web`) : 0;
  if (built > Math.max(newest(`${root}src`), newest(`${root}sdk/src`), web)) process.exit(0);
}

rmSync(dist, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  outfile: 'dist/main.js',
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20.10',
  sourcemap: true,
  logLevel: 'warning',
});
mkdirSync(`${dist}/migrations/meta`, { recursive: true });
cpSync(`${root}src/db/migrations`, `${dist}/migrations`, {
  recursive: true,
  filter: (src) => !src.endsWith('_snapshot.json'),
});
process.stdout.write('built dist/main.js\n');
await buildSdk();
process.stdout.write('built sdk/dist/\n');

const apps = existsSync(`${root}web`)
  ? readdirSync(`${root}web`).filter((name) => existsSync(`${root}web/${name}/vite.config.ts`))
  : [];
if (apps.length > 0) {
  const vite = await import('vite');
  for (const name of apps) {
    await vite.build({
      configFile: `${root}web/${name}/vite.config.ts`,
      root: `${root}web/${name}`,
      logLevel: 'warn',
      build: { outDir: `${dist}/web/${name}`, emptyOutDir: true },
    });
    process.stdout.write(`built dist/web/${name}/\n`);
  }
}
