/**
 * `GET /<entity>?filter=…&limit=…&cursor=…`: the plain-HTTP spelling of `POST /<entity>/search`.
 *
 * Each query filter is one condition of the search language (`state=Waiting` is
 * `{"field":"state","op":"eq","value":"Waiting"}`), all of them joined by `and`, and the page is read
 * through the entity's own search service — the same query, the same role scoping, the same
 * soft-delete rule (deleted records hidden unless `deleted=true`). Nothing here reads the database.
 *
 * The cursor is opaque to callers: it carries the position of the next page and a fingerprint of the
 * filters and sort it belongs to, so a cursor used with other filters is a 400 rather than a page of
 * another list. Paging is by position in the entity's sort order: a record added or removed between
 * two pages may shift the next page by that many rows.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest, preHandlerHookHandler } from 'fastify';
import { type TSchema, Type } from 'typebox';
import type { Condition, SearchRequest } from '../../domain/search/filter.ts';
import { AppError, type CodeOf, InvalidField } from '../../errors.ts';
import type { App } from '../route-context.ts';
import { CursorPage } from '../schemas.ts';

/** A query filter: the search field it compares and the schema of its value. */
export interface ListFilter {
  field: string;
  schema: TSchema;
  /** `eq` (default): equals — for an array field, contains; `isNull`: the value says set or unset. */
  op?: 'eq' | 'isNull';
}

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 1000;
/** The farthest position a cursor may point at (the search language's `from` cap). */
const MAX_OFFSET = 1_000_000;
const CURSOR_VERSION = 1;

export interface ListRouteOptions {
  url: string;
  tags: string[];
  summary: string;
  description?: string;
  preHandler: preHandlerHookHandler;
  item: TSchema;
  filters: Record<string, ListFilter>;
  /** Whether the entity is soft-deleted: adds `deleted=true|false` (default false). */
  softDeleted?: boolean;
  /** The entity's search service, called as `POST …/search` calls it. */
  search: (request: SearchRequest, req: FastifyRequest) => Promise<{ items: unknown[]; total: number }>;
}

/** A filter on a text field, capped in length like the values people store there. */
export const TextFilter = (field: string, description: string, maxLength = 200): ListFilter => ({
  field,
  schema: Type.String({ minLength: 1, maxLength, description: `${description} (exact match)` }),
});

const limitSchema = Type.Integer({
  minimum: 1,
  maximum: MAX_LIST_LIMIT,
  default: DEFAULT_LIST_LIMIT,
  description: 'how many items a page holds',
});
const cursorSchema = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,200}$',
  description: 'the `nextCursor` of the page before (opaque); only with the same filters and sort',
});
const sortSchema = Type.String({
  pattern: '^-?[A-Za-z_]{1,64}$',
  description: 'a field to order by, `-field` for descending (the entity’s default order otherwise)',
});
const deletedSchema = Type.Boolean({
  default: false,
  description: 'true: only deleted records; false: only live ones',
});

interface Position {
  offset: number;
  fingerprint: string;
}

function fingerprintOf(filters: [string, unknown][], sort: string | undefined): string {
  const canonical = JSON.stringify([filters.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), sort ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 12);
}

export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([CURSOR_VERSION, p.offset, p.fingerprint])).toString('base64url');
}

function decodeCursor(raw: string, fingerprint: string): number {
  const bad = (reason: string) => new InvalidField('querystring.cursor', reason);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw bad('must be a nextCursor of this list');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    parsed[0] !== CURSOR_VERSION ||
    !Number.isSafeInteger(parsed[1]) ||
    parsed[1] < 0 ||
    parsed[1] > MAX_OFFSET ||
    typeof parsed[2] !== 'string'
  ) {
    throw bad('must be a nextCursor of this list');
  }
  if (parsed[2] !== fingerprint) throw bad('belongs to a list with other filters or sort');
  return parsed[1] as number;
}

