import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { e164Digits, samePhone, toE164 } from './phone.ts';

describe('toE164', () => {
  it('reads every spelling of one number as one E.164 number', () => {
    for (const spelling of [
      '+1 555 123 4567',
      '+15551234567',
      'whatsapp:+15551234567',
      'WhatsApp:+1 (555) 123-4567',
      '15551234567',
      '001 555 123 4567',
      'tel:+1-555-123-4567',
      ' sms:+15551234567 ',
    ]) {
      assert.equal(toE164(spelling), '+15551234567', spelling);
    }
  });

  it('keeps numbers of other countries whole', () => {
    assert.equal(toE164('447911123456'), '+447911123456');
    assert.equal(toE164('whatsapp:+4915112345678'), '+4915112345678');
    assert.equal(toE164('+7 916 123-45-67'), '+79161234567');
  });

  it('reads a national number with a default country', () => {
    assert.equal(toE164('07911 123456', { defaultCountry: 'GB' }), '+447911123456');
    assert.equal(toE164('(650) 555-1234', { defaultCountry: 'US' }), '+16505551234');
  });

  it('refuses what is not a phone number', () => {
    for (const text of [
      '',
      '   ',
      'abc',
      '01234567890A=',
      'user@example.com',
      '+1',
      '12',
      '+1234567890123456789',
      null,
      undefined,
    ]) {
      assert.equal(toE164(text as string), null, String(text));
    }
  });

  it('compares spellings and gives the digits form WhatsApp wants', () => {
    assert.ok(samePhone('whatsapp:+15551234567', '1 555 123 4567'));
    assert.ok(!samePhone('+15551234567', '+15551234568'));
    assert.equal(e164Digits('+15551234567'), '15551234567');
  });
});
