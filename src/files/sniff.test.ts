import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentDisposition, downloadHeaders } from './file-headers.ts';
import { sniffMimeType } from './sniff.ts';

const bytes = (...parts: (number[] | string)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

const PNG = bytes([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'rest');
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0], 'JFIF');
/** A ZIP's first local header, naming its first entry. */
const zip = (entry: string, content = '') =>
  bytes('PK\x03\x04', Array(22).fill(0), [entry.length, 0, 0, 0], entry, content);

describe('sniffMimeType', () => {
  it('stores what the bytes are, whatever was declared', () => {
    const cases: [Buffer, string | null, string][] = [
      [PNG, 'application/pdf', 'image/png'],
      [JPEG, 'image/png', 'image/jpeg'],
      [bytes('GIF89a', [1, 0, 1, 0]), null, 'image/gif'],
      [bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 '), 'application/octet-stream', 'image/webp'],
      [bytes('%PDF-1.7\n'), 'image/jpeg', 'application/pdf'],
      [
        zip('word/document.xml'),
        'application/zip',
        'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      ],
      [
        zip('[Content_Types].xml', 'xl/workbook.xml'),
        null,
        'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      ],
      [
        zip('mimetype', 'application/vnd.oasis.opendocument.text'),
        null,
        'application/vnd.oasis.opendocument.text',
      ],
      [zip('a.txt'), 'image/png', 'application/zip'],
      [bytes('ID3', [4, 0, 0, 0]), 'image/png', 'audio/mpeg'],
      [bytes([0xff, 0xfb, 0x90, 0x44]), null, 'audio/mpeg'],
      [bytes('OggS', [0, 2]), 'application/ogg', 'audio/ogg'],
      [bytes([0, 0, 0, 0x18], 'ftypmp42'), null, 'video/mp4'],
      [bytes([0, 0, 0, 0x18], 'ftypM4A '), 'video/mp4', 'audio/mp4'],
      [bytes([0x1a, 0x45, 0xdf, 0xa3], 'webm'), null, 'video/webm'],
    ];
    for (const [head, declared, expected] of cases)
      assert.equal(sniffMimeType(head, declared), expected, expected);
  });

  it('tells HTML and SVG by their text, so a "PNG" holding a page is stored as the page it is', () => {
    assert.equal(
      sniffMimeType(bytes('<!DOCTYPE html><html><script>alert(1)</script>'), 'image/png'),
      'text/html',
    );
    assert.equal(sniffMimeType(bytes('\n  <html><body>hi'), 'text/plain'), 'text/html');
    assert.equal(
      sniffMimeType(bytes('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'), 'image/png'),
      'image/svg+xml',
    );
    assert.equal(sniffMimeType(bytes('<svg onload="x()">'), null), 'image/svg+xml');
  });

  it('keeps a declared text type for text, and calls other text plain', () => {
    assert.equal(sniffMimeType(bytes('a,b\n1,2\n'), 'text/csv'), 'text/csv');
    assert.equal(sniffMimeType(bytes('{"a": 1}'), 'application/json; charset=utf-8'), 'application/json');
    assert.equal(sniffMimeType(Buffer.from('привет, мир\n', 'utf8'), 'image/jpeg'), 'text/plain');
    assert.equal(sniffMimeType(bytes('just words'), null), 'text/plain');
  });

  it('keeps a declared type it cannot confirm or deny, but not a claim the bytes contradict', () => {
    const unknown = bytes([0x00, 0x01, 0x02, 0x03, 0x99, 0x00]);
    assert.equal(sniffMimeType(unknown, 'application/x-custom-thing'), 'application/x-custom-thing');
    assert.equal(sniffMimeType(unknown, 'image/png'), 'application/octet-stream', 'not a PNG');
    assert.equal(
      sniffMimeType(unknown, 'text/html'),
      'application/octet-stream',
      'never active content on faith',
    );
    assert.equal(sniffMimeType(unknown, 'not a type'), 'application/octet-stream');
    assert.equal(sniffMimeType(unknown, null), 'application/octet-stream');
  });
});

describe('downloadHeaders', () => {
  const file = (mimeType: string, name: string | null = 'x') => ({ id: 'f-1', name, mimeType, size: 3 });

  it('serves raster images inline, everything else as an attachment, never sniffed', () => {
    assert.match(downloadHeaders(file('image/png'))['content-disposition']!, /^inline;/);
    for (const t of [
      'text/html',
      'image/svg+xml',
      'application/pdf',
      'audio/ogg',
      'application/octet-stream',
    ]) {
      const h = downloadHeaders(file(t));
      assert.match(h['content-disposition']!, /^attachment;/, t);
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['content-type'], t);
    }
  });

  it('names the file in UTF-8 (filename*) with an ASCII stand-in, and lets nothing break the header', () => {
    assert.equal(
      contentDisposition('attachment', 'счёт "май" (1).pdf'),
      `attachment; filename="____ _____ (1).pdf"; filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82%20%22%D0%BC%D0%B0%D0%B9%22%20%281%29.pdf`,
    );
    const h = contentDisposition('attachment', 'a\r\nSet-Cookie: x=1');
    assert.doesNotMatch(h, /[\r\n]/);
    assert.equal(
      downloadHeaders(file('text/plain', null))['content-disposition'],
      `attachment; filename="f-1"; filename*=UTF-8''f-1`,
    );
  });
});
