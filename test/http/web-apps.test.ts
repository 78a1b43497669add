/**
 * Serving the built web apps (src/http/plugins/web-apps.ts) from a temporary `dist/web`: files with
 * their cache headers, the single-page-app fallback, the root files, and the 503 of an app that was
 * not built.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerErrorHandling } from '../../src/http/plugins/errors.ts';
import { registerWebApps } from '../../src/http/plugins/web-apps.ts';

let dir: string;
let app: FastifyInstance;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'omniline-web-'));
  mkdirSync(path.join(dir, 'desk', 'assets'), { recursive: true });
  writeFileSync(path.join(dir, 'desk', 'index.html'), '<!doctype html><title>desk</title>');
  writeFileSync(path.join(dir, 'desk', 'assets', 'app-1a2b.js'), 'console.log("desk")');
  mkdirSync(path.join(dir, 'widget'));
  writeFileSync(path.join(dir, 'widget', 'widget.js'), 'console.log("widget")');
  app = Fastify();
  registerErrorHandling(app);
  await registerWebApps(
    app,
    [
      { name: 'desk' },
      { name: 'widget', rootFiles: ['widget.js'] },
      { name: 'missing', rootFiles: ['m.js'] },
    ],
    `${dir}/`,
  );
  await app.ready();
});

after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the app index is served at /<name>/ and is never cached', async () => {
  const res = await app.inject({ url: '/desk/' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /text\/html/);
  assert.equal(res.headers['cache-control'], 'no-cache');
  assert.match(res.body, /<title>desk<\/title>/);
});

test('/<name> without the slash reaches the index', async () => {
  const res = await app.inject({ url: '/desk' });
  if (res.statusCode === 200) assert.match(res.body, /<title>desk<\/title>/);
  else {
    assert.ok([301, 302].includes(res.statusCode), `status ${res.statusCode}`);
    assert.equal(res.headers.location, '/desk/');
  }
});

test('a hashed asset is served with a long cache lifetime', async () => {
  const res = await app.inject({ url: '/desk/assets/app-1a2b.js' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, 'console.log("desk")');
  assert.equal(res.headers['cache-control'], 'public, max-age=3600');
});

test('a client-side route gets the index; a missing file with an extension is a 404', async () => {
  const route = await app.inject({ url: '/desk/chats/123' });
  assert.equal(route.statusCode, 200);
  assert.match(route.body, /<title>desk<\/title>/);
  assert.equal(route.headers['cache-control'], 'no-cache');

  const missing = await app.inject({ url: '/desk/assets/nope.js' });
  assert.equal(missing.statusCode, 404);
});

test('a root file of an app is served at the site root', async () => {
  const res = await app.inject({ url: '/widget.js' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, 'console.log("widget")');
  assert.equal(res.headers['cache-control'], 'public, max-age=300');
});

test('an app that was not built answers 503 WEB_APP_NOT_BUILT in the error shape, on every path', async () => {
  for (const url of ['/missing', '/missing/', '/missing/some/route', '/m.js']) {
    const res = await app.inject({ url });
    assert.equal(res.statusCode, 503, url);
    const body = res.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'WEB_APP_NOT_BUILT', url);
    assert.match(body.error.message, /npm run build/);
  }
});
