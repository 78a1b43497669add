/**
 * Step 2 of the guide — the channel's settings (the guide's `[TestMsgSettings]` table).
 *
 * Omniline keeps one settings record per channel, sealed (encrypted) in the channel row; the provider
 * only says which keys it expects. The Test messenger needs:
 *   - `token`   the page's access token: the bearer token of every API call, and the shared token the
 *               messenger puts in the `X-Test-Token` header of every webhook it delivers (secret);
 *   - `apiRoot` where the messenger's API lives (default https://graph.test.com, like the guide; tests
 *               point it at a local fake). Not secret: declared public, so the API shows it back.
 */
import { InvalidField } from '../../src/errors.ts';
import { ProviderError } from '../../src/providers/provider.ts';

export const DEFAULT_API_ROOT = 'https://graph.test.com';

export interface TestSettings {
  token: string;
  apiRoot: string;
}

/** 8 to 250 printable characters without spaces (the guide's `Token nvarchar(250)`). */
const TOKEN = /^[\x21-\x7e]{8,250}$/;

function checkApiRoot(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_API_ROOT;
  const reason = 'must be an http(s) URL without a query or fragment';
  if (typeof value !== 'string') throw new InvalidField('settings.apiRoot', reason);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidField('settings.apiRoot', reason);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash || url.username) {
    throw new InvalidField('settings.apiRoot', reason);
  }
  // The guide writes the root with a trailing slash ("https://graph.test.com/"); store it without.
  return value.replace(/\/+$/, '');
}

/** Checks and normalises settings on create and update (unknown keys are dropped). */
export function validateTestSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const { token, apiRoot } = settings;
  if (typeof token !== 'string' || !TOKEN.test(token)) {
    throw new InvalidField(
      'settings.token',
      'is required: the page access token (8-250 characters, no spaces)',
    );
  }
  return { token, apiRoot: checkApiRoot(apiRoot) };
}

/** The stored settings as the provider uses them (they were validated on the way in). */
export function testSettings(settings: Record<string, unknown>): TestSettings {
  const { token, apiRoot } = settings;
  if (typeof token !== 'string' || token === '') {
    throw new ProviderError('CHANNEL_MISCONFIGURED', 'the test channel has no token', { retryable: false });
  }
  return {
    token,
    apiRoot: typeof apiRoot === 'string' && apiRoot !== '' ? apiRoot.replace(/\/+$/, '') : DEFAULT_API_ROOT,
  };
}
