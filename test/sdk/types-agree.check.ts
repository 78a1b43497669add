/**
 * The SDK's own views (sdk/src/views.ts) agree with the server's schemas (the event catalogue needs no
 * check: the server re-exports the SDK's sdk/src/events.ts): each pair must
 * be assignable both ways, so a field added, removed or retyped on either side fails `tsc`
 * (`npm run typecheck`, and test/sdk/types-agree.test.ts on this file alone).
 */
import type { Static } from 'typebox';
import type * as Sdk from '../../sdk/src/index.ts';
import type { MessageView } from '../../src/domain/message/message.service.ts';
import type * as Schemas from '../../src/http/schemas.ts';
import type { LineMetrics } from '../../src/routing/metrics.service.ts';

type Agree<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Each<T extends Record<string, true>> = T;

export type Checks = Each<{
  line: Agree<Static<typeof Schemas.LineSchema>, Sdk.LineView>;
  channel: Agree<Static<typeof Schemas.ChannelSchema>, Sdk.ChannelView>;
  client: Agree<Static<typeof Schemas.ClientSchema>, Sdk.ClientView>;
  contact: Agree<Static<typeof Schemas.ContactSchema>, Sdk.ContactView>;
  session: Agree<Static<typeof Schemas.SessionSchema>, Sdk.SessionView>;
  message: Agree<Static<typeof Schemas.MessageSchema>, Sdk.MessageView>;
  /** The server's message view, which its live events carry in the SDK's event types. */
  messageView: Agree<MessageView, Sdk.MessageView>;
  group: Agree<Static<typeof Schemas.GroupSchema>, Sdk.GroupView>;
  bot: Agree<Static<typeof Schemas.BotSchema>, Sdk.BotView>;
  user: Agree<Static<typeof Schemas.UserSchema>, Sdk.FullUserView>;
  metrics: Agree<LineMetrics, Sdk.LineMetrics>;
}>;
