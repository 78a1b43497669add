/**
 * The README's generated sections: each sits between `<!-- name:start -->` and `<!-- name:end -->`
 * and is rendered from the one declaration it documents. `npm run docs:config` rewrites them;
 * test/docs.test.ts fails when the README differs.
 */
import { configTable } from '../config.ts';
import { errorTable } from '../errors/codes.ts';

export const README_SECTIONS: Record<string, () => string> = {
  config: configTable,
  errors: errorTable,
};

const markers = (name: string) =>
  new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(\\n<!-- ${name}:end -->)`);

/** The section's current text in `readme`, or null when its markers are missing. */
export function readmeSection(readme: string, name: string): string | null {
  const found = markers(name).exec(readme);
  return found ? found[0].slice(found[1]!.length, found[0].length - found[2]!.length) : null;
}

/** `readme` with every section rendered afresh; throws naming a section whose markers are missing. */
export function renderReadme(readme: string): string {
  let next = readme;
  for (const [name, render] of Object.entries(README_SECTIONS)) {
    if (readmeSection(next, name) === null) {
      throw new Error(`README.md has no <!-- ${name}:start --> … <!-- ${name}:end --> markers`);
    }
    next = next.replace(markers(name), (_all, start: string, end: string) => `${start}${render()}${end}`);
  }
  return next;
}
