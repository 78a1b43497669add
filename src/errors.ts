/**
 * Coded errors. Each carries a code of the catalogue (src/errors/codes.ts), whose status it answers
 * with; the error plugin renders them as `{ "error": { "code", "message", "details" } }`. The
 * subclasses accept only codes of their own status, so a code and its status cannot drift apart.
 */
import { type CodeOf, type ErrorCode, statusOf } from './errors/codes.ts';

export type { CodeOf, ErrorCode } from './errors/codes.ts';

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
    this.status = statusOf(code);
  }
}

/** The entities `NotFound` names, each with its catalogued 404 code. */
const NOT_FOUND = {
  Bot: 'BOT_NOT_FOUND',
  CannedReply: 'CANNED_REPLY_NOT_FOUND',
  Channel: 'CHANNEL_NOT_FOUND',
  Client: 'CLIENT_NOT_FOUND',
  Contact: 'CONTACT_NOT_FOUND',
  File: 'FILE_NOT_FOUND',
  Line: 'LINE_NOT_FOUND',
  Message: 'MESSAGE_NOT_FOUND',
  OperatorGroup: 'OPERATOR_GROUP_NOT_FOUND',
  Session: 'SESSION_NOT_FOUND',
  User: 'USER_NOT_FOUND',
} as const satisfies Record<string, CodeOf<404>>;

export class NotFound extends AppError {
  constructor(entity: keyof typeof NOT_FOUND, id: string) {
    super(NOT_FOUND[entity], `${entity} ${id} not found`, { id });
  }
}

export class BadRequest extends AppError {
  constructor(code: CodeOf<400>, message: string, details?: unknown) {
    super(code, message, details);
  }
}

/** A field of the request is wrong: names the field path and the reason. */
export class InvalidField extends AppError {
  constructor(field: string, reason: string, code: CodeOf<400> = 'VALIDATION_FAILED') {
    super(code, `${field}: ${reason}`, { errors: [{ path: field, message: reason }] });
  }
}

export class Unauthorized extends AppError {
  constructor(message = 'authentication required', code: CodeOf<401> = 'UNAUTHORIZED') {
    super(code, message);
  }
}

export class Forbidden extends AppError {
  constructor(message = 'not allowed for your role', code: CodeOf<403> = 'FORBIDDEN') {
    super(code, message);
  }
}

export class Conflict extends AppError {
  constructor(code: CodeOf<409>, message: string, details?: unknown) {
    super(code, message, details);
  }
}

export class Unprocessable extends AppError {
  constructor(code: CodeOf<422>, message: string, details?: unknown) {
    super(code, message, details);
  }
}
