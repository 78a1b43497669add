/** @omniline/sdk — the lines scripting API (see README, "Scripting: the lines SDK"). */

export type { LineSessionPriorityEnumBase, LineSessionStateEnumBase } from './enums.ts';
export { LineChannelState, LineChannelType, LineSessionPriority, LineSessionState } from './enums.ts';
export { NO_MATCH, OmnilineError } from './errors.ts';
export type * from './events.ts';
export type * from './fields.ts';
export {
  type ApplicationItemRef,
  BotItem,
  ChannelItem,
  ClientItem,
  type ContactAccount,
  ContactItem,
  GroupItem,
  ItemRef,
  LineItem,
  MessageItem,
  UserItem,
} from './items.ts';
export { type EventData, type EventHandler, Live, LiveConnection, type LiveOptions } from './live.ts';
export { MAX_PAGE, Search, type SearchBody } from './search.ts';
export { type MessagePage, type OutgoingFile, SessionItem, type TransferTarget } from './session-item.ts';
export { Collection, createSystem, type LinesCollections, Sessions, type System } from './system.ts';
export type { ResponseEvent, SystemOptions } from './transport.ts';
export type * from './views.ts';
export { type Condition, type Group, group, type Ref, type RefOrId } from './where.ts';
