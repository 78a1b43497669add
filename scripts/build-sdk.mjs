/**
 * The SDK's library as plain JavaScript (`sdk/dist/index.js`, `sdk/dist/globals.js`), so that
 * `import '@omniline/sdk'` works in Node ≥ 20 without a TypeScript loader and in any bundler: one
 * ES module per entry, its own sources bundled, `centrifuge` and `ws` left to the importer. Types
 * stay the sources (`sdk/src/*.ts`, the package's `types` condition). Run by scripts/build.mjs
 * (`npm install` / `npm run build`); test/sdk/plain-node.test.ts builds with it too.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const sdk = fileURLToPath(new URL('../sdk/', import.meta.url));

export async function buildSdk(outdir = `${sdk}dist`) {
  await build({
    absWorkingDir: sdk,
    entryPoints: ['src/index.ts', 'src/globals.ts'],
    outdir,
    bundle: true,
    packages: 'external',
    platform: 'neutral',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    logLevel: 'warning',
  });
  return outdir;
}
