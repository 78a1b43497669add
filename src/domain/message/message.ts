/** Message vocabulary. */
export const MESSAGE_DIRECTIONS = ['incoming', 'outgoing'] as const;
export type MessageDirection = (typeof MESSAGE_DIRECTIONS)[number];

export const MESSAGE_TYPES = [
  'text',
  'image',
  'file',
  'audio',
  'video',
  'location',
  'contact',
  'system',
  /** An internal note: staff only, never sent to the client (the desk's notes). */
  'note',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const MESSAGE_STATUSES = ['pending', 'sent', 'delivered', 'read', 'failed'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const SENDER_TYPES = ['client', 'operator', 'bot', 'system'] as const;
export type SenderType = (typeof SENDER_TYPES)[number];
