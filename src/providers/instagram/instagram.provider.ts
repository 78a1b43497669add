/**
 * The Instagram channel (provider `instagram`, channel type `instagram`): Instagram messaging through
 * the Messenger Platform — webhooks of `object: instagram` with IGSIDs, story replies and mentions
 * as messages, the Send API of the linked page. Same settings as the messenger provider; it can be
 * reconnected after a disconnect (lines API).
 */
import { messengerPlatformProvider } from '../messenger/messenger.provider.ts';

export const instagramProvider = messengerPlatformProvider({
  name: 'instagram',
  channelType: 'instagram',
  object: 'instagram',
  messenger: 'Instagram',
  textLimit: 1000,
  profileFields: 'name,username,profile_pic',
});
