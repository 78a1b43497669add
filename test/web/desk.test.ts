/**
 * The operator desk in a real browser (Debian's Chromium through playwright-core) against a real
 * server on PGlite: two operators and a supervisor, each in a browser context of their own; a
 * client writing through the api channel. Screenshots of each screen go to test-results/.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ApiCallbackServer } from '../fakes/api-callback.ts';
import { startTestApp, type TestContext } from '../helpers/app.ts';
import { browserSkipReason, ensureWebBuilt, launchBrowser, screenshotPath } from '../helpers/browser.ts';
import { createChannel, createLine, createUser, unique } from '../helpers/factories.ts';
import { startTcpProxy } from '../helpers/tcp-proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { API_SECRET, apiWebhook, clientMessage } from '../helpers/webhooks.ts';

/** Runs in the page (plain JavaScript: no TypeScript helpers there): labels, Tab reach, contrast. */
const PAGE_CHECKS = String.raw`function (ids) {
  var out = [];
  function shown(el) {
    var r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && getComputedStyle(el).visibility !== 'hidden';
  }
  var controls = document.querySelectorAll('button, select, textarea, input, a[href], [tabindex]');
  for (var el of controls) {
    if (el.disabled || el.tabIndex < 0) continue;
    var labelled = el.getAttribute('aria-label') || (el.labels && el.labels.length) ||
      el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim());
    if (!labelled) out.push('no label: ' + el.outerHTML.slice(0, 80));
    var focusable = shown(el) || el.classList.contains('sr-only');
    if (focusable && ids.indexOf(el.dataset.a11yId || '') < 0)
      out.push('not reached by Tab: ' + el.outerHTML.slice(0, 80));
  }
  function rgb(c) { return (c.match(/[\d.]+/g) || []).map(Number); }
  function lum(c) {
    var w = [0.2126, 0.7152, 0.0722], sum = 0;
    for (var i = 0; i < 3; i++) {
      var v = c[i] / 255;
      sum += w[i] * (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
    }
    return sum;
  }
  function background(el) {
    for (var e = el; e; e = e.parentElement) {
      var c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  }
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (var n = walker.nextNode(); n; n = walker.nextNode()) {
    var p = n.parentElement;
    if (!p || !n.textContent.trim() || !shown(p) || p.closest('.sr-only, option, [aria-hidden="true"]')) continue;
    var fg = lum(rgb(getComputedStyle(p).color)), bg = lum(background(p));
    var ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) out.push('contrast ' + ratio.toFixed(2) + ': "' + n.textContent.trim().slice(0, 30) + '"');
  }
  return out;
}`;

/**
 * What a keyboard-only, low-vision operator meets on the page now: controls Tab never reaches or
 * that show no focus, form fields without a label, text below 4.5:1 contrast (WCAG AA, computed
 * from the page's styles, against the first opaque background behind the text).
 */
async function accessibilityProblems(page: Page): Promise<string[]> {
  const problems: string[] = [];
  await page.evaluate('document.activeElement && document.activeElement.blur()');
  const reached = new Set<string>();
  let first: string | undefined;
  for (let i = 0; i < 300; i++) {
    await page.keyboard.press('Tab');
    const focus = (await page.evaluate(`(function () {
      var el = document.activeElement;
      if (!el || el === document.body) return null;
      if (!el.dataset.a11yId) el.dataset.a11yId = String(Math.random());
      var cs = getComputedStyle(el);
      var visible = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2) || cs.boxShadow !== 'none';
      return { id: el.dataset.a11yId, visible: visible, what: el.tagName + ' ' + el.textContent.trim().slice(0, 30) };
    })()`)) as { id: string; visible: boolean; what: string } | null;
    if (!focus) continue;
    // Round the page once: back at the first control reached (a date input takes several Tabs).
    if (focus.id === first) break;
    first ??= focus.id;
    if (reached.has(focus.id)) continue;
    reached.add(focus.id);
    if (!focus.visible) problems.push(`no visible focus: ${focus.what}`);
  }
  const found = (await page.evaluate(`(${PAGE_CHECKS})(${JSON.stringify([...reached])})`)) as string[];
  problems.push(...found);
  return [...new Set(problems)];
}

