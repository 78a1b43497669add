import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { README_SECTIONS, readmeSection } from '../src/docs/readme-sections.ts';
import { ERROR_CODES } from '../src/errors/codes.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README generated sections', () => {
  for (const [name, render] of Object.entries(README_SECTIONS)) {
    it(`has the ${name} table generated from its declarations (npm run docs:config)`, () => {
      const section = readmeSection(readme, name);
      assert.ok(section !== null, `README.md has no <!-- ${name}:start --> … <!-- ${name}:end --> markers`);
      assert.equal(section, render(), `README.md’s ${name} table is stale: run \`npm run docs:config\``);
    });
  }

  it('lists every catalogued error code once, with a 4xx or 5xx status and a meaning', () => {
    const table = readmeSection(readme, 'errors') ?? '';
    for (const [code, { status, meaning }] of Object.entries(ERROR_CODES)) {
      assert.ok(status >= 400 && status < 600, `${code}: status ${status}`);
      assert.ok(meaning.length > 0, `${code} has no meaning`);
      assert.equal(table.split(`\`${code}\``).length - 1, 1, `${code} appears once in the table`);
    }
  });
});

describe('error codes in the OpenAPI descriptions', () => {
  it('names only catalogued codes', async () => {
    const { readdirSync } = await import('node:fs');
    const dir = new URL('../src/http/routes/', import.meta.url);
    const unknown: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(new URL(file, dir), 'utf8');
      for (const answer of text.matchAll(/ErrorAnswer\(\s*(['`"])([\s\S]*?)\1/g)) {
        for (const [, code] of answer[2]!.matchAll(/`([A-Z][A-Z0-9_]{3,})`/g)) {
          if (!Object.hasOwn(ERROR_CODES, code!)) unknown.push(`${file}: ${code}`);
        }
      }
    }
    assert.deepEqual(unknown, []);
  });
});
