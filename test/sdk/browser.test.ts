/**
 * @omniline/sdk in a browser bundle: sdk/src/index.ts bundled by esbuild for the browser platform
 * (nothing of Node's may be in it: no `node:` module, no runner, no CLI), loaded into real Chromium on
 * the server's origin, searching over the page's own `fetch`, getting typed errors, and following the
 * live events over the browser's WebSocket with the bundled `centrifuge` client.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { describeEachDatabase } from '../helpers/app.ts';
import { browserSkipReason, launchBrowser } from '../helpers/browser.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import { apiWebhook, clientMessage } from '../helpers/webhooks.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The SDK as a browser script defining `Omniline`, and the files it was made of. */
async function bundle(): Promise<{ code: string; inputs: string[] }> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['sdk/src/index.ts'],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'Omniline',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs) };
}

declare const Omniline: typeof import('../../sdk/src/index.ts');

if (browserSkipReason)
  it('runs the SDK bundled for a browser, in Chromium', { skip: browserSkipReason }, () => {});
else
  describeEachDatabase(
    'the SDK bundled for a browser, in Chromium',
    (ctx) => {
      let browser: Browser | undefined;
      let page: Page;
      let sdk: { code: string; inputs: string[] };

      before(async () => {
        sdk = await bundle();
        browser = await launchBrowser();
        page = await browser.newPage();
        // The page lives on the server's origin, as an app served beside the API would.
        await page.goto(`${ctx().url}/healthz`);
        await page.addScriptTag({ content: sdk.code });
      });
      after(async () => {
        await browser?.close();
      });

      it('bundles for the browser platform with nothing of Node in it', () => {
        const outside = sdk.inputs.filter((f) => !f.startsWith('sdk/src/'));
        for (const f of outside) {
          assert.match(
            f,
            /node_modules\/(centrifuge\/build\/index\.mjs|ws\/browser\.js)$/,
            `${f} in the bundle`,
          );
        }
        assert.ok(sdk.inputs.includes('sdk/src/live.ts'));
        assert.ok(
          !sdk.inputs.some((f) => /sdk\/src\/(runner|cli\/)/.test(f)),
          'no runner or CLI in the bundle',
        );
        assert.doesNotMatch(sdk.code, /["']node:[a-z]/);
      });

      it('searches, fetches and gets typed errors through the page’s fetch', async () => {
        const line = await createLine(ctx(), { name: unique('browser line') });
        const answer = await page.evaluate(
          async ({ url, token, name }) => {
            const System = Omniline.createSystem({ url, token });
            const found = await System.lines.lines
              .search()
              .where((f, g) => g.and(f.__deletedAt.eq(null), f.__name.eq(name)))
              .first();
            const missing = await System.lines.sessions
              .fetch('00000000-0000-4000-8000-000000000000')
              .catch((e: unknown) => e);
            return {
              id: found.id,
              name: found.data.__name,
              count: await System.lines.lines.search().count(),
              error:
                missing instanceof Omniline.OmnilineError
                  ? { code: missing.code, status: missing.status, name: missing.name }
                  : String(missing),
              userAgent: (globalThis as unknown as { navigator: { userAgent: string } }).navigator.userAgent,
            };
          },
          { url: ctx().url!, token: ctx().adminToken, name: line.name },
        );
        assert.equal(answer.id, line.id);
        assert.equal(answer.name, line.name);
        assert.ok(answer.count >= 1);
        assert.deepEqual(answer.error, { code: 'SESSION_NOT_FOUND', status: 404, name: 'OmnilineError' });
        assert.match(answer.userAgent, /Chrome/);
      });

      it('connects System.live over the browser’s WebSocket and receives a typed event', async () => {
        const operator = await createUser(ctx(), 'operator');
        const line = await createLine(ctx(), { operatorIds: [operator.id] });
        const channel = await createChannel(ctx(), line.id, 'api');
        await page.evaluate(
          async ({ url, token }) => {
            const System = Omniline.createSystem({ url, token });
            const live = await System.live.connect();
            const timeout = new Promise<never>((_, reject) =>
              setTimeout(() => reject(new Error('no chatSessionStarted within 10 s')), 10_000),
            );
            (globalThis as Record<string, unknown>).started = Promise.race([
              live.next('chatSessionStarted'),
              timeout,
            ])
              .then((data) => ({ id: data.id, text: data.lastMessage?.text ?? null }))
              .finally(() => live.close());
          },
          { url: ctx().url!, token: operator.token },
        );
        const from = unique('browser-visitor');
        assert.equal(
          (await apiWebhook(ctx(), channel.id, clientMessage(from, 'hello from a browser'))).status,
          200,
        );
        const started = await page.evaluate(
          () =>
            (globalThis as Record<string, unknown>).started as Promise<{ id: string; text: string | null }>,
        );
        assert.equal(started.text, 'hello from a browser');
        const session = (await ctx().request('GET', `/api/v1/sessions/${started.id}`)).body;
        assert.equal(session.operatorId, operator.id);
      });
    },
    { listen: true, background: true },
  );
