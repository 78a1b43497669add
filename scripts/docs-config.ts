/**
 * `npm run docs:config`: rewrites the README's configuration table (between `<!-- config:start -->`
 * and `<!-- config:end -->`) from the declarations in src/config.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { configTable } from '../src/config.ts';

const README = new URL('../README.md', import.meta.url);
const MARKERS = /(<!-- config:start -->\n)[\s\S]*?(\n<!-- config:end -->)/;

const readme = readFileSync(README, 'utf8');
if (!MARKERS.test(readme)) {
  process.stderr.write('README.md has no <!-- config:start --> … <!-- config:end --> markers\n');
  process.exit(1);
}
const next = readme.replace(MARKERS, (_all, start: string, end: string) => `${start}${configTable()}${end}`);
if (next === readme) process.stdout.write('README.md: the configuration table is up to date\n');
else {
  writeFileSync(README, next);
  process.stdout.write('README.md: configuration table rewritten\n');
}
