/**
 * Settings of a Viber bot channel (type `viberbot`): {"authToken" (write-only), "senderName",
 * "senderAvatar", "apiRoot"}. The sender name (up to 28 characters) and avatar go with every message
 * we send; `apiRoot` lets tests stand in for https://chatapi.viber.com.
 */
import { InvalidField } from '../../errors.ts';
import { ProviderError } from '../provider.ts';
import { apiRootSetting, requiredSetting } from '../settings.ts';

export const VIBER_API_ROOT = 'https://chatapi.viber.com';

export interface ViberSettings {
  authToken: string;
  senderName: string;
  senderAvatar: string | null;
  apiRoot: string;
}

const AUTH_TOKEN = /^[0-9a-zA-Z-]{16,100}$/;

export function validateViberSettings(settings: Record<string, unknown>): Record<string, unknown> {
  const authToken = requiredSetting(
    settings.authToken,
    'settings.authToken',
    AUTH_TOKEN,
    'the bot\'s token from the Viber Admin Panel, like "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"',
  );
  const name = settings.senderName;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 28)
    throw new InvalidField(
      'settings.senderName',
      'is required: the name shown with our messages, up to 28 characters',
    );
  const out: Record<string, unknown> = {
    authToken,
    senderName: name.trim(),
    apiRoot: apiRootSetting(settings.apiRoot, VIBER_API_ROOT),
  };
  if (settings.senderAvatar !== undefined && settings.senderAvatar !== null && settings.senderAvatar !== '') {
    const avatar = settings.senderAvatar;
    if (typeof avatar !== 'string' || !/^https?:\/\/\S+$/i.test(avatar) || avatar.length > 2000)
      throw new InvalidField(
        'settings.senderAvatar',
        'must be an http(s) URL of an image (Viber shows it with our messages)',
      );
    out.senderAvatar = avatar;
  }
  return out;
}

export function viberSettings(settings: Record<string, unknown>): ViberSettings {
  const { authToken, senderName, senderAvatar, apiRoot } = settings;
  if (typeof authToken !== 'string' || authToken === '') {
    throw new ProviderError('CHANNEL_MISCONFIGURED', 'the viberbot channel has no authToken', {
      retryable: false,
    });
  }
  return {
    authToken,
    senderName: typeof senderName === 'string' && senderName ? senderName : 'Omniline',
    senderAvatar: typeof senderAvatar === 'string' && senderAvatar ? senderAvatar : null,
    apiRoot: typeof apiRoot === 'string' && apiRoot ? apiRoot : VIBER_API_ROOT,
  };
}
