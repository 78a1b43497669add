import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecretBox } from './secret-box.ts';

describe('secret box', () => {
  const box = new SecretBox('a-long-key-material-0123456789abcdef');

  it('round-trips JSON and never stores the plain text', () => {
    const sealed = box.sealJson({ token: '123:ABC' });
    assert.ok(!sealed.includes('123:ABC'));
    assert.deepEqual(box.openJson(sealed), { token: '123:ABC' });
  });

  it('uses a fresh IV each time', () => {
    assert.notEqual(box.seal('x'), box.seal('x'));
  });

  it('derives a key per purpose: stable, distinct per purpose and per key material', () => {
    assert.deepEqual(
      box.subkey('links'),
      new SecretBox('a-long-key-material-0123456789abcdef').subkey('links'),
    );
    assert.equal(box.subkey('links').length, 32);
    assert.notDeepEqual(box.subkey('links'), box.subkey('other'));
    assert.notDeepEqual(
      box.subkey('links'),
      new SecretBox('another-key-material-0123456789abcd').subkey('links'),
    );
  });

  it('refuses a tampered or foreign ciphertext', () => {
    const sealed = box.seal('secret');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('tampered').toString('base64url');
    assert.throws(() => box.open(parts.join('.')));
    assert.throws(() => new SecretBox('another-key-material-0123456789abcd').open(sealed));
  });
});
