/**
 * One guard over every request's input, before schema validation, for what no route should see:
 *   - strings PostgreSQL cannot store (NUL; unpaired surrogates) — in values and in keys;
 *   - numbers JSON cannot mean (`1e309` parses to Infinity);
 *   - nesting deeper than MAX_INPUT_DEPTH (free-form settings 10,000 levels deep overflowed the stack);
 *   - numeric query parameters that are not plain decimals (`limit=1e309`, `0x10`).
 * Each is a 400 VALIDATION_FAILED naming the path (`body.name`, `body.where.value`, `querystring.limit`).
 *
 * Webhook bodies are raw bytes that the provider verifies and parses, so they are not walked here:
 * messenger content is cleaned on the inbound path instead (pipeline/inbound-sanitize.ts).
 * `jsonSizeLimit` adds the schema keyword `x-max-json-bytes` that caps free-form objects (settings).
 */
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { InvalidField } from '../../errors.ts';
import { unstorableText } from '../../lib/text.ts';

export const MAX_INPUT_DEPTH = 32;

interface Problem {
  /** Path segments from the innermost value outwards (built while unwinding). */
  segments: string[];
  reason: string;
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

function keySegment(key: string): string {
  if (key.length <= 64 && IDENTIFIER.test(key)) return `.${key}`;
  return `[${JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)}]`;
}

function inspect(value: unknown, depth: number): Problem | null {
  if (typeof value === 'string') {
    const reason = unstorableText(value);
    return reason ? { segments: [], reason } : null;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? null : { segments: [], reason: 'must be a finite number' };
  }
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_INPUT_DEPTH) {
    return { segments: [], reason: `nests deeper than ${MAX_INPUT_DEPTH} levels` };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = inspect(value[i], depth + 1);
      if (problem) {
        problem.segments.push(`[${i}]`);
        return problem;
      }
    }
    return null;
  }
  for (const key of Object.keys(value)) {
    const keyReason = unstorableText(key);
    const problem = keyReason
      ? { segments: [], reason: `is a key that ${keyReason}` }
      : inspect((value as Record<string, unknown>)[key], depth + 1);
    if (problem) {
      problem.segments.push(keySegment(key));
      return problem;
    }
  }
  return null;
}

/** The first problem of a parsed input (`body`, `querystring`, `params`) as a 400 naming its path. */
export function checkInput(value: unknown, context: string): void {
  const problem = inspect(value, 0);
  if (problem) throw new InvalidField(context + problem.segments.reverse().join(''), problem.reason);
}

interface NumericSchema {
  type?: unknown;
  minimum?: number;
  maximum?: number;
}

const DECIMAL_INTEGER = /^-?\d{1,15}$/;
const DECIMAL_NUMBER = /^-?\d{1,15}(\.\d{1,15})?$/;

/**
 * Query parameters arrive as text and the schema coerces them, which would take `1e309` (Infinity),
 * `0x10` or `" 5"` as numbers: a numeric parameter must be written as a plain decimal.
 */
function checkNumericQuery(request: FastifyRequest): void {
  const schema = request.routeOptions.schema?.querystring as
    | { properties?: Record<string, NumericSchema> }
    | undefined;
  const query = request.query as Record<string, unknown> | undefined;
  if (!schema?.properties || !query) return;
  for (const [name, prop] of Object.entries(schema.properties)) {
    const integer = prop.type === 'integer';
    if (!integer && prop.type !== 'number') continue;
    if (!Object.hasOwn(query, name)) continue;
    const raw = query[name];
    if (typeof raw !== 'string') continue; // arrays and the like: the schema refuses them
    if (!(integer ? DECIMAL_INTEGER : DECIMAL_NUMBER).test(raw)) {
      const range =
        prop.minimum !== undefined && prop.maximum !== undefined
          ? ` from ${prop.minimum} to ${prop.maximum}`
          : '';
      throw new InvalidField(
        `querystring.${name}`,
        `must be ${integer ? 'an integer' : 'a number'}${range}, written in decimal digits`,
      );
    }
  }
}

export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    checkInput(request.params, 'params');
    checkInput(request.query, 'querystring');
    checkNumericQuery(request);
    if (!Buffer.isBuffer(request.body)) checkInput(request.body, 'body');
  });
}

export const MAX_JSON_BYTES_KEYWORD = 'x-max-json-bytes';

/** An Ajv plugin as Fastify's `ajv.plugins` option takes it (typed without importing Ajv itself). */
type AjvPlugin = Extract<
  NonNullable<NonNullable<FastifyServerOptions['ajv']>['plugins']>[number],
  (...args: never) => unknown
>;

/**
 * An Ajv plugin: `{"x-max-json-bytes": n}` on a schema caps the value's size as JSON. Runs after the
 * guard above, so the value is never deeper than MAX_INPUT_DEPTH when it is serialised.
 */
export const jsonSizeLimit: AjvPlugin = (ajv) => {
  const validate: ((limit: number, data: unknown) => boolean) & { errors?: object[] } = (limit, data) => {
    const ok = Buffer.byteLength(JSON.stringify(data) ?? '') <= limit;
    if (!ok) {
      validate.errors = [
        {
          keyword: MAX_JSON_BYTES_KEYWORD,
          message: `must be at most ${limit} bytes as JSON`,
          params: { limit },
        },
      ];
    }
    return ok;
  };
  return ajv.addKeyword({ keyword: MAX_JSON_BYTES_KEYWORD, schemaType: 'number', errors: true, validate });
};
