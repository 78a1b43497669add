/**
 * `npm run docs:config`: rewrites the README's generated sections (the configuration table from
 * src/config.ts, the error table from src/errors/codes.ts) between their `<!-- name:start -->` and
 * `<!-- name:end -->` markers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderReadme } from '../src/docs/readme-sections.ts';

const README = new URL('../README.md', import.meta.url);

const readme = readFileSync(README, 'utf8');
let next: string;
try {
  next = renderReadme(readme);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
if (next === readme) process.stdout.write('README.md: the generated tables are up to date\n');
else {
  writeFileSync(README, next);
  process.stdout.write('README.md: generated tables rewritten\n');
}
