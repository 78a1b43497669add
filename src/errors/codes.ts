/**
 * The error catalogue: every code an answer can carry, declared once with its HTTP status and what
 * it means. Throw sites name a code of this map (the compiler refuses any other, and the error
 * classes accept only codes of their own status); the README's error table is generated from it
 * (`npm run docs:config`, checked by test/docs.test.ts). Add a code here before throwing it.
 */
import { markdownTable } from '../lib/markdown-table.ts';

interface Entry {
  readonly status: number;
  readonly meaning: string;
}

export const ERROR_CODES = {
  // 400: the request itself is wrong
  VALIDATION_FAILED: { status: 400, meaning: 'a field is wrong; `details.errors[].path` names it and why' },
  INVALID_JSON: { status: 400, meaning: 'the body (or a JSON field) is not valid JSON' },
  INVALID_PAYLOAD: {
    status: 400,
    meaning: 'a webhook or API-channel body does not have the messenger’s shape',
  },
  UNKNOWN_FIELD: { status: 400, meaning: 'a search filter names a field that does not exist' },
  UNKNOWN_OP: { status: 400, meaning: 'a search filter uses an operator the field does not take' },
  UNSORTABLE_FIELD: { status: 400, meaning: 'a search sorts by a field that cannot be sorted' },
  BAD_URL: {
    status: 400,
    meaning: 'the path is not percent-encoded UTF-8 (`details.errors[0].path` is `url`)',
  },
  BAD_REQUEST: { status: 400, meaning: 'the request is not valid HTTP' },
  EMPTY_JSON_BODY: { status: 400, meaning: 'a JSON content type with an empty body' },
  EMPTY_BODY: { status: 400, meaning: 'the method needs a body and none came' },
  MISSING_CONTENT_TYPE: { status: 400, meaning: 'a body without a Content-Type' },
  INVALID_CONTENT_LENGTH: { status: 400, meaning: 'the body’s size does not match Content-Length' },
  INVALID_MULTIPART: { status: 400, meaning: 'a multipart body that cannot be read' },
  RECIPIENT_MISMATCH: {
    status: 400,
    meaning: 'a webhook addressed to another account or page than the channel’s',
  },
  PROVIDER_MISMATCH: { status: 400, meaning: 'the webhook URL names a provider other than the channel’s' },
  // 401: who are you
  UNAUTHORIZED: { status: 401, meaning: 'no credentials (or not the metrics token on /metrics)' },
  INVALID_TOKEN: { status: 401, meaning: 'the bearer token is unknown or expired' },
  INVALID_CREDENTIALS: { status: 401, meaning: 'wrong login or password' },
  INVALID_SIGNATURE: { status: 401, meaning: 'a webhook’s signature is missing or wrong' },
  INVALID_SECRET_TOKEN: { status: 401, meaning: 'a webhook’s secret token header is missing or wrong' },
  INVALID_VISITOR_TOKEN: {
    status: 401,
    meaning: 'a visitor token not valid for this channel',
  },
  VISITOR_TOKEN_REQUIRED: {
    status: 401,
    meaning: 'a live-chat call without a visitor token',
  },
  VISITOR_TOKEN_EXPIRED: {
    status: 401,
    meaning: 'the visitor token has expired (ask for a new one)',
  },
  VISITOR_ORIGIN_REFUSED: {
    status: 401,
    meaning: 'a visitor call from an origin the channel refuses',
  },
  CHANNEL_MISCONFIGURED: { status: 401, meaning: 'the channel has no secret to verify its webhooks with' },
  // 403: not for you
  FORBIDDEN: { status: 403, meaning: 'your role may not do this' },
  NOT_YOUR_SESSION: { status: 403, meaning: 'the session is not assigned to you (or to this bot)' },
  NOT_YOUR_MESSAGE: { status: 403, meaning: 'operators edit only their own messages' },
  USER_BLOCKED: { status: 403, meaning: 'the user is blocked' },
  INVALID_DOWNLOAD_LINK: { status: 403, meaning: 'the signed download link is not for this file' },
  DOWNLOAD_LINK_EXPIRED: { status: 403, meaning: 'the signed download link has expired' },
  ORIGIN_NOT_ALLOWED: { status: 403, meaning: 'the live-chat channel refuses pages of this origin' },
  IDENTITY_REFUSED: {
    status: 403,
    meaning: 'a live-chat identity with a wrong hash',
  },
  CHALLENGE_REFUSED: { status: 403, meaning: 'a webhook verification challenge with the wrong verify token' },
  // 404: no such thing (or not one you may see)
  ROUTE_NOT_FOUND: { status: 404, meaning: 'no route for this method and path' },
  UNKNOWN_PROVIDER: { status: 404, meaning: 'the webhook URL names no provider' },
  BOT_NOT_FOUND: { status: 404, meaning: 'no bot with this id' },
  CHANNEL_NOT_FOUND: { status: 404, meaning: 'no channel with this id' },
  CANNED_REPLY_NOT_FOUND: { status: 404, meaning: 'no canned reply with this id that you may change' },
  CLIENT_NOT_FOUND: { status: 404, meaning: 'no client with this id' },
  CONTACT_NOT_FOUND: { status: 404, meaning: 'no contact with this id' },
  FILE_NOT_FOUND: { status: 404, meaning: 'no file with this id that you may read' },
  LINE_NOT_FOUND: { status: 404, meaning: 'no line with this id (or not one of yours)' },
  MESSAGE_NOT_FOUND: { status: 404, meaning: 'no message with this id' },
  OPERATOR_GROUP_NOT_FOUND: { status: 404, meaning: 'no operator group with this id' },
  SESSION_NOT_FOUND: { status: 404, meaning: 'no session with this id that you may see' },
  USER_NOT_FOUND: { status: 404, meaning: 'no user with this id' },
  // 405, 408, 413, 414, 415, 431
  WEBHOOK_NOT_SUPPORTED: {
    status: 405,
    meaning: 'the provider takes no webhooks (or no verification challenge)',
  },
  REQUEST_TIMEOUT: { status: 408, meaning: 'the request took too long to arrive' },
  PAYLOAD_TOO_LARGE: { status: 413, meaning: 'the body (or an uploaded file) exceeds the limit' },
  TOO_MANY_FILES: { status: 413, meaning: 'a multipart body with more files than allowed' },
  TOO_MANY_PARTS: { status: 413, meaning: 'a multipart body with more parts than allowed' },
  TOO_MANY_FIELDS: { status: 413, meaning: 'a multipart body with more fields than allowed' },
  PARAM_TOO_LONG: { status: 414, meaning: 'a path parameter past 64 KiB (only through `inject`)' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'a body of a content type the route does not take' },
  FILE_TYPE_NOT_ALLOWED: {
    status: 415,
    meaning: 'an uploaded file whose content (as sniffed) is of a type not accepted there',
  },
  HEADERS_TOO_LARGE: { status: 431, meaning: 'the request line and headers exceed the allowed size' },
  // 409: not now, the state does not allow it
  SESSION_OPEN: { status: 409, meaning: 'a session is rated once it is closed' },
  ALREADY_RATED: { status: 409, meaning: 'the session is rated already' },
  SESSION_CLOSED: { status: 409, meaning: 'the session is closed; start a new one to write to the client' },
  SESSION_ALREADY_ACCEPTED: { status: 409, meaning: 'another operator has taken the session' },
  SHORTCUT_TAKEN: { status: 409, meaning: 'a canned reply with this shortcut exists in that scope' },
  SESSION_ALREADY_CLOSED: { status: 409, meaning: 'the session is closed already' },
  SESSION_ALREADY_SPAM: { status: 409, meaning: 'the session is spam already' },
  SESSION_MARKED_AS_SPAM: { status: 409, meaning: 'the session is spam; take it out of spam first' },
  SESSION_NOT_SPAM: { status: 409, meaning: 'the session is not spam' },
  SESSION_WITH_BOT: { status: 409, meaning: 'a bot has the session' },
  SESSION_NOT_WITH_BOT: { status: 409, meaning: 'the session is not with a bot' },
  SESSION_NOT_WITH_OPERATOR: {
    status: 409,
    meaning: 'no operator has the session to return it to the queue',
  },
  SESSION_OPEN_CONFLICT: { status: 409, meaning: 'the open session changed concurrently; retry' },
  SPAM_NOT_ALLOWED_FOR_CHANNEL_TYPE: { status: 409, meaning: 'internal and support sessions cannot be spam' },
  UNMARK_SPAM_NOT_LAST_IN_CHAIN: { status: 409, meaning: 'only the newest session of a chain leaves spam' },
  CLIENT_CHANGED: { status: 409, meaning: 'the client changed concurrently; retry' },
  CLIENT_UNREACHABLE: { status: 409, meaning: 'the messenger no longer delivers to this client' },
  OPERATOR_AT_CAPACITY: { status: 409, meaning: 'the operator has as many sessions as allowed' },
  CHANNEL_NOT_ACTIVE: { status: 409, meaning: 'the channel is not active (`details.state`)' },
  CHANNEL_CANNOT_SEND: { status: 409, meaning: 'no provider sends through this channel’s type' },
  CHANNEL_CANNOT_DELIVER: {
    status: 409,
    meaning: 'the channel cannot deliver messages (a setting is missing)',
  },
  WINDOW_CLOSED: {
    status: 409,
    meaning:
      'more than the messenger’s reply window (WhatsApp, Messenger, Instagram: 24 h) since the client last wrote; `details.templates` says whether a template send is offered',
  },
  TEMPLATES_NOT_SUPPORTED: { status: 409, meaning: 'the channel’s messenger sends no message templates' },
  CHANNEL_SOURCE_TAKEN: { status: 409, meaning: 'a live channel of this type already has this source' },
  CHANNEL_ALREADY_ACTIVE: { status: 409, meaning: 'the channel is active already' },
  CHANNEL_ALREADY_DISCONNECTED: { status: 409, meaning: 'the channel is disconnected already' },
  CHANNEL_RECONNECT_NOT_SUPPORTED: { status: 409, meaning: 'the channel’s type does not reconnect' },
  MESSAGE_NOT_EDITABLE: { status: 409, meaning: 'only messages sent from here can be edited' },
  EDIT_NOT_SUPPORTED: { status: 409, meaning: 'the channel’s messenger cannot edit messages' },
  LOGIN_TAKEN: { status: 409, meaning: 'another user has this login' },
  CANNOT_DELETE_SELF: { status: 409, meaning: 'you cannot delete your own user' },
  MERGE_WITH_ITSELF: { status: 409, meaning: 'a contact cannot be merged into itself' },
  // 422: a reference that does not fit
  APPLICATION_TYPE_NOT_ALLOWED: { status: 422, meaning: 'the line does not allow channels of this type' },
  NO_PROVIDER_FOR_TYPE: { status: 422, meaning: 'no provider is registered for this channel type' },
  CHANNEL_REGISTRATION_FAILED: { status: 422, meaning: 'the messenger refused the channel (token, webhook)' },
  INVALID_ACCOUNT: { status: 422, meaning: 'the account is not one for this channel type' },
  ASSIGNEE_NOT_FOUND: { status: 422, meaning: 'no operator with this id to assign (`details.field`)' },
  ASSIGNEE_BLOCKED: { status: 422, meaning: 'the operator to assign is blocked' },
  TARGET_BOT_NOT_FOUND: { status: 422, meaning: 'no bot with this id to hand over to (`details.field`)' },
  GROUP_NOT_FOUND: { status: 422, meaning: 'no operator group with this id to assign (`details.field`)' },
  LINKED_RECORD_NOT_FOUND: { status: 422, meaning: 'a linked record (a contact) does not exist' },
  // 429, 5xx
  LOGIN_LOCKED: { status: 429, meaning: 'too many failed logins; `Retry-After` says when to retry' },
  TOO_MANY_REQUESTS: { status: 429, meaning: 'over the request limit; `Retry-After` says when to retry' },
  INTERNAL: { status: 500, meaning: 'an unexpected fault (logged, never detailed in the answer)' },
  DATABASE_UNAVAILABLE: {
    status: 503,
    meaning: 'the database cannot be reached; `Retry-After` says when to retry',
  },
  WEB_APP_NOT_BUILT: { status: 503, meaning: 'the desk or widget is not built: run `npm run build`' },
} as const satisfies Record<string, Entry>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes whose status is `S` (what `Conflict`, `Unprocessable`, … accept). */
export type CodeOf<S extends number> = {
  [K in ErrorCode]: (typeof ERROR_CODES)[K]['status'] extends S ? K : never;
}[ErrorCode];

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** The README's error table (markdown), generated from the catalogue in status order. */
export function errorTable(): string {
  const entries = Object.entries(ERROR_CODES as Record<string, Entry>).sort(
    (a, b) => a[1].status - b[1].status,
  );
  return markdownTable([
    ['status', 'code', 'meaning'],
    ...entries.map(([code, e]) => [String(e.status), `\`${code}\``, e.meaning]),
  ]);
}
