/**
 * What the REST API answers, typed by the server's own OpenAPI schemas (type-only imports: nothing
 * of the server is loaded at run time).
 */
import type { Static } from 'typebox';
import type {
  BotSchema,
  ChannelSchema,
  ClientSchema,
  ContactSchema,
  GroupSchema,
  LineSchema,
  MessageSchema,
  SessionSchema,
  UserSchema,
} from '../../src/http/schemas.ts';

export type LineView = Static<typeof LineSchema>;
export type ChannelView = Static<typeof ChannelSchema>;
export type ClientView = Static<typeof ClientSchema>;
export type ContactView = Static<typeof ContactSchema>;
export type SessionView = Static<typeof SessionSchema>;
export type MessageView = Static<typeof MessageSchema>;
export type GroupView = Static<typeof GroupSchema>;
export type BotView = Static<typeof BotSchema>;
/** Admins see users whole; other staff see colleagues' id, name and role. */
export type UserView = Static<typeof UserSchema> | Pick<Static<typeof UserSchema>, 'id' | 'name' | 'role'>;
export type { LineMetrics } from '../../src/routing/metrics.service.ts';
