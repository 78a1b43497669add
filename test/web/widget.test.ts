/**
 * The live-chat widget in a real browser (Debian's Chromium through playwright-core) against a real
 * server on PGlite. Host pages on a local server of their own (another origin than Omniline's) embed
 * the one tag; the operator works through the API and the official `centrifuge` Node client.
 * Screenshots of the launcher, the open panel and the offline form go to test-results/.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { queryRows } from '../../src/db/client.ts';
import { identityHash } from '../../src/providers/livechat/visitor-token.ts';
import { startTestApp, type TestContext } from '../helpers/app.ts';
import { browserSkipReason, ensureWebBuilt, launchBrowser, screenshotPath } from '../helpers/browser.ts';
import { createChannel, createLine, createUser } from '../helpers/factories.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectOperator, type OperatorApp } from '../live/operator-client.ts';

const PUBLIC_URL = 'http://omniline.test';
const IDENTITY_SECRET = 'widget-identity-secret-0123';
/** A 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** A site that embeds the widget: pages by path, each the tag plus what the test puts around it. */
class HostSite {
  readonly pages = new Map<string, string>();
  private constructor(
    private readonly server: Server,
    readonly origin: string,
  ) {}

  static async start(): Promise<HostSite> {
    let site: HostSite | undefined;
    const server = createServer((req, res) => {
      const html = site?.pages.get(new URL(req.url ?? '/', 'http://x').pathname);
      res.writeHead(html ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html ?? 'not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    site = new HostSite(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return site;
  }

  page(path: string, opts: { omniline: string; channelId: string; head?: string; body?: string }): string {
    this.pages.set(
      path,
      `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>${opts.head ?? ''}</head>
<body><main style="padding:24px;font:16px Georgia,serif">Welcome to the shop.</main>${opts.body ?? ''}
<script src="${opts.omniline}/widget.js" data-channel="${opts.channelId}" async></script></body></html>`,
    );
    return `${this.origin}${path}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Every rule a careless (or hostile) site might have that could reach an embedded widget. */
const HOSTILE_CSS = `<style>
  html { font-size: 40px !important; }
  body { font: italic 30px/5 'Comic Sans MS', cursive !important; color: #f0f !important; letter-spacing: 3px !important; text-transform: uppercase !important; }
  body > *:not(main) { display: none !important; transform: scale(0.5) rotate(10deg) !important; filter: invert(1) !important; opacity: 0.2 !important; }
  omniline-widget { display: none !important; all: unset !important; }
  div, section, header, form, p, span, h2, button, input, textarea, label, svg, path {
    margin: 30px !important; padding: 30px !important; border: 6px dashed red !important;
    background: lime !important; color: red !important; font-size: 40px !important; border-radius: 0 !important;
    width: 10px !important; position: static !important; display: inline !important; box-shadow: none !important;
  }
  :root, * { --ol-color: #00ff00; --ol-text: #ff0000; --ol-gap: 300px; }
  *, *::before, *::after { box-sizing: content-box !important; }
</style>`;

const messageCount = async (ctx: TestContext, channelId: string, text: string) => {
  const [row] = await queryRows<{ n: number }>(
    ctx.db,
    sql`SELECT count(*)::int AS n FROM messages WHERE channel_id = ${channelId} AND text = ${text}`,
  );
  return Number(row?.n ?? 0);
};

describe('live-chat widget in a browser [pglite]', { skip: browserSkipReason }, () => {
  let ctx: TestContext;
  let browser: Browser;
  let site: HostSite;
  let foreign: HostSite;
  before(async () => {
    ensureWebBuilt();
    site = await HostSite.start();
    foreign = await HostSite.start();
    ctx = await startTestApp('pglite', {
      listen: true,
      background: true,
      presenceGraceMs: 300,
      publicUrl: PUBLIC_URL,
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await ctx?.close();
    await site?.close();
    await foreign?.close();
  });

  const contexts: BrowserContext[] = [];
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
  });
  async function visit(
    url: string,
    opts: { locale?: string } = {},
  ): Promise<{ page: Page; context: BrowserContext }> {
    const context = await browser.newContext({
      viewport: { width: 1000, height: 720 },
      locale: opts.locale ?? 'en-US',
    });
    contexts.push(context);
    // The server's public URL (its signed file links) is http://omniline.test: this browser's way there.
    await context.route(`${PUBLIC_URL}/**`, (route) =>
      route.continue({ url: route.request().url().replace(PUBLIC_URL, ctx.url!) }),
    );
    const page = await context.newPage();
    await page.goto(url);
    return { page, context };
  }

  async function world(settings: Record<string, unknown> = {}) {
    const operator = await createUser(ctx, 'operator', { name: 'Olga Operator' });
    const line = await createLine(ctx, { operatorIds: [operator.id] });
    const channel = await createChannel(ctx, line.id, 'livechat', {
      settings: {
        allowedOrigins: [site.origin],
        identitySecret: IDENTITY_SECRET,
        title: 'Shop help',
        greeting: 'Hi! Ask us anything.',
        color: '#0b7a75',
        prechatFields: ['name', 'email', 'message'],
        ...settings,
      },
    });
    return { operator, line, channel };
  }

  it('carries a conversation both ways: pre-chat, typing, read receipts, history after a reload, a network drop, the rating', async () => {
    const { operator, channel } = await world();
    const desk: OperatorApp = await connectOperator(ctx.url!, operator.token);
    const url = site.page('/pricing', { omniline: ctx.url!, channelId: channel.id });
    const { page, context } = await visit(url);

    // The launcher; the open panel with the channel's title, greeting and pre-chat form.
    const launcher = page.getByRole('button', { name: 'Open the chat' });
    await launcher.waitFor();
    await page.screenshot({ path: screenshotPath('widget-01-launcher') });
    await launcher.click();
    const panel = page.getByRole('dialog', { name: 'Shop help' });
    await panel.waitFor();
    await panel.getByText('Hi! Ask us anything.').waitFor();
    await page.getByTestId('status').getByText('We reply in a few minutes').waitFor();
    assert.equal(await page.getByTestId('prechat-form').isVisible(), true);
    await page.screenshot({ path: screenshotPath('widget-02-prechat') });

    // The form says what is missing, next to the field, before anything is sent.
    await page.getByRole('button', { name: 'Start the chat' }).click();
    await page.getByLabel('E-mail').and(page.locator('[aria-invalid="true"]')).waitFor();
    await page.getByLabel('Name').fill('Vera <b>Visitor</b>');
    await page.getByLabel('E-mail').fill('vera@example.com');
    await page.getByLabel('Message').fill('Hello <img src=x onerror=alert(1)> there');
    await page.getByRole('button', { name: 'Start the chat' }).click();

    // The operator is offered the session with the pre-chat answers and the page it came from.
    const started = await desk.waitForEvent('chatSessionStarted', () => true, 10_000);
    assert.equal(started.data.channel, 'livechat');
    assert.equal(started.data.name, 'Vera <b>Visitor</b>');
    assert.equal(started.data.pageUrl, url);
    const sessionId = started.data.id as string;
    await desk.waitForEvent('chatMessageCreated', (d) => d.message.text.startsWith('Hello <img'));
    await page.getByTestId('visitor-message').getByText('Hello <img src=x onerror=alert(1)> there').waitFor();
    assert.equal(await page.locator('img[src="x"]').count(), 0, 'a visitor text is text, never HTML');

    // Typing both ways.
    await page.getByTestId('composer').pressSequentially('I have a question');
    await desk.waitForEvent('typing', (d) => d.from === 'client' && d.sessionId === sessionId);
    await waitFor(
      async () =>
        (await ctx.request('GET', `/api/v1/sessions/${sessionId}`)).body.state === 'AssignedToOperator',
      10_000,
      'the session assigned',
    );
    await page.getByTestId('title').getByText('Olga Operator').waitFor();
    await page.getByTestId('avatar').getByText('OO').waitFor();
    await desk.centrifuge.rpc('typing', { sessionId });
    await page.getByTestId('typing').getByText('Olga Operator is typing…').waitFor();

    // The reply shows with the operator's name; HTML in it stays text. The open panel reads it.
    const reply = await ctx.request('POST', `/api/v1/sessions/${sessionId}/messages`, {
      token: operator.token,
      body: { text: 'How can I <b>help</b>?' },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    await page.getByTestId('operator-message').getByText('How can I <b>help</b>?').waitFor();
    assert.equal(await page.getByTestId('typing').count(), 0, 'the reply ends the typing indicator');
    assert.equal(await page.locator('b').count(), 0);
    await desk.waitForEvent('chatMessageRead', (d) => d.sessionId === sessionId);

    // The visitor's message is sent with Enter; the operator reads: the visitor sees "Read".
    await page.getByTestId('composer').press('Enter');
    await desk.waitForEvent('chatMessageCreated', (d) => d.message.text === 'I have a question');
    await ctx.request('POST', `/api/v1/sessions/${sessionId}/read`, { token: operator.token });
    await page.locator('[data-testid="receipt"][data-state="read"]').last().waitFor();
    await page.screenshot({ path: screenshotPath('widget-03-conversation') });

    // With the panel closed, a reply is an unread badge on the launcher; opening clears it.
    await page.getByTestId('close').click();
    await ctx.request('POST', `/api/v1/sessions/${sessionId}/messages`, {
      token: operator.token,
      body: { text: 'Are you still there?' },
    });
    await page.getByTestId('unread').getByText('1').waitFor();
    await page.getByRole('button', { name: /Open the chat \(1 unread\)/ }).click();
    await page.getByTestId('operator-message').getByText('Are you still there?').waitFor();
    assert.equal(await page.getByTestId('unread').count(), 0);

    // A reload: the history is there (and the panel stays open).
    await page.reload();
    const messages = page.getByTestId('messages');
    await messages.getByText('How can I <b>help</b>?').waitFor();
    await messages.getByText('Hello <img src=x onerror=alert(1)> there').waitFor();
    await messages.getByText('Are you still there?').waitFor();

    // An image: checked here first (type), uploaded, sent; the operator gets it, the visitor sees it.
    await page.getByTestId('file-input').setInputFiles({
      name: 'evil.html',
      mimeType: 'text/html',
      buffer: Buffer.from('<script>alert(1)</script>'),
    });
    await page.getByTestId('notice').getByText('This kind of file cannot be sent').waitFor();
    await page.getByTestId('composer').fill('My screenshot');
    await page
      .getByTestId('file-input')
      .setInputFiles({ name: 'shot.png', mimeType: 'image/png', buffer: PNG });
    const withFile = await desk.waitForEvent(
      'chatMessageCreated',
      (d) => d.message.text === 'My screenshot',
      10_000,
    );
    assert.equal(withFile.data.message.attachments[0].mimeType, 'image/png');
    const img = page.getByTestId('visitor-message').getByRole('img', { name: 'shot.png' });
    await img.waitFor();
    await waitFor(
      () => img.evaluate((el) => (el as any).complete && (el as any).naturalWidth === 1),
      10_000,
      'the image loaded from its signed link',
    );

    // A response lost on the way back: the widget resends the same uuid; the server stores it once.
    let dropped = 0;
    await page.route('**/livechat/*/messages', async (route) => {
      const body = route.request().postDataJSON() as { event?: string } | null;
      if (route.request().method() === 'POST' && body?.event === 'message' && dropped === 0) {
        dropped++;
        await route.fetch(); // the server has it…
        return route.abort('connectionreset'); // …the page never hears so
      }
      return route.continue();
    });
    await page.getByTestId('composer').fill('Did you get this?');
    await page.getByTestId('composer').press('Enter');
    await waitFor(() => dropped === 1, 5000, 'the dropped response');
    await waitFor(
      async () => (await page.locator('[data-testid="receipt"][data-state="sending"]').count()) === 0,
      15_000,
      'the resend acknowledged',
    );
    await page.unroute('**/livechat/*/messages');
    assert.equal(await messageCount(ctx, channel.id, 'Did you get this?'), 1);

    // The network drops: messages written meanwhile wait, then arrive exactly once; the operator's
    // reply sent during the drop reaches the visitor when it is back.
    await context.setOffline(true);
    await page.getByTestId('composer').fill('Offline one');
    await page.getByTestId('composer').press('Enter');
    await page.getByTestId('composer').fill('Offline two');
    await page.getByTestId('composer').press('Enter');
    await page.locator('[data-testid="receipt"][data-state="sending"]').first().waitFor();
    await ctx.request('POST', `/api/v1/sessions/${sessionId}/messages`, {
      token: operator.token,
      body: { text: 'Sent while you were away' },
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await messageCount(ctx, channel.id, 'Offline one'), 0, 'nothing leaves while offline');
    await context.setOffline(false);
    await waitFor(
      async () =>
        (await messageCount(ctx, channel.id, 'Offline one')) === 1 &&
        (await messageCount(ctx, channel.id, 'Offline two')) === 1,
      20_000,
      'the offline messages stored',
    );
    await messages.getByText('Sent while you were away').waitFor({ timeout: 20_000 });
    await waitFor(
      async () => (await page.locator('[data-testid="receipt"][data-state="sending"]').count()) === 0,
      10_000,
      'every message acknowledged',
    );
    await new Promise((r) => setTimeout(r, 1000));
    for (const text of ['Offline one', 'Offline two', 'Did you get this?'])
      assert.equal(await messageCount(ctx, channel.id, text), 1, `${text} stored once`);
    assert.equal(await messages.getByText('Offline one').count(), 1, 'shown once');

    // The operator ends the session: the visitor rates it; the rating is stored on the session.
    const closed = await ctx.request('POST', `/api/v1/sessions/${sessionId}/close`, {
      token: operator.token,
      body: {},
    });
    assert.ok(closed.status < 300, JSON.stringify(closed.body));
    await page.getByTestId('rating').waitFor();
    await page.getByRole('button', { name: '4 of 5' }).click();
    await page.getByPlaceholder('A comment (optional)').fill('Quick and kind');
    await page.getByRole('button', { name: 'Send rating' }).click();
    await page.getByTestId('rating-thanks').waitFor();
    const [rated] = await queryRows<{ rating: number; comment: string }>(
      ctx.db,
      sql`SELECT rating, comment FROM session_ratings WHERE session_id = ${sessionId}`,
    );
    assert.deepEqual({ ...rated }, { rating: 4, comment: 'Quick and kind' });
    desk.close();
  });

  it('shows the offline form when nobody is online; it becomes a session all the same', async () => {
    const line = await createLine(ctx, { operatorIds: [] });
    const channel = await createChannel(ctx, line.id, 'livechat', {
      settings: { allowedOrigins: [site.origin], title: 'Поддержка', language: 'ru', color: '#f5c518' },
    });
    const { page } = await visit(site.page('/offline', { omniline: ctx.url!, channelId: channel.id }));
    await page.getByRole('button', { name: 'Открыть чат' }).click();
    const form = page.getByTestId('offline-form');
    await form.waitFor();
    await page.getByTestId('status').getByText('Сейчас нас нет на месте').waitFor();
    await page.getByLabel('Имя').fill('Пётр');
    await page.getByLabel('E-mail').fill('petr@example.com');
    await page.getByLabel('Сообщение').fill('Перезвоните мне, пожалуйста');
    await page.screenshot({ path: screenshotPath('widget-04-offline-form') });
    await page.getByRole('button', { name: 'Отправить' }).click();
    await page.getByTestId('offline-thanks').waitFor();
    await waitFor(
      async () => (await messageCount(ctx, channel.id, 'Перезвоните мне, пожалуйста')) === 1,
      10_000,
      'the offline message stored',
    );
    const [session] = await queryRows<{ email: string | null }>(
      ctx.db,
      sql`SELECT c.email FROM sessions s JOIN clients c ON c.id = s.client_id WHERE s.channel_id = ${channel.id}`,
    );
    assert.equal(session?.email, 'petr@example.com', 'a session was opened, with the e-mail to reply to');
  });

  it('refuses a wrong identity hash and keeps a verified visitor one client on two devices', async () => {
    const { operator, channel } = await world({ prechatFields: [] });
    const desk = await connectOperator(ctx.url!, operator.token);
    const settings = (hash: string) =>
      `<script>window.omnilineSettings = { identity: { id: 'user-7', name: 'Ivan', email: 'ivan@example.com', hash: '${hash}' } };</script>`;
    const wrong = await visit(
      site.page('/wrong-identity', {
        omniline: ctx.url!,
        channelId: channel.id,
        head: settings(identityHash('not-the-secret-00000000', 'user-7')),
      }),
    );
    await wrong.page.getByRole('button', { name: 'Open the chat' }).click();
    await wrong.page.getByTestId('problem').getByText('We could not confirm who you are').waitFor();
    assert.equal(await wrong.page.getByTestId('composer').count(), 0);

    const right = site.page('/identity', {
      omniline: ctx.url!,
      channelId: channel.id,
      head: settings(identityHash(IDENTITY_SECRET, 'user-7')),
    });
    const laptop = await visit(right);
    await laptop.page.getByRole('button', { name: 'Open the chat' }).click();
    await laptop.page.getByTestId('composer').fill('Written on the laptop');
    await laptop.page.getByTestId('composer').press('Enter');
    await laptop.page.locator('[data-testid="receipt"][data-state="sent"]').waitFor();
    const phone = await visit(right);
    await phone.page.getByRole('button', { name: 'Open the chat' }).click();
    await phone.page.getByTestId('messages').getByText('Written on the laptop').waitFor();
    const [client] = await queryRows<{ external_id: string; email: string | null }>(
      ctx.db,
      sql`SELECT external_id, email FROM clients WHERE channel_id = ${channel.id}`,
    );
    assert.equal(client?.external_id, 'u:user-7', 'the verified user, not an anonymous visitor');
    desk.close();
  });

  it('draws nothing on a page of a foreign origin, whose requests the server refuses', async () => {
    const { channel } = await world();
    const { page } = await visit(foreign.page('/elsewhere', { omniline: ctx.url!, channelId: channel.id }));
    const warned = page.waitForEvent(
      'console',
      (m) => m.type() === 'warning' && /omniline widget/.test(m.text()),
    );
    await page.goto(`${foreign.origin}/elsewhere`);
    assert.match((await warned).text(), /could not load its settings/);
    assert.equal(await page.getByTestId('launcher').count(), 0);
    const refused = await page.evaluate(
      async ([base, id]) => {
        try {
          const res = await fetch(`${base}/livechat/${id}/visitors`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          });
          return `status ${res.status}`;
        } catch (err) {
          return `refused: ${(err as Error).name}`;
        }
      },
      [ctx.url!, channel.id] as const,
    );
    assert.equal(refused, 'refused: TypeError', 'the browser is given no CORS permission');
    const [row] = await queryRows<{ n: number }>(
      ctx.db,
      sql`SELECT count(*)::int AS n FROM clients WHERE channel_id = ${channel.id}`,
    );
    assert.equal(Number(row?.n ?? 0), 0, 'no visitor was made');
  });

  it("is not changed by the host page's CSS (screenshots compared)", async () => {
    const { operator, channel } = await world();
    const desk = await connectOperator(ctx.url!, operator.token);
    const shoot = async (path: string, head: string) => {
      const { page } = await visit(site.page(path, { omniline: ctx.url!, channelId: channel.id, head }));
      const clip = { x: 560, y: 60, width: 440, height: 660 };
      await page.getByTestId('launcher').waitFor();
      const closed = await page.screenshot({ clip, animations: 'disabled' });
      await page.getByTestId('launcher').click();
      await page.getByTestId('prechat-form').waitFor();
      await page.getByText('We reply in a few minutes').waitFor();
      const open = await page.screenshot({ clip, animations: 'disabled' });
      return { page, closed, open };
    };
    const plain = await shoot('/plain', '');
    const hostile = await shoot('/hostile', HOSTILE_CSS);
    await hostile.page.screenshot({ path: screenshotPath('widget-05-hostile-css') });
    assert.ok(plain.closed.equals(hostile.closed), 'the launcher looks the same on the hostile page');
    assert.ok(plain.open.equals(hostile.open), 'the open panel looks the same on the hostile page');
    // …and the widget's styles do not leak out: the page's own text keeps its font.
    const font = await plain.page
      .locator('main')
      .evaluate((el) => (globalThis as any).getComputedStyle(el).fontFamily);
    assert.match(font, /Georgia/);
    desk.close();
  });
});
