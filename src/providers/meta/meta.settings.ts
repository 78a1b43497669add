/**
 * Settings shared by the Meta providers: the secrets (`appSecret` signs webhooks, `verifyToken`
 * answers the GET verification, an access token for the Graph API) and where the Graph API is
 * (`apiRoot`, `apiVersion`; tests point them at a local fake). Secrets are write-only: only the keys
 * each provider lists in `publicSettings` are shown back.
 */
import { InvalidField } from '../../errors.ts';
import { ProviderError } from '../provider.ts';
import { DEFAULT_GRAPH_ROOT, DEFAULT_GRAPH_VERSION, type GraphApi } from './meta-graph.client.ts';

const VERSION = /^v\d{1,3}\.\d{1,2}$/;
const ID = /^\d{1,30}$/;

function apiRootOf(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_GRAPH_ROOT;
  const reason = 'must be an http(s) URL without a path, query or trailing slash';
  if (typeof value !== 'string') throw new InvalidField('settings.apiRoot', reason);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidField('settings.apiRoot', reason);
  }
  if (!/^https?:$/.test(url.protocol) || url.search || url.hash || url.username || value.endsWith('/')) {
    throw new InvalidField('settings.apiRoot', reason);
  }
  return value;
}

function secret(settings: Record<string, unknown>, key: string, min: number): string {
  const v = settings[key];
  if (typeof v !== 'string' || v.trim().length < min || v.length > 1024 || /\s/.test(v)) {
    throw new InvalidField(`settings.${key}`, `is required: at least ${min} characters without spaces`);
  }
  return v;
}

/** Checks and normalises the settings of a Meta channel: `tokenKey` and `idKeys` name its own. */
export function validateMetaSettings(
  settings: Record<string, unknown>,
  spec: { tokenKey: string; idKeys: { key: string; required: boolean }[]; flags?: string[] },
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    [spec.tokenKey]: secret(settings, spec.tokenKey, 16),
    appSecret: secret(settings, 'appSecret', 8),
    verifyToken: secret(settings, 'verifyToken', 8),
    apiRoot: apiRootOf(settings.apiRoot),
    apiVersion: settings.apiVersion ?? DEFAULT_GRAPH_VERSION,
  };
  if (typeof out.apiVersion !== 'string' || !VERSION.test(out.apiVersion)) {
    throw new InvalidField('settings.apiVersion', 'must be a Graph API version like "v23.0"');
  }
  for (const { key, required } of spec.idKeys) {
    const v = settings[key];
    if (v === undefined || v === null || v === '') {
      if (required) throw new InvalidField(`settings.${key}`, 'is required: a numeric Meta id');
      continue;
    }
    if (typeof v !== 'string' || !ID.test(v))
      throw new InvalidField(`settings.${key}`, 'must be a numeric Meta id (a string)');
    out[key] = v;
  }
  for (const flag of spec.flags ?? []) {
    const v = settings[flag];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') throw new InvalidField(`settings.${flag}`, 'must be true or false');
    out[flag] = v;
  }
  return out;
}

/** The Graph API of a channel's (validated) settings. */
export function graphApiOf(
  settings: Record<string, unknown>,
  tokenKey: string,
  fetchFn: typeof fetch,
): GraphApi {
  const token = settings[tokenKey];
  if (typeof token !== 'string' || token === '') {
    throw new ProviderError('CHANNEL_MISCONFIGURED', `the channel has no settings.${tokenKey}`, {
      retryable: false,
      channelError: true,
    });
  }
  return {
    token,
    apiRoot: typeof settings.apiRoot === 'string' ? settings.apiRoot : DEFAULT_GRAPH_ROOT,
    apiVersion: typeof settings.apiVersion === 'string' ? settings.apiVersion : DEFAULT_GRAPH_VERSION,
    fetch: fetchFn,
  };
}

export const META_PUBLIC_SETTINGS = ['apiRoot', 'apiVersion'] as const;
