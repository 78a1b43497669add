import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InboundEvent } from '../providers/provider.ts';
import { sanitizeInboundEvent, sanitizeProfile, storableIdentifier } from './inbound-sanitize.ts';

const at = new Date('2026-01-01T10:00:00Z');

describe('inbound sanitising', () => {
  it('removes NUL from text and names and replaces unpaired surrogates with U+FFFD', () => {
    const event: InboundEvent = {
      kind: 'message',
      externalMessageId: 'm-1',
      from: { externalId: 'u-1', firstName: 'Ann\u0000', lastName: '\ud800Lee', username: '\u0000' },
      type: 'text',
      text: 'hi\u0000 there \udc00!',
      attachments: [{ ref: 'https://x.test/a', name: 'a\u0000.png', mimeType: 'image/png' }],
      timestamp: at,
    };
    const clean = sanitizeInboundEvent(event) as Extract<InboundEvent, { kind: 'message' }>;
    assert.equal(clean.text, 'hi there \ufffd!');
    assert.deepEqual(clean.from, {
      externalId: 'u-1',
      firstName: 'Ann',
      lastName: '\ufffdLee',
      username: null,
    });
    assert.equal(clean.attachments?.[0]?.name, 'a.png');
    assert.equal(clean.timestamp, at, 'dates pass through untouched');
  });

  it('keeps proper surrogate pairs (emoji) and returns a clean event as it is', () => {
    const event: InboundEvent = {
      kind: 'message',
      externalMessageId: 'm-2',
      from: { externalId: 'u-1', firstName: 'Zoë 😀' },
      type: 'text',
      text: 'hello 😀',
      timestamp: at,
    };
    assert.equal(sanitizeInboundEvent(event), event);
  });

  it('escapes unstorable identifiers deterministically and keeps distinct ids distinct', () => {
    assert.equal(storableIdentifier('plain-id'), 'plain-id');
    assert.equal(storableIdentifier('a\u0000b'), 'a%00b');
    assert.equal(storableIdentifier('a\ud800b'), 'a%uD800b');
    assert.equal(storableIdentifier('a\udc00'), 'a%uDC00');
    assert.equal(storableIdentifier('😀\u0000'), '😀%00');
    assert.equal(storableIdentifier('a\u0000b'), storableIdentifier('a\u0000b'));
    assert.notEqual(storableIdentifier('a\u0000b'), storableIdentifier('ab'));
    const event = sanitizeInboundEvent({
      kind: 'read',
      from: { externalId: 'u\u0000' },
      upToExternalMessageId: 'm\ud800',
      timestamp: at,
    });
    assert.deepEqual(event, {
      kind: 'read',
      from: { externalId: 'u%00' },
      upToExternalMessageId: 'm%uD800',
      timestamp: at,
    });
  });

  it('cleans a fetched profile like a sender', () => {
    assert.deepEqual(sanitizeProfile({ externalId: '1', firstName: '\u0000', lastName: 'Lee\u0000' }), {
      externalId: '1',
      firstName: null,
      lastName: 'Lee',
    });
    assert.equal(sanitizeProfile(null), null);
  });
});
