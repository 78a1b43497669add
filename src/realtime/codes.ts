/**
 * Error codes (answered to one command) and disconnect codes (a WebSocket Close frame) of the
 * Centrifugo client protocol, with the messages and reasons Centrifugo uses.
 */

/** Command error codes (reply `error.code`). */
export const ErrorCode = {
  internal: 100,
  unauthorized: 101,
  unknownChannel: 102,
  permissionDenied: 103,
  methodNotFound: 104,
  alreadySubscribed: 105,
  limitExceeded: 106,
  badRequest: 107,
  notAvailable: 108,
  tokenExpired: 109,
  expired: 110,
  tooManyRequests: 111,
  unrecoverablePosition: 112,
} as const;

/** An error answered to one command; the connection stays open. Handlers may throw it (any code). */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
    /** The SDK retries temporary errors (a connect error that is not temporary stops it). */
    readonly temporary = false,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export const Errors = {
  internal: () => new ProtocolError(100, 'internal server error', true),
  unauthorized: () => new ProtocolError(101, 'unauthorized'),
  unknownChannel: () => new ProtocolError(102, 'unknown channel'),
  permissionDenied: () => new ProtocolError(103, 'permission denied'),
  methodNotFound: () => new ProtocolError(104, 'method not found'),
  alreadySubscribed: () => new ProtocolError(105, 'already subscribed'),
  limitExceeded: () => new ProtocolError(106, 'limit exceeded'),
  badRequest: () => new ProtocolError(107, 'bad request'),
  notAvailable: () => new ProtocolError(108, 'not available'),
  tokenExpired: () => new ProtocolError(109, 'token expired'),
  tooManyRequests: () => new ProtocolError(111, 'too many requests', true),
  unrecoverablePosition: () => new ProtocolError(112, 'unrecoverable position'),
};

/** A disconnect is a WebSocket Close frame with this code and reason. */
export interface Disconnect {
  readonly code: number;
  readonly reason: string;
}

/**
 * 3000–3499: the SDK reconnects; 3500–3999: terminal, it stays disconnected. Applications use
 * 4000–4499 (reconnect) and 4500–4999 (terminal).
 */
export const Disconnects = {
  connectionClosed: { code: 3000, reason: 'connection closed' },
  shutdown: { code: 3001, reason: 'shutdown' },
  serverError: { code: 3004, reason: 'internal server error' },
  expired: { code: 3005, reason: 'connection expired' },
  slow: { code: 3008, reason: 'slow' },
  writeError: { code: 3009, reason: 'write error' },
  insufficientState: { code: 3010, reason: 'insufficient state' },
  forceReconnect: { code: 3011, reason: 'force reconnect' },
  noPong: { code: 3012, reason: 'no pong' },
  tooManyRequests: { code: 3013, reason: 'too many requests' },
  invalidToken: { code: 3500, reason: 'invalid token' },
  badRequest: { code: 3501, reason: 'bad request' },
  stale: { code: 3502, reason: 'stale' },
  forceDisconnect: { code: 3503, reason: 'force disconnect' },
  connectionLimit: { code: 3504, reason: 'connection limit' },
  channelLimit: { code: 3505, reason: 'channel limit' },
  permissionDenied: { code: 3507, reason: 'permission denied' },
  notAvailable: { code: 3508, reason: 'not available' },
} as const satisfies Record<string, Disconnect>;

/** Unsubscribe push codes: below 2500 the SDK drops the subscription, from 2500 it resubscribes. */
export const UnsubscribeCodes = {
  server: { code: 2000, reason: 'server unsubscribe' },
  insufficientState: { code: 2500, reason: 'insufficient state' },
} as const;