describe('operator desk in a browser [pglite]', { skip: browserSkipReason }, () => {
  let ctx: TestContext;
  let browser: Browser;
  let callback: ApiCallbackServer;
  before(async () => {
    ensureWebBuilt();
    callback = await ApiCallbackServer.start();
    ctx = await startTestApp('pglite', { listen: true, background: true });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await ctx?.close();
    await callback?.close();
  });

  async function signIn(login: string, base = ctx.url!): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${base}/desk/`);
    await page.getByLabel('Login').fill(login);
    await page.getByLabel('Password').fill('password-123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('status').waitFor();
    return page;
  }

  it('offers, accepts, replies, sees typing, transfers, notes, closes; supervises; a second login ends the first', async () => {
    const op1 = await createUser(ctx, 'operator', { name: 'Olga' });
    const op2 = await createUser(ctx, 'operator', { name: 'Pavel' });
    const sup = await createUser(ctx, 'supervisor', { name: 'Sam' });
    const line = await createLine(ctx, {
      operatorIds: [op1.id, op2.id, sup.id],
      queue: { routingRule: 'toAll' },
    });
    const channel = await createChannel(ctx, line.id, 'api', {
      settings: { secret: API_SECRET, callbackUrl: `${callback.url}/desk` },
    });

    const [p1, p2, ps] = [await signIn(op1.login), await signIn(op2.login), await signIn(sup.login)];
    for (const p of [p1, p2]) {
      await p.getByTestId('status').selectOption('online');
    }
    await waitFor(async () => {
      const s = await ctx.request('GET', '/api/v1/me/status', { token: op2.token });
      return s.body.status === 'online';
    });
    await p1.screenshot({ path: screenshotPath('desk-01-empty') });

    // A client writes; the offer shows live in both operators' desks. Their name is text, not HTML.
    const clientId = unique('client');
    const name = '<img src=x onerror=alert(1)> Ann';
    const hello = await apiWebhook(
      ctx,
      channel.id,
      clientMessage(clientId, 'Hello, I need help', { from: { id: clientId, name } }),
    );
    assert.equal(hello.status, 200);
    for (const p of [p1, p2]) {
      await p.getByTestId('list-offers').getByTestId('chat').first().waitFor();
      assert.equal(await p.getByTestId('list-offers').locator('.name').first().textContent(), name);
      assert.equal(await p.locator('img[src="x"]').count(), 0);
    }
    await p2.screenshot({ path: screenshotPath('desk-02-offer') });

    // Olga accepts; Pavel's offer disappears.
    await p1.getByTestId('list-offers').getByTestId('chat').first().click();
    await p1.getByTestId('accept').click();
    await p1.getByTestId('list-mine').getByTestId('chat').first().waitFor();
    await p2.getByTestId('list-offers').getByTestId('chat').waitFor({ state: 'detached' });
    await p1.getByTestId('composer').waitFor();

    // A reply, sent with Enter, reaches the client's callback.
    await p1.getByTestId('composer').fill('Hi Ann, how can I help?');
    await p1.getByTestId('composer').press('Enter');
    await waitFor(
      () => callback.requests.find((r) => r.body?.text === 'Hi Ann, how can I help?'),
      10_000,
      'the reply callback',
    );
    await p1.locator('[data-testid="bubble-out"][data-status="sent"]').first().waitFor();

    // The client types; Olga sees it.
    await apiWebhook(ctx, channel.id, { event: 'typing', from: { id: clientId } });
    await p1.getByTestId('client-typing').waitFor();
    await p1.screenshot({ path: screenshotPath('desk-03-conversation') });

    // An internal note: shown to staff, never delivered to the client.
    await p1.getByTestId('note-mode').click();
    await p1.getByTestId('composer').fill('VIP client, be quick');
    await p1.getByTestId('composer').press('Enter');
    await p1.getByTestId('bubble-note').waitFor();
    await p1.screenshot({ path: screenshotPath('desk-04-note') });

    // Transfer to Pavel: it leaves Olga's desk and arrives in his.
    await p1.getByTestId('transfer-target').selectOption({ label: 'Pavel' });
    await p1.getByTestId('transfer').click();
    await p1.getByTestId('list-mine').getByTestId('chat').waitFor({ state: 'detached' });
    await p2.getByTestId('list-mine').getByTestId('chat').first().click();
    await p2.getByTestId('bubble-note').getByText('VIP client, be quick').waitFor();
    await p2.screenshot({ path: screenshotPath('desk-05-transferred') });

    // Pavel closes it: it moves to "closed recently".
    await p2.getByTestId('close').click();
    await p2.getByTestId('list-closed').getByTestId('chat').first().waitFor();
    assert.equal(await p2.getByTestId('list-mine').getByTestId('chat').count(), 0);
    assert.ok(
      !callback.requests.some((r) => JSON.stringify(r.body ?? '').includes('VIP client')),
      'the note never reached the client',
    );

    // The supervisor sees the session in the line's sessions and in the metrics.
    await ps.getByTestId('to-supervision').click();
    await ps.getByTestId('sv-table').getByText(name).waitFor();
    await waitFor(
      async () => Number(await ps.getByTestId('metric-new').textContent()) >= 1,
      10_000,
      'metrics',
    );
    await ps.getByTestId('metric-operators').getByText('Pavel').waitFor();
    await ps.getByTestId('query').fill('state:Closed');
    await ps.getByRole('button', { name: 'Search' }).click();
    await ps.getByTestId('sv-table').getByText(name).waitFor();
    await ps.screenshot({ path: screenshotPath('desk-06-supervision') });

    // Olga signs in again elsewhere: the first desk is ended.
    const again = await signIn(op1.login);
    await p1.getByTestId('ended').waitFor();
    assert.match((await p1.getByTestId('ended').textContent()) ?? '', /signed in elsewhere/);
    await p1.screenshot({ path: screenshotPath('desk-07-signed-in-elsewhere') });
    await again.getByTestId('status').waitFor();
  });
  it('returns to the queue, edits canned replies, shows a failed send, an unreachable server, an expired token', {
    skip: 'FAILS on main since the final landings: after Send again the bubble never shows status sent (issue 18, open)',
  }, async () => {
    const op1 = await createUser(ctx, 'operator', { name: 'Vera' });
    const op2 = await createUser(ctx, 'operator', { name: 'Ivan' });
    const line = await createLine(ctx, { operatorIds: [op1.id, op2.id], queue: { routingRule: 'toAll' } });
    const channel = await createChannel(ctx, line.id, 'api', {
      settings: { secret: API_SECRET, callbackUrl: `${callback.url}/bad-states` },
    });
    // Ivan's desk goes through a proxy that can cut him off from the server.
    const port = Number(new URL(ctx.url!).port);
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const p1 = await signIn(op1.login);
      const p2 = await signIn(op2.login, `http://127.0.0.1:${proxy.port}`);
      for (const p of [p1, p2]) await p.getByTestId('status').selectOption('online');
      await waitFor(async () => {
        const s = await ctx.request('GET', '/api/v1/me/status', { token: op2.token });
        return s.body.status === 'online';
      });
      const clientId = unique('client');
      await apiWebhook(ctx, channel.id, clientMessage(clientId, 'Is anyone there?'));
      await p1.getByTestId('list-offers').getByTestId('chat').first().click();
      await p1.getByTestId('accept').click();
      await p1.getByTestId('list-mine').getByTestId('chat').first().waitFor();
      await p2.getByTestId('list-offers').getByTestId('chat').waitFor({ state: 'detached' });

      // Vera returns it to the queue: it leaves her desk and is offered to Ivan.
      await p1.getByTestId('return-to-queue').click();
      await p1.getByTestId('list-mine').getByTestId('chat').waitFor({ state: 'detached' });
      await p2.getByTestId('list-offers').getByTestId('chat').first().click();
      await p2.getByTestId('accept').click();
      await p2.getByTestId('list-mine').getByTestId('chat').first().waitFor();

      // Ivan's canned replies: add, edit, delete; then `/` inserts one.
      await p2.getByTestId('to-canned').click();
      for (const [shortcut, text] of [
        ['thanks', 'Thank you!'],
        ['tmp', 'to be deleted'],
      ]) {
        await p2.getByLabel('Shortcut').fill(shortcut!);
        await p2.getByLabel('Text').fill(text!);
        await p2.getByTestId('canned-save').click();
        await p2.getByTestId('canned-item').getByText(text!).waitFor();
      }
      await p2
        .getByTestId('canned-item')
        .filter({ hasText: 'Thank you!' })
        .getByTestId('canned-edit')
        .click();
      await p2.getByLabel('Text').fill('Thank you for waiting!');
      await p2.getByTestId('canned-save').click();
      await p2.getByTestId('canned-item').getByText('Thank you for waiting!').waitFor();
      await p2
        .getByTestId('canned-item')
        .filter({ hasText: 'to be deleted' })
        .getByTestId('canned-delete')
        .click();
      await waitFor(async () => (await p2.getByTestId('canned-item').count()) === 1);
      await p2.screenshot({ path: screenshotPath('desk-08-canned-replies') });
      await p2.getByTestId('to-canned').click();
      await p2.getByTestId('list-mine').getByTestId('chat').first().click();
      await p2.getByTestId('composer').fill('/tha');
      await p2.getByTestId('canned').waitFor();
      await p2.getByTestId('composer').press('Enter');
      assert.equal(await p2.getByTestId('composer').inputValue(), 'Thank you for waiting!');

      // The client's endpoint refuses the reply: marked failed with the reason; retry sends it.
      callback.answerNext({ status: 400, body: { error: 'rejected by the client app' } });
      await p2.getByTestId('composer').press('Enter');
      const failed = p2.locator('[data-testid="bubble-out"][data-status="failed"]');
      await failed.waitFor({ timeout: 15_000 });
      assert.match((await failed.getByRole('alert').textContent()) ?? '', /Not sent: .+/);
      await p2.screenshot({ path: screenshotPath('desk-09-send-failed') });
      await failed.getByRole('button', { name: 'Send again' }).click();
      await p2.locator('[data-testid="bubble-out"][data-status="sent"]').first().waitFor({ timeout: 15_000 });
      await waitFor(
        () => callback.requests.filter((r) => r.body?.text === 'Thank you for waiting!').length >= 2,
      );

      // The server becomes unreachable: a banner; back, the lists are read again from REST.
      const reads: string[] = [];
      p2.on('request', (r) => {
        if (r.url().includes('/desk/chats?list=')) reads.push(r.url());
      });
      proxy.refuse();
      await p2.getByTestId('unreachable').waitFor();
      await apiWebhook(ctx, channel.id, clientMessage(clientId, 'Hello? Still there?'));
      await p2.screenshot({ path: screenshotPath('desk-10-unreachable') });
      proxy.heal();
      await p2.getByTestId('unreachable').waitFor({ state: 'detached', timeout: 15_000 });
      await waitFor(() => reads.length >= 3, 10_000, 'the lists read again');
      await p2.getByTestId('messages').getByText('Hello? Still there?').waitFor();

      // The token is refused (expired): back to the sign-in with a message.
      await p1.route('**/api/v1/**', (route) =>
        route.fulfill({
          status: 401,
          contentType: 'application/json',
          body: JSON.stringify({ error: { code: 'UNAUTHORIZED', message: 'the token has expired' } }),
        }),
      );
      await p1.getByTestId('status').selectOption('away');
      await p1.getByTestId('ended').waitFor();
      assert.match((await p1.getByTestId('ended').textContent()) ?? '', /expired/);
      await p1.getByRole('button', { name: 'Sign in' }).click();
      await p1.getByLabel('Login').waitFor();
    } finally {
      await proxy.close();
    }
  });
  it('works by keyboard alone, with labels, visible focus and AA contrast on the main screens', async () => {
    const op = await createUser(ctx, 'operator', { name: 'Kira' });
    const sup = await createUser(ctx, 'supervisor', { name: 'Sonia' });
    const line = await createLine(ctx, { operatorIds: [op.id, sup.id], queue: { routingRule: 'toAll' } });
    const channel = await createChannel(ctx, line.id, 'api', {
      settings: { secret: API_SECRET, callbackUrl: `${callback.url}/a11y` },
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${ctx.url}/desk/`);
    // The checks catch what they look for: grey on white, an unlabelled field, a focus ring removed.
    await page.evaluate(`document.body.insertAdjacentHTML('beforeend',
      '<div id="bad"><p style="color:#999;background:#fff">faint</p><input><button style="outline:none">x</button></div>')`);
    const caught = await accessibilityProblems(page);
    assert.ok(
      caught.some((p) => p.startsWith('contrast 2.85: "faint"')),
      caught.join('\n'),
    );
    assert.ok(
      caught.some((p) => p.startsWith('no label: <input data-a11y-id=')),
      caught.join('\n'),
    );
    assert.ok(
      caught.some((p) => p === 'no visible focus: BUTTON x'),
      caught.join('\n'),
    );
    await page.evaluate(`document.getElementById('bad').remove()`);
    assert.deepEqual(await accessibilityProblems(page), [], 'the sign-in screen');
    // Signing in by keyboard alone.
    await page.getByLabel('Login').focus();
    await page.keyboard.type(op.login);
    await page.keyboard.press('Tab');
    await page.keyboard.type('password-123');
    await page.keyboard.press('Enter');
    await page.getByTestId('status').waitFor();
    await page.getByTestId('status').selectOption('online');
    await apiWebhook(ctx, channel.id, clientMessage(unique('k'), 'Hello from the keyboard test'));
    const offer = page.getByTestId('list-offers').getByTestId('chat').first();
    await offer.focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('accept').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('composer').waitFor();
    assert.deepEqual(await accessibilityProblems(page), [], 'the workspace with a conversation');
    await page.getByTestId('to-canned').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('canned-editor').waitFor();
    assert.deepEqual(await accessibilityProblems(page), [], 'the canned replies editor');
    const ps = await signIn(sup.login);
    await ps.getByTestId('to-supervision').click();
    await ps.getByTestId('sv-table').waitFor();
    assert.deepEqual(await accessibilityProblems(ps), [], 'supervision');
  });
});
