/**
 * The README's "Quickstart with curl" runs as written: its shell block, taken from README.md itself
 * (only the ports changed to free ones), against the real server as a child process started with the
 * README's admin password — on the embedded database, as `npm start` runs it on a laptop. Every step
 * must answer without an error object, the receiver must print the operator's reply, and the reply
 * must be stored as sent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { freePort, startServer, stopAllServers } from './helpers/server-process.ts';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The first ```sh block after `marker`. */
function shellBlockAfter(marker: string): string {
  const from = README.indexOf(marker);
  assert.ok(from >= 0, `README has "${marker}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(from));
  assert.ok(block, `a sh block follows "${marker}"`);
  return block[1]!;
}

function runBash(script: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-eu', '-o', 'pipefail', '-c', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('README quickstart', () => {
  after(() => stopAllServers());

  it('runs as written against a fresh server: a line, an api channel, a signed webhook, a reply delivered, a close', async () => {
    const start = shellBlockAfter('## Quickstart with curl');
    const password = /OMNILINE_ADMIN_PASSWORD=(\S+)/.exec(start)?.[1];
    assert.ok(password, 'the start command sets the admin password');
    const server = await startServer({ adminPassword: password, env: { LOG_LEVEL: 'warn' } });
    const receiverPort = await freePort();
    const script = shellBlockAfter('In another terminal:')
      .replaceAll('localhost:8080', `127.0.0.1:${server.port}`)
      .replaceAll('localhost:9090', `127.0.0.1:${receiverPort}`)
      .replaceAll('listen(9090)', `listen(${receiverPort})`);
    assert.notEqual(script.includes('8080') || script.includes('9090'), true, 'every port was replaced');

    const { code, out } = await runBash(script);
    assert.equal(code, 0, out);
    assert.doesNotMatch(out, /"error":\{/, out);
    // The receiver printed the signed callback with the operator's reply.
    assert.match(out, /callback: .*"text":"Hi Ann!"/, out);
    // The session it made is closed, and the reply in it was sent.
    assert.match(out, /"state":"Closed"/, out);
    const { body: login } = await server.request('POST', '/api/v1/auth/login', {
      body: { login: 'admin', password },
    });
    const { body: found } = await server.request('GET', '/api/v1/sessions?limit=10', { token: login.token });
    assert.equal(found.items.length, 1, JSON.stringify(found));
    const { body: page } = await server.request('GET', `/api/v1/sessions/${found.items[0].id}/messages`, {
      token: login.token,
    });
    const reply = page.items.find((m: { text: string }) => m.text === 'Hi Ann!');
    assert.equal(reply?.status, 'sent', JSON.stringify(page));
  });
});
