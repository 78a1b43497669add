/**
 * Coded errors. Each has a stable `code` and an HTTP `status`; the error plugin renders them as
 * `{ "error": { "code", "message", "details" } }`.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFound extends AppError {
  constructor(entity: string, id: string) {
    super(
      404,
      `${entity.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}_NOT_FOUND`,
      `${entity} ${id} not found`,
      {
        id,
      },
    );
  }
}

export class BadRequest extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(400, code, message, details);
  }
}

/** A field of the request is wrong: names the field path and the reason. */
export class InvalidField extends AppError {
  constructor(field: string, reason: string, code = 'VALIDATION_FAILED') {
    super(400, code, `${field}: ${reason}`, { errors: [{ path: field, message: reason }] });
  }
}

export class Unauthorized extends AppError {
  constructor(message = 'authentication required', code = 'UNAUTHORIZED') {
    super(401, code, message);
  }
}

export class Forbidden extends AppError {
  constructor(message = 'not allowed for your role', code = 'FORBIDDEN') {
    super(403, code, message);
  }
}

export class Conflict extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(409, code, message, details);
  }
}

export class Unprocessable extends AppError {
  constructor(code: string, message: string, details?: unknown) {
    super(422, code, message, details);
  }
}
