import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecretBox } from '../lib/secret-box.ts';
import { FileLinks } from './file-links.ts';

const KEY = 'a-long-key-material-0123456789abcdef';
const ID = '0f9a4c1e-8d4b-4a53-9a55-3c9f0d7f2b11';
const NOW = new Date('2026-03-01T12:00:00Z');

function parts(path: string) {
  const url = new URL(path, 'http://x');
  return { expires: url.searchParams.get('expires')!, signature: url.searchParams.get('signature')! };
}

describe('file links', () => {
  const links = new FileLinks(new SecretBox(KEY), 600);

  it('signs a link valid until its expiry, and expired from then on', () => {
    const { path, expiresAt } = links.sign(ID, NOW);
    assert.equal(expiresAt.getTime(), NOW.getTime() + 600_000);
    const { expires, signature } = parts(path);
    assert.equal(Number(expires), expiresAt.getTime() / 1000);
    assert.equal(links.check(ID, expires, signature, new Date(expiresAt.getTime() - 1)), 'valid');
    assert.equal(links.check(ID, expires, signature, expiresAt), 'expired');
  });

  it('is valid on every node sharing the secret key, and on no other', () => {
    const { expires, signature } = parts(links.sign(ID, NOW).path);
    assert.equal(new FileLinks(new SecretBox(KEY)).check(ID, expires, signature, NOW), 'valid');
    const other = new FileLinks(new SecretBox('another-key-material-0123456789abcd'));
    assert.equal(other.check(ID, expires, signature, NOW), 'invalid');
  });

  it('refuses another file, another expiry, a non-canonical or missing signature', () => {
    const { expires, signature } = parts(links.sign(ID, NOW).path);
    const other = '1f9a4c1e-8d4b-4a53-9a55-3c9f0d7f2b11';
    assert.equal(links.check(other, expires, signature, NOW), 'invalid');
    assert.equal(links.check(ID, String(Number(expires) + 1), signature, NOW), 'invalid');
    assert.equal(links.check(ID, expires, `${signature}=`, NOW), 'invalid');
    assert.equal(links.check(ID, expires, `${signature}A`, NOW), 'invalid');
    assert.equal(links.check(ID, expires, undefined, NOW), 'invalid');
    assert.equal(links.check(ID, undefined, signature, NOW), 'invalid');
    assert.equal(links.check(ID, `${expires}.5`, signature, NOW), 'invalid');
  });

  it('makes absolute links under the public URL, and server paths without one', () => {
    assert.match(
      links.url(ID, NOW, 'https://chat.example.com/').url,
      new RegExp(`^https://chat\\.example\\.com/api/v1/files/${ID}/download\\?expires=\\d+&signature=`),
    );
    assert.match(links.url(ID, NOW, null).url, new RegExp(`^/api/v1/files/${ID}/download\\?`));
  });
});
