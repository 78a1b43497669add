/**
 * One renderer for every error: `{ "error": { "code", "message", "details" } }`.
 * Schema violations name the field path; bad JSON, oversized bodies and unknown routes get their
 * own codes; anything unexpected is logged and answered 500 without internals.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { DatabaseUnavailable, isDatabaseUnavailable, RETRY_AFTER_SECONDS } from '../../db/availability.ts';
import { ERROR_CODES } from '../../errors/codes.ts';
import { AppError, type ErrorCode } from '../../errors.ts';
import { WebhookRejected } from '../../providers/provider.ts';

interface AjvIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_JSON_BODY',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_CONTENT_LENGTH',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'TOO_MANY_FILES',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'BAD_URL',
  FST_ERR_INVALID_URL: 'BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'PARAM_TOO_LONG',
  FST_ERR_NOT_FOUND: 'ROUTE_NOT_FOUND',
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: 'MISSING_CONTENT_TYPE',
  FST_ERR_ROUTE_MISSING_CONTENT: 'EMPTY_BODY',
  FST_PARTS_LIMIT: 'TOO_MANY_PARTS',
  FST_FIELDS_LIMIT: 'TOO_MANY_FIELDS',
  FST_PROTO_VIOLATION: 'INVALID_MULTIPART',
  FST_MP_PREMATURE_CLOSE: 'INVALID_MULTIPART',
  FST_INVALID_JSON_FIELD_ERROR: 'INVALID_JSON',
};

/**
 * Our stable code for a refusal of Fastify's (or a Fastify plugin's): a known FST_* code, else one
 * named after the status (`METHOD_NOT_ALLOWED`); never the FST_* code itself.
 */
function frameworkCode(err: FastifyError, status: number): string {
  if (typeof err.code === 'string' && Object.hasOwn(FASTIFY_CODES, err.code)) return FASTIFY_CODES[err.code]!;
  if (err instanceof SyntaxError || /JSON/i.test(err.message)) return 'INVALID_JSON';
  if (status === 400) return 'BAD_REQUEST';
  return (STATUS_CODES[status] ?? 'Bad Request').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/** A refusal Fastify makes before any route runs (a bad URL): its `frameworkErrors` option. */
export function renderFrameworkError(err: FastifyError, reply: unknown): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  const code = frameworkCode(err, status);
  // The router matched no route, so the field at fault is the URL itself (never echoed whole).
  const reason =
    code === 'PARAM_TOO_LONG'
      ? 'has a path parameter longer than the router accepts'
      : code === 'BAD_URL'
        ? 'is not valid percent-encoded UTF-8'
        : null;
  const message = reason ? `url: ${reason}` : err.message.slice(0, 300);
  (reply as FastifyReply).status(status).send({
    error: { code, message, ...(reason && { details: { errors: [{ path: 'url', message: reason }] } }) },
  });
}

/**
 * A request the HTTP parser could not read (oversized headers: 431, malformed: 400): Fastify's
 * `clientErrorHandler` option, answering in the same shape as every other error.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'BAD_REQUEST';
  const { status, meaning: message } = ERROR_CODES[code];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

function issuePath(context: string, issue: AjvIssue): string {
  const parts = issue.instancePath.split('/').filter(Boolean);
  if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') {
    parts.push(issue.params.missingProperty);
  }
  if (issue.keyword === 'additionalProperties' && typeof issue.params.additionalProperty === 'string') {
    parts.push(issue.params.additionalProperty);
  }
  return [context, ...parts].join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

function issueMessage(issue: AjvIssue): string {
  if (issue.keyword === 'additionalProperties') return 'is not an allowed property';
  if (issue.keyword === 'required') return 'is required';
  return issue.message ?? 'is invalid';
}

/** The driver's or the server's code of a connection failure (never the statement or its parameters). */
function connectionCode(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DatabaseUnavailable) return (e.details as { reason: string }).reason;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return 'connection lost';
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { validationContext?: string }, request, reply) => {
    if (isDatabaseUnavailable(err)) {
      const unavailable = new DatabaseUnavailable(connectionCode(err));
      request.log.warn({ code: unavailable.code, reason: connectionCode(err) }, unavailable.message);
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply.status(503).send({
        error: { code: unavailable.code, message: unavailable.message, details: unavailable.details },
      });
    }
    if (err instanceof AppError) {
      if (err.status >= 500) request.log.error({ err }, err.message);
      return reply.status(err.status).send({
        error: {
          code: err.code,
          message: err.message,
          ...(err.details !== undefined && { details: err.details }),
        },
      });
    }
    if (err instanceof WebhookRejected) {
      request.log.warn({ code: err.code, url: request.url.split('?')[0] }, 'webhook rejected');
      return reply.status(401).send({ error: { code: err.code, message: err.message } });
    }
    if (err.validation) {
      const errors = (err.validation as AjvIssue[]).map((issue) => ({
        path: issuePath(err.validationContext ?? 'request', issue),
        message: issueMessage(issue),
      }));
      const first = errors[0];
      return reply.status(400).send({
        error: {
          code: 'VALIDATION_FAILED' satisfies ErrorCode,
          message: first ? `${first.path}: ${first.message}` : 'the request is invalid',
          details: { errors },
        },
      });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.status(status).send({ error: { code: frameworkCode(err, status), message: err.message } });
    }
    request.log.error({ err }, 'unhandled error');
    return reply
      .status(500)
      .send({ error: { code: 'INTERNAL' satisfies ErrorCode, message: 'internal server error' } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'ROUTE_NOT_FOUND' satisfies ErrorCode,
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );
}
