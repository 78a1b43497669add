/** The composition root of the domain: every service, built once from explicit dependencies. */
import type { Db } from './db/client.ts';
import { UnitOfWork } from './db/unit-of-work.ts';
import { AuditService } from './domain/audit/audit.service.ts';
import { BotService } from './domain/bot/bot.service.ts';
import { ChannelService } from './domain/channel/channel.service.ts';
import { ChannelCache } from './domain/channel/channel-cache.ts';
import type { ChannelLifecycle } from './domain/channel/channel-lifecycle.ts';
import { ClientService } from './domain/client/client.service.ts';
import { ClientIntake } from './domain/client/client-intake.ts';
import { ContactService } from './domain/contact/contact.service.ts';
import { type Clock, type Deps, systemClock } from './domain/deps.ts';
import { EventBus } from './domain/events/domain-events.ts';
import { GroupService } from './domain/group/group.service.ts';
import { LineService, type QueueValidator } from './domain/line/line.service.ts';
import { MessageService } from './domain/message/message.service.ts';
import { SessionService } from './domain/session/session.service.ts';
import { UserService } from './domain/user/user.service.ts';
import type { SecretBox } from './lib/secret-box.ts';

export interface Services {
  deps: Deps;
  /** Channel rows for the hot paths (webhooks, opening sessions), one cache for the node. */
  channelCache: ChannelCache;
  users: UserService;
  lines: LineService;
  groups: GroupService;
  bots: BotService;
  channels: ChannelService;
  clients: ClientService;
  /** Who wrote: the client of a messenger's user, their presence and reachability (the pipeline's side). */
  intake: ClientIntake;
  contacts: ContactService;
  sessions: SessionService;
  messages: MessageService;
  audit: AuditService;
}

export function createServices(opts: {
  db: Db;
  secrets: SecretBox;
  bus?: EventBus;
  clock?: Clock;
  lifecycle?: ChannelLifecycle;
  validateQueue?: QueueValidator;
}): Services {
  const bus = opts.bus ?? new EventBus();
  const deps: Deps = {
    db: opts.db,
    bus,
    uow: new UnitOfWork(opts.db, bus),
    secrets: opts.secrets,
    clock: opts.clock ?? systemClock,
  };
  const channelCache = new ChannelCache(deps.db, bus);
  const sessions = new SessionService(deps, channelCache);
  // Sessions a deleted channel or line leaves open are closed as the system, saying why.
  const closeSession = (id: string, reason: string) =>
    sessions.apply(id, { type: 'close', by: { type: 'system', id: null }, reason }, null, 'close');
  const channels = new ChannelService(deps, opts.lifecycle, closeSession);
  return {
    deps,
    channelCache,
    users: new UserService(deps),
    lines: new LineService(deps, opts.validateQueue, { channels, closeSession }),
    groups: new GroupService(deps),
    bots: new BotService(deps),
    channels,
    clients: new ClientService(deps),
    intake: new ClientIntake(deps),
    contacts: new ContactService(deps),
    sessions,
    messages: new MessageService(deps),
    audit: new AuditService(deps),
  };
}
