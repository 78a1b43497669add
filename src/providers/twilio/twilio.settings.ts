/**
 * Settings of a Twilio channel (type `whatsapp`; SMS too):
 * {"accountSid", "authToken" (write-only), "from", "publicBaseUrl", "apiRoot"}.
 *
 * `from` is the sender: `whatsapp:+14155238886` for WhatsApp, `+14155238886` for SMS (any usual
 * spelling, stored in E.164), or a Messaging Service SID (`MG…`). `publicBaseUrl` is this server's
 * base URL as Twilio calls it, when a proxy in front changes it (the signature covers the exact URL);
 * without it the server's OMNILINE_PUBLIC_URL is used. `apiRoot` lets tests stand in for
 * https://api.twilio.com.
 */
import { InvalidField } from '../../errors.ts';
import { toE164 } from '../phone.ts';
import { ProviderError } from '../provider.ts';
import { apiRootSetting, requiredSetting } from '../settings.ts';

export const TWILIO_API_ROOT = 'https://api.twilio.com';

export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  /** `whatsapp:+E164`, `+E164` (SMS) or `MG…` (a Messaging Service). */
  from: string;
  /** Whether the channel speaks WhatsApp (`whatsapp:` addresses) rather than SMS. */
  whatsapp: boolean;
  publicBaseUrl: string | null;
  apiRoot: string;
}

const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const AUTH_TOKEN = /^[0-9a-zA-Z]{16,64}$/;
const SERVICE_SID = /^MG[0-9a-fA-F]{32}$/;

/** `from` in its stored form: `whatsapp:+E164`, `+E164` or a Messaging Service SID. */
function fromSetting(value: unknown): string {
  const hint =
    'a sender, "whatsapp:+14155238886" (WhatsApp), "+14155238886" (SMS) or a Messaging Service SID "MG…"';
  if (typeof value !== 'string' || value.trim() === '')
    throw new InvalidField('settings.from', `is required: ${hint}`);
  const text = value.trim();
  if (SERVICE_SID.test(text)) return text;
  const e164 = toE164(text);
  if (!e164) throw new InvalidField('settings.from', `must be ${hint}`);
  return /^whatsapp:/i.test(text) ? `whatsapp:${e164}` : e164;
}

/** Checks and normalises settings (defaults filled in, unknown keys dropped). */
export function validateTwilioSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const accountSid = requiredSetting(
    settings.accountSid,
    'settings.accountSid',
    ACCOUNT_SID,
    'the Account SID, "AC" and 32 hexadecimal digits',
  );
  const authToken = requiredSetting(
    settings.authToken,
    'settings.authToken',
    AUTH_TOKEN,
    "the account's Auth Token (Twilio console → Account info)",
  );
  const out: Record<string, unknown> = {
    accountSid,
    authToken,
    from: fromSetting(settings.from),
    apiRoot: apiRootSetting(settings.apiRoot, TWILIO_API_ROOT),
  };
  if (
    settings.publicBaseUrl !== undefined &&
    settings.publicBaseUrl !== null &&
    settings.publicBaseUrl !== ''
  ) {
    out.publicBaseUrl = apiRootSetting(settings.publicBaseUrl, '', 'settings.publicBaseUrl');
  }
  // A Messaging Service can be WhatsApp or SMS: `whatsapp: false` makes it SMS (the default is WhatsApp).
  if (typeof out.from === 'string' && SERVICE_SID.test(out.from) && settings.whatsapp === false)
    out.whatsapp = false;
  if (typeof settings.webhookUrl === 'string') out.webhookUrl = settings.webhookUrl;
  return out;
}

/** The channel's settings as the provider uses them (stored settings were validated on the way in). */
export function twilioSettings(settings: Record<string, unknown>): TwilioSettings {
  const { accountSid, authToken, from, publicBaseUrl, apiRoot } = settings;
  if (typeof accountSid !== 'string' || typeof authToken !== 'string' || typeof from !== 'string') {
    throw new ProviderError(
      'CHANNEL_MISCONFIGURED',
      'the twilio channel lacks accountSid, authToken or from',
      {
        retryable: false,
      },
    );
  }
  return {
    accountSid,
    authToken,
    from,
    whatsapp: from.startsWith('whatsapp:') || (SERVICE_SID.test(from) && settings.whatsapp !== false),
    publicBaseUrl: typeof publicBaseUrl === 'string' && publicBaseUrl !== '' ? publicBaseUrl : null,
    apiRoot: typeof apiRoot === 'string' && apiRoot !== '' ? apiRoot : TWILIO_API_ROOT,
  };
}
