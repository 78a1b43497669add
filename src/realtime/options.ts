/** The gateway's pluggable policy (who may connect, subscribe, publish) and its limits. */
import type { Broker, PublishOptions } from './broker.ts';

export interface GatewayUser {
  userId: string;
  /** Anything the application wants to keep with the connection (not sent to clients). */
  info?: unknown;
  /**
   * Which login of the user the connection belongs to (e.g. its token's id): connections of one login
   * are one workspace, and a target can leave them out (`exceptLogin`).
   */
  login?: string;
}

export interface ConnectCredentials {
  /** `connect.data.settings.token` (the vendor document's form) or `connect.token`. */
  token?: string;
  /** `connect.data` as the client sent it. */
  data?: unknown;
  /** The client's name (`js` for the SDK). */
  name?: string;
  /** The WebSocket upgrade's Origin header. */
  origin?: string;
}

type Awaitable<T> = T | Promise<T>;

export interface GatewayOptions {
  broker: Broker;
  /** null → disconnect 3500 "invalid token" (the SDK does not reconnect). A throw → error 100 (it retries). */
  authenticate(credentials: ConnectCredentials): Promise<GatewayUser | null>;
  /** Channels the connection is subscribed to by the server (e.g. `operator:<id>`). */
  serverSideChannels?(user: GatewayUser): Awaitable<string[]>;
  /** Client-side subscribe and history. Default: deny (error 103). */
  canSubscribe?(user: GatewayUser, channel: string): Awaitable<boolean>;
  /** Client publish. Default: deny (error 103). */
  canPublish?(user: GatewayUser, channel: string, data: unknown): Awaitable<boolean>;
  /** Fire-and-forget `send` from a client. */
  onSend?(user: GatewayUser, data: unknown, client: string): Awaitable<void>;
  onConnect?(user: GatewayUser, client: string): void;
  onDisconnect?(user: GatewayUser, client: string): void;
  /** History kept per channel (default 100 publications for 10 minutes). */
  historyOf?(channel: string): PublishOptions;
  /** Server ping interval announced to clients (default 25 s); 0 disables pings. */
  pingIntervalSec?: number;
  /** How long a ping may stay unanswered before disconnect 3012 (default 8 s). */
  pongTimeoutMs?: number;
  /** Close (3502 stale) a socket that has not connected within this time (default 10 s). */
  staleMs?: number;
  /** Largest accepted frame; larger ones close the socket with 1009 (default 64 KiB). */
  maxFrameBytes?: number;
  /** Commands per connection per second before disconnect 3013 (default 100). */
  maxCommandsPerSecond?: number;
  /** Frames waiting behind a command in progress before disconnect 3013 (default 32). */
  maxQueuedFrames?: number;
  /** Unsent bytes a socket may hold before disconnect 3008 slow (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Subscriptions per connection, server- and client-side (default 128). */
  maxSubscriptions?: number;
  /** Connections per user on this node; 0 = unlimited (default). Over it → disconnect 3504. */
  maxConnectionsPerUser?: number;
  /** A reconnect that missed more publications than this is not recovered (default 1000). */
  maxRecoveredPublications?: number;
  /** Largest `history` limit a client may ask (default 1000). */
  maxHistoryLimit?: number;
  /** Server version in the connect reply. */
  version?: string;
  /** Reject upgrades from other origins (403); default accepts every origin (auth is by token). */
  checkOrigin?(origin: string | undefined): boolean;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Resolution of the shared ping/stale timer (default 100 ms). */
  tickMs?: number;
}

export type ResolvedOptions = Required<
  Omit<GatewayOptions, 'onSend' | 'onConnect' | 'onDisconnect' | 'checkOrigin' | 'log'>
> &
  Pick<GatewayOptions, 'onSend' | 'onConnect' | 'onDisconnect' | 'checkOrigin' | 'log'>;

const DEFAULT_HISTORY: PublishOptions = { historySize: 100, historyTtlMs: 10 * 60_000 };

export function resolveOptions(o: GatewayOptions): ResolvedOptions {
  return {
    ...o,
    serverSideChannels: o.serverSideChannels ?? (() => []),
    canSubscribe: o.canSubscribe ?? (() => false),
    canPublish: o.canPublish ?? (() => false),
    historyOf: o.historyOf ?? (() => DEFAULT_HISTORY),
    pingIntervalSec: o.pingIntervalSec ?? 25,
    pongTimeoutMs: o.pongTimeoutMs ?? 8000,
    staleMs: o.staleMs ?? 10_000,
    maxFrameBytes: o.maxFrameBytes ?? 64 * 1024,
    maxCommandsPerSecond: o.maxCommandsPerSecond ?? 100,
    maxQueuedFrames: o.maxQueuedFrames ?? 32,
    maxBufferedBytes: o.maxBufferedBytes ?? 1024 * 1024,
    maxSubscriptions: o.maxSubscriptions ?? 128,
    maxConnectionsPerUser: o.maxConnectionsPerUser ?? 0,
    maxRecoveredPublications: o.maxRecoveredPublications ?? 1000,
    maxHistoryLimit: o.maxHistoryLimit ?? 1000,
    version: o.version ?? '1.0.0',
    tickMs: o.tickMs ?? 100,
  };
}
