/**
 * Every failed call surfaces as an OmnilineError: the server's `{error: {code, message, details}}`
 * with the HTTP status; transport failures get `NETWORK_ERROR` (status 0), answers that are not the
 * error shape get `HTTP_<status>`.
 */
export class OmnilineError extends Error {
  override readonly name = 'OmnilineError';
  constructor(
    /** Stable and machine-readable: `SESSION_NOT_FOUND`, `CHANNEL_ALREADY_ACTIVE`, `INVALID_FIELD`… */
    readonly code: string,
    message: string,
    /** The HTTP status; 0 when the server was not reached. */
    readonly status: number,
    /** The server's details (for a bad field: `errors[]` with each `path`). */
    readonly details?: unknown,
    /** The request that failed: `POST /api/v1/sessions/search`. */
    readonly request?: string,
  ) {
    super(message);
  }
}

/** `search().first()` matched nothing. */
export const NO_MATCH = 'NO_MATCH';
