/**
 * A real browser for the desk and widget tests: Debian's Chromium driven by playwright-core (no
 * browser download is possible here). `.ci/run` installs `chromium` when it is missing; where it
 * cannot be found, `browserSkipReason` says so and the browser tests skip with that reason.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why browser tests cannot run on this machine, or undefined when they can. */
export const browserSkipReason: string | undefined = existsSync(CHROMIUM_PATH)
  ? undefined
  : `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking'],
  });
}

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Builds the web apps (and the server bundle) when a source file is newer than the build. */
export function ensureWebBuilt(): void {
  execFileSync(process.execPath, [`${root}scripts/build.mjs`, '--if-stale'], { cwd: root, stdio: 'pipe' });
}

/** Where a test run writes screenshots for a person to look at (not committed). */
export function screenshotPath(name: string): string {
  const dir = `${root}test-results`;
  mkdirSync(dir, { recursive: true });
  return `${dir}/${name}.png`;
}
