/** The realtime gateway's public surface (see gateway.ts for the design). */
export type {
  Broker,
  HistoryQuery,
  HistoryResult,
  Publication,
  PublicationHandler,
  PublishOptions,
  StreamPosition,
} from './broker.ts';
export type { RpcHandler } from './commands.ts';
export { attachGateway, type ConnectionInfo, GATEWAY_PATHS, Gateway, type Target } from './gateway.ts';
export { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.ts';
export type { ConnectCredentials, GatewayOptions, GatewayUser } from './options.ts';
export { type Disconnect, Disconnects, ErrorCode, Errors, ProtocolError } from './protocol.ts';
export { RedisBroker, type RedisBrokerOptions } from './redis-broker.ts';
