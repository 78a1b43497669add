/**
 * What a script run by `omniline script` has in scope, as the lines API documents it: `System`,
 * `Context` and the enums. A script type-checks against these with `"types"` or a triple-slash
 * reference to `@omniline/sdk/globals`.
 */
import type {
  LineChannelState as ChannelStates,
  LineChannelType as ChannelTypes,
  LineSessionPriority as Priorities,
  LineSessionState as SessionStates,
} from './enums.ts';
import type { ChannelItem, ContactItem, ItemRef, LineItem, UserItem } from './items.ts';
import type { System as SystemApi } from './system.ts';

/**
 * `Context.data`: what `--context key=value` gave. `type:<id>` values (`channel:…`, `user:…`,
 * `contact:…`) are refs whose `fetch()` reads the item; the others are strings. Reading a key that
 * was not given throws, naming the option to pass.
 */
export interface ContextData {
  sessionId?: string;
  contact: ItemRef<ContactItem>;
  channel: ItemRef<ChannelItem>;
  user: ItemRef<UserItem>;
  line: ItemRef<LineItem>;
  [key: string]: string | ItemRef<unknown> | undefined;
}

export interface ScriptContext {
  data: ContextData;
}

declare global {
  var System: SystemApi;
  var Context: ScriptContext;
  var LineChannelState: typeof ChannelStates;
  var LineChannelType: typeof ChannelTypes;
  var LineSessionState: typeof SessionStates;
  var LineSessionPriority: typeof Priorities;
}
