import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  configuredOrigins,
  FetchRefused,
  guardedFetch,
  hostEntryProblem,
  refusedAddress,
} from './fetch-guard.ts';
import { ProviderError } from './provider.ts';

describe('refusedAddress', () => {
  it('refuses loopback, private, link-local, unique-local, unspecified and metadata addresses', () => {
    for (const a of [
      '127.0.0.1',
      '127.255.0.9',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '100.64.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1%eth0',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '64:ff9b::a9fe:a9fe',
      '2002:0a00:0001::1',
      'ff02::1',
    ]) {
      assert.notEqual(refusedAddress(a), null, a);
    }
    assert.match(refusedAddress('169.254.169.254')!, /link-local/);
    assert.match(refusedAddress('::1')!, /loopback/);
    assert.match(refusedAddress('fd00::1')!, /unique-local/);
  });

  it('lets public addresses through', () => {
    for (const a of [
      '8.8.8.8',
      '93.184.216.34',
      '172.32.0.1',
      '192.169.0.1',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
    ])
      assert.equal(refusedAddress(a), null, a);
  });
});

describe('the allow-list and configured origins', () => {
  it('takes host names, addresses and ports, and refuses anything else', () => {
    for (const e of ['files.internal', '10.0.0.5', 'minio:9000', '[::1]:8080', '::1'])
      assert.equal(hostEntryProblem(e), null, e);
    assert.notEqual(hostEntryProblem('http://x/'), null);
    assert.notEqual(hostEntryProblem('host:99999'), null);
  });

  it('finds the origins of the URLs among settings', () => {
    assert.deepEqual(
      configuredOrigins({
        apiRoot: 'http://127.0.0.1:8081',
        token: '1:x',
        callbackUrl: 'https://a.example/cb?x=1',
      }),
      ['http://127.0.0.1:8081', 'https://a.example'],
    );
  });
});

describe('guardedFetch', () => {
  let hits: string[];
  let server: http.Server;
  let base: string;
  before(async () => {
    hits = [];
    server = http.createServer((req, res) => {
      hits.push(req.url!);
      if (req.url === '/hop') {
        res.writeHead(302, { location: `${base}/secret` });
        return res.end();
      }
      if (req.url === '/loop') {
        res.writeHead(307, { location: '/loop' });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`you reached ${req.url}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const port = () => (server.address() as AddressInfo).port;

  it('refuses a loopback address, and a name that resolves to one, without connecting', async () => {
    const guarded = guardedFetch(fetch);
    const before = hits.length;
    for (const url of [`${base}/secret`, `http://localhost:${port()}/secret`, `http://[::1]:${port()}/`]) {
      const err = await guarded(url).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof FetchRefused, `${url}: ${err}`);
      assert.ok(err instanceof ProviderError && !err.retryable, 'a refusal is permanent');
      assert.match((err as Error).message, /loopback/);
      assert.doesNotMatch((err as Error).message, /secret/, 'the URL (maybe a token) is not in the message');
    }
    assert.equal(hits.length, before, 'the server was never reached');
  });

  it('fetches an allow-listed host, follows its redirects, and refuses a redirect to a loopback host', async () => {
    const guarded = guardedFetch(fetch, { allowPrivate: ['localhost'] });
    const ok = await guarded(`http://localhost:${port()}/file`);
    assert.equal(await ok.text(), 'you reached /file');
    const before = hits.length;
    // localhost may be fetched; the 127.0.0.1 it redirects to may not.
    await assert.rejects(guarded(`http://localhost:${port()}/hop`), FetchRefused);
    assert.deepEqual(hits.slice(before), ['/hop'], 'the redirect target was never reached');
  });

  it('trusts a channel’s configured origin, and only that port of the host', async () => {
    const guarded = guardedFetch(fetch, { trustedOrigins: [base] });
    assert.equal((await guarded(`${base}/x`)).status, 200);
    await assert.rejects(guarded(`http://127.0.0.1:${port() + 1}/x`), FetchRefused);
  });

  it('streams a public host’s answer as fetch would: status, headers, body, a POST body, redirects', async () => {
    // Every address counts as public here: the request goes the way of an unknown host's.
    const guarded = guardedFetch(fetch, { refuse: () => null });
    const res = await guarded(`http://localhost:${port()}/hop`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain');
    assert.equal(await res.text(), 'you reached /secret');
    const posted = await guarded(`${base}/form`, { method: 'POST', body: 'a=1' });
    assert.equal(await posted.text(), 'you reached /form');
    const refused = guardedFetch(fetch, { refuse: (a) => (a === '127.0.0.1' ? 'no' : null) });
    await assert.rejects(refused(`http://localhost:${port()}/x`), /refused to fetch from localhost:\d+: no/);
  });

  it('aborts a request to a host that does not answer in time', async () => {
    const silent = http.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const guarded = guardedFetch(fetch, { refuse: () => null, timeoutMs: 200 });
      const started = Date.now();
      await assert.rejects(guarded(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`));
      assert.ok(Date.now() - started < 5000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('bounds redirects and takes only http(s)', async () => {
    const guarded = guardedFetch(fetch, { trustedOrigins: [base], maxRedirects: 3 });
    await assert.rejects(guarded(`${base}/loop`), /more than 3 redirects/);
    await assert.rejects(guarded('file:///etc/passwd'), FetchRefused);
  });
});