/** Registers `GET <url>` answering `{items, total, nextCursor}` through the entity's search. */
export function listRoute(app: App, o: ListRouteOptions): void {
  const filterNames = Object.keys(o.filters);
  const filters: Record<string, ListFilter> = {
    ...o.filters,
    ...(o.softDeleted && { deleted: { field: 'deletedAt', schema: deletedSchema, op: 'isNull' } }),
  };
  const querystring = Type.Object(
    {
      ...Object.fromEntries(Object.entries(filters).map(([name, f]) => [name, Type.Optional(f.schema)])),
      sort: Type.Optional(sortSchema),
      limit: Type.Optional(limitSchema),
      cursor: Type.Optional(cursorSchema),
    },
    { additionalProperties: false },
  );
  const example = filterNames.slice(0, 2).join('=…&');
  app.get(
    o.url,
    {
      preHandler: o.preHandler,
      schema: {
        tags: o.tags,
        summary: o.summary,
        description:
          `${o.description ? `${o.description} ` : ''}The filters are those of \`POST ${o.url}/search\` ` +
          `(each an exact match, all of them must hold), e.g. \`GET ${o.url}?${example ? `${example}=…&` : ''}limit=20\`; ` +
          'pass `nextCursor` as `cursor` for the next page.',
        querystring,
        response: { 200: CursorPage(o.item) },
      },
    },
    async (req) => {
      const query = req.query as Record<string, unknown>;
      const given = Object.keys(filters).filter((name) => query[name] !== undefined);
      const conditions: Condition[] = [];
      const names: string[] = [];
      for (const name of given) {
        const f = filters[name]!;
        const value = query[name];
        // `deleted=false` is the search's own default (deleted records hidden): no condition.
        if (f.op === 'isNull') {
          if (value === true) {
            conditions.push({ field: f.field, op: 'isNull', value: false });
            names.push(name);
          }
          continue;
        }
        conditions.push({ field: f.field, op: 'eq', value });
        names.push(name);
      }
      const sort = query.sort as string | undefined;
      const limit = (query.limit as number | undefined) ?? DEFAULT_LIST_LIMIT;
      const fingerprint = fingerprintOf(
        given.map((n) => [n, query[n]]),
        sort,
      );
      const offset = query.cursor === undefined ? 0 : decodeCursor(query.cursor as string, fingerprint);
      const request: SearchRequest = {
        ...(conditions.length > 0 && { where: { and: conditions } }),
        size: limit,
        from: offset,
        ...(sort && {
          sort: [{ field: sort.replace(/^-/, ''), dir: sort.startsWith('-') ? 'desc' : 'asc' }],
        }),
      };
      let page: { items: unknown[]; total: number };
      try {
        page = await o.search(request, req);
      } catch (err) {
        throw renamed(err, names);
      }
      const next = offset + page.items.length;
      return {
        items: page.items,
        total: page.total,
        nextCursor:
          page.items.length > 0 && next < page.total && next <= MAX_OFFSET
            ? encodeCursor({ offset: next, fingerprint })
            : null,
      };
    },
  );
}

/**
 * A refusal of the search names its body (`where.and[1].value`, `sort[0].field`, `from`): said again
 * with the query parameter the caller wrote (`querystring.lineId`, `querystring.sort`, `querystring.cursor`).
 */
function renamed(err: unknown, names: string[]): unknown {
  if (!(err instanceof AppError) || err.status !== 400) return err;
  const first = (err.details as { errors?: { path?: unknown; message?: unknown }[] } | undefined)
    ?.errors?.[0];
  if (typeof first?.path !== 'string') return err;
  const m = /^where\.and\[(\d+)\]/.exec(first.path);
  const param = m
    ? names[Number(m[1])]
    : first.path.startsWith('sort')
      ? 'sort'
      : first.path === 'from'
        ? 'cursor'
        : undefined;
  if (!param) return err;
  const reason = String(first.message ?? 'is invalid');
  return new InvalidField(`querystring.${param}`, reason, err.code as CodeOf<400>);
}
