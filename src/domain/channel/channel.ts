/** Channel vocabulary: the messenger connections of a line (LineChannelType, LineChannelState). */
export const CHANNEL_TYPES = [
  'telegram',
  'telegramBot',
  'whatsapp',
  'viberbot',
  'facebook',
  'instagram',
  'livechat',
  'inbox',
  'internal',
  'support',
  'api',
] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

export const CHANNEL_STATES = ['active', 'disconnected', 'error'] as const;
export type ChannelState = (typeof CHANNEL_STATES)[number];

/** Only these channel types can be reconnected after a disconnect (lines API). */
export const RECONNECTABLE_CHANNEL_TYPES: readonly ChannelType[] = [
  'telegramBot',
  'inbox',
  'viberbot',
  'livechat',
  'instagram',
];

/** Sessions of these channel types can never be marked as spam (lines API). */
export const SPAM_FORBIDDEN_CHANNEL_TYPES: readonly ChannelType[] = ['internal', 'support'];

/** What kind of messenger account `sessions.create(channel, account)` expects, by channel type. */
export function accountKind(type: ChannelType): 'username' | 'phone' | 'email' | 'externalId' {
  switch (type) {
    case 'telegram':
    case 'telegramBot':
    case 'instagram':
      return 'username';
    case 'whatsapp':
    case 'viberbot':
      return 'phone';
    case 'inbox':
      return 'email';
    default:
      return 'externalId';
  }
}
