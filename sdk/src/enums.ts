/**
 * The enums of the lines API, keyed as the vendor document writes them (`LineChannelState.active`,
 * `LineSessionState.Closed`); each value is the REST API's own string.
 */
export const LineChannelState = {
  active: 'active',
  disconnected: 'disconnected',
  error: 'error',
} as const;
export type LineChannelState = (typeof LineChannelState)[keyof typeof LineChannelState];

export const LineChannelType = {
  telegram: 'telegram',
  telegramBot: 'telegramBot',
  whatsapp: 'whatsapp',
  viberbot: 'viberbot',
  facebook: 'facebook',
  instagram: 'instagram',
  livechat: 'livechat',
  inbox: 'inbox',
  internal: 'internal',
  support: 'support',
  api: 'api',
} as const;
/** A LineChannelType, or the type of a plugin provider's channel. */
export type LineChannelType = (typeof LineChannelType)[keyof typeof LineChannelType];

export const LineSessionState = {
  Waiting: 'Waiting',
  AssignedToBot: 'AssignedToBot',
  AssignedToOperator: 'AssignedToOperator',
  Closed: 'Closed',
  MarkedAsSpam: 'MarkedAsSpam',
} as const;
export type LineSessionState = (typeof LineSessionState)[keyof typeof LineSessionState];
export type LineSessionStateEnumBase = LineSessionState;

export const LineSessionPriority = { Low: 'Low', Medium: 'Medium', High: 'High' } as const;
export type LineSessionPriority = (typeof LineSessionPriority)[keyof typeof LineSessionPriority];
export type LineSessionPriorityEnumBase = LineSessionPriority;
