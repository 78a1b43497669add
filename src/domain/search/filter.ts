/**
 * The search filter language shared by every `POST /<entity>/search`:
 *
 *   {"where": {"and": [{"field":"state","op":"neq","value":"Closed"},
 *                      {"field":"clientIds","op":"all","value":["<id>"]}]},
 *    "size": 100, "from": 0, "sort": [{"field":"startedAt","dir":"desc"}]}
 *
 * Conditions nest with and / or / not. Field names may be written as in the lines API
 * (`__id`, `__deletedAt`, `_state`, `_clients`, `_channel`): leading underscores are dropped and
 * aliases resolve. The compiler turns the tree into parameterised SQL on indexed columns and
 * rejects anything it does not know with a 400 naming the path and the reason.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { InvalidField } from '../../errors.ts';
import { unstorableText } from '../../lib/text.ts';
import { PRIORITIES, type Priority, priorityRank } from '../session/session.ts';

export type FieldKind =
  | 'uuid'
  | 'text'
  | 'enum'
  | 'timestamp'
  | 'bool'
  | 'int'
  | 'priority'
  | 'uuidArray'
  | 'textArray';

export interface FieldDef {
  column: AnyPgColumn;
  kind: FieldKind;
  /** Allowed values of an enum field. */
  values?: readonly string[];
  sortable?: boolean;
}

export interface EntitySearchSpec {
  fields: Record<string, FieldDef>;
  /** Other names accepted for fields (after leading underscores are dropped), e.g. clients → clientIds. */
  aliases?: Record<string, string>;
  defaultSort: SortSpec[];
  /** Column that breaks ties so paging is stable. */
  tieBreaker: AnyPgColumn;
  /** The soft-delete field; rows with it set are hidden unless the filter names it. */
  deletedField?: string;
}

export const OPS = ['eq', 'neq', 'in', 'nin', 'all', 'gt', 'gte', 'lt', 'lte', 'like', 'isNull'] as const;
export type Op = (typeof OPS)[number];

export type Condition =
  | { field: string; op: Op; value?: unknown }
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition };

export interface SortSpec {
  field: string;
  dir: 'asc' | 'desc';
}

export interface SearchRequest {
  where?: unknown;
  size?: number;
  from?: number;
  sort?: unknown;
}

export interface CompiledSearch {
  where: SQL;
  orderBy: SQL[];
  limit: number;
  offset: number;
}

const MAX_NODES = 200;
const MAX_DEPTH = 12;
export const MAX_PAGE_SIZE = 1000;
const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;
/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z. */
const MIN_TIME = -62_135_596_800_000;
const MAX_TIME = 253_402_300_799_999;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const OPS_BY_KIND: Record<FieldKind, readonly Op[]> = {
  uuid: ['eq', 'neq', 'in', 'nin', 'isNull'],
  text: ['eq', 'neq', 'in', 'nin', 'like', 'gt', 'gte', 'lt', 'lte', 'isNull'],
  enum: ['eq', 'neq', 'in', 'nin', 'isNull'],
  timestamp: ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'isNull'],
  bool: ['eq', 'neq', 'isNull'],
  int: ['eq', 'neq', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'isNull'],
  priority: ['eq', 'neq', 'in', 'nin', 'gt', 'gte', 'lt', 'lte'],
  uuidArray: ['eq', 'neq', 'in', 'nin', 'all', 'isNull'],
  textArray: ['eq', 'neq', 'in', 'nin', 'all', 'isNull'],
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class FilterCompiler {
  #nodes = 0;
  #namesDeleted = false;

  constructor(private readonly spec: EntitySearchSpec) {}

  /** Resolves a user-written field name to its canonical name, or throws 400 naming it. */
  resolveField(raw: unknown, path: string): [string, FieldDef] {
    if (typeof raw !== 'string' || raw === '')
      throw new InvalidField(path, 'must be a field name', 'UNKNOWN_FIELD');
    const bare = raw.replace(/^_+/, '');
    // Own properties only: a field named "constructor" or "__proto__" must not reach Object.prototype.
    const aliases = this.spec.aliases;
    const name = aliases && Object.hasOwn(aliases, bare) ? aliases[bare]! : bare;
    const def = Object.hasOwn(this.spec.fields, name) ? this.spec.fields[name] : undefined;
    if (!def) {
      throw new InvalidField(
        path,
        `unknown field "${raw}"; known: ${Object.keys(this.spec.fields).join(', ')}`,
        'UNKNOWN_FIELD',
      );
    }
    return [name, def];
  }

  compile(request: SearchRequest): CompiledSearch {
    const where = request.where === undefined ? sql`TRUE` : this.#condition(request.where, 'where', 0);
    const deletedField = this.spec.deletedField;
    const visible =
      deletedField && !this.#namesDeleted
        ? sql`${this.spec.fields[deletedField]!.column} IS NULL`
        : undefined;
    return {
      where: visible ? sql`(${where}) AND ${visible}` : where,
      orderBy: this.#sort(request.sort),
      limit: this.#int(request.size, 'size', 100, 1, MAX_PAGE_SIZE),
      offset: this.#int(request.from, 'from', 0, 0, 1_000_000),
    };
  }

  #int(v: unknown, path: string, fallback: number, min: number, max: number): number {
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new InvalidField(path, `must be an integer from ${min} to ${max}`);
    }
    return v;
  }

  #sort(raw: unknown): SQL[] {
    const specs = raw === undefined ? this.spec.defaultSort : raw;
    if (!Array.isArray(specs)) throw new InvalidField('sort', 'must be an array of {field, dir}');
    const out = specs.map((s, i) => {
      const path = `sort[${i}]`;
      if (!isRecord(s)) throw new InvalidField(path, 'must be an object {field, dir}');
      const [name, def] = this.resolveField(s.field, `${path}.field`);
      if (!def.sortable)
        throw new InvalidField(`${path}.field`, `cannot sort by "${name}"`, 'UNSORTABLE_FIELD');
      const dir = s.dir ?? 'asc';
      if (dir !== 'asc' && dir !== 'desc') throw new InvalidField(`${path}.dir`, 'must be "asc" or "desc"');
      return dir === 'desc' ? sql`${def.column} DESC NULLS LAST` : sql`${def.column} ASC NULLS FIRST`;
    });
    out.push(sql`${this.spec.tieBreaker} DESC`);
    return out;
  }

  #condition(node: unknown, path: string, depth: number): SQL {
    if (++this.#nodes > MAX_NODES)
      throw new InvalidField(path, `a filter may have at most ${MAX_NODES} conditions`);
    if (depth > MAX_DEPTH) throw new InvalidField(path, `conditions may nest at most ${MAX_DEPTH} deep`);
    if (!isRecord(node)) throw new InvalidField(path, 'must be a condition object');
    const keys = Object.keys(node);
    for (const group of ['and', 'or'] as const) {
      if (Object.hasOwn(node, group)) {
        if (keys.length !== 1) throw new InvalidField(path, `"${group}" must stand alone in its object`);
        const list = node[group];
        if (!Array.isArray(list) || list.length === 0)
          throw new InvalidField(`${path}.${group}`, 'must be a non-empty array');
        const parts = list.map((c, i) => this.#condition(c, `${path}.${group}[${i}]`, depth + 1));
        return sql`(${sql.join(parts, group === 'and' ? sql` AND ` : sql` OR `)})`;
      }
    }
    if (Object.hasOwn(node, 'not')) {
      if (keys.length !== 1) throw new InvalidField(path, '"not" must stand alone in its object');
      return sql`NOT (${this.#condition(node.not, `${path}.not`, depth + 1)})`;
    }
    return this.#predicate(node, path);
  }

  #predicate(node: Record<string, unknown>, path: string): SQL {
    const [name, def] = this.resolveField(node.field, `${path}.field`);
    if (name === this.spec.deletedField) this.#namesDeleted = true;
    const op = node.op as Op;
    if (typeof node.op !== 'string' || !OPS.includes(op)) {
      throw new InvalidField(
        `${path}.op`,
        `unknown op "${String(node.op)}"; known: ${OPS.join(', ')}`,
        'UNKNOWN_OP',
      );
    }
    if (!OPS_BY_KIND[def.kind].includes(op)) {
      throw new InvalidField(`${path}.op`, `op "${op}" does not apply to field "${name}"`, 'UNKNOWN_OP');
    }
    const col = def.column;
    const valuePath = `${path}.value`;
    const value = node.value;
    const isArrayField = def.kind === 'uuidArray' || def.kind === 'textArray';

    if (op === 'isNull') {
      if (typeof value !== 'boolean') throw new InvalidField(valuePath, 'must be true or false');
      return value ? sql`${col} IS NULL` : sql`${col} IS NOT NULL`;
    }
    if ((op === 'eq' || op === 'neq') && value === null) {
      return op === 'eq' ? sql`${col} IS NULL` : sql`${col} IS NOT NULL`;
    }
    if (op === 'in' || op === 'nin' || op === 'all') {
      if (!Array.isArray(value)) throw new InvalidField(valuePath, 'must be an array');
      if (value.length > 1000) throw new InvalidField(valuePath, 'may hold at most 1000 values');
      const items = value.map((v, i) => this.#scalar(def, v, `${valuePath}[${i}]`));
      if (isArrayField) {
        const arr = this.#arrayLiteral(def, items);
        if (op === 'all') return sql`${col} @> ${arr}`;
        return op === 'in' ? sql`${col} && ${arr}` : sql`NOT (${col} && ${arr})`;
      }
      if (items.length === 0) return op === 'in' ? sql`FALSE` : sql`TRUE`;
      const list = sql.join(
        items.map((v) => sql`${v}`),
        sql`, `,
      );
      return op === 'in' ? sql`${col} IN (${list})` : sql`(${col} IS NULL OR ${col} NOT IN (${list}))`;
    }
    const v = this.#scalar(def, value, valuePath);
    if (isArrayField) {
      // eq / neq on an array field: contains / does not contain the value.
      const arr = this.#arrayLiteral(def, [v]);
      return op === 'eq' ? sql`${col} @> ${arr}` : sql`NOT (${col} @> ${arr})`;
    }
    switch (op) {
      case 'eq':
        return sql`${col} = ${v}`;
      case 'neq':
        return sql`${col} IS DISTINCT FROM ${v}`;
      case 'gt':
        return sql`${col} > ${v}`;
      case 'gte':
        return sql`${col} >= ${v}`;
      case 'lt':
        return sql`${col} < ${v}`;
      case 'lte':
        return sql`${col} <= ${v}`;
      case 'like':
        return sql`${col} ILIKE ${v}`;
      default:
        throw new InvalidField(`${path}.op`, `op "${op}" does not apply to field "${name}"`, 'UNKNOWN_OP');
    }
  }

  #arrayLiteral(def: FieldDef, items: unknown[]): SQL {
    const cast = def.kind === 'uuidArray' ? sql`::uuid[]` : sql`::text[]`;
    return sql`ARRAY[${sql.join(
      items.map((v) => sql`${v}`),
      sql`, `,
    )}]${cast}`;
  }

  /** Checks and converts one value for a field, naming the path when it does not fit. */
  #scalar(def: FieldDef, value: unknown, path: string): unknown {
    switch (def.kind) {
      case 'uuid':
      case 'uuidArray': {
        // A record reference like {"id": "..."} is accepted where an id is expected (the seed passes objects).
        const id = isRecord(value) ? value.id : value;
        if (typeof id !== 'string' || !UUID_RE.test(id)) throw new InvalidField(path, 'must be a UUID');
        return id.toLowerCase();
      }
      case 'text':
      case 'textArray': {
        if (typeof value !== 'string') throw new InvalidField(path, 'must be a string');
        const unstorable = unstorableText(value);
        if (unstorable) throw new InvalidField(path, unstorable);
        return value;
      }
      case 'enum':
        if (typeof value !== 'string' || !def.values?.includes(value)) {
          throw new InvalidField(path, `must be one of ${def.values?.join(', ')}`);
        }
        return value;
      case 'priority':
        if (typeof value !== 'string' || !PRIORITIES.includes(value as Priority)) {
          throw new InvalidField(path, `must be one of ${PRIORITIES.join(', ')}`);
        }
        return priorityRank(value as Priority);
      case 'timestamp': {
        const d = typeof value === 'string' || typeof value === 'number' ? new Date(value) : null;
        // Years 1–9999: what toISOString writes in four digits and PostgreSQL reads back.
        if (!d || Number.isNaN(d.getTime()) || d.getTime() < MIN_TIME || d.getTime() > MAX_TIME) {
          throw new InvalidField(path, 'must be an ISO 8601 timestamp between the years 1 and 9999');
        }
        return d.toISOString();
      }
      case 'bool':
        if (typeof value !== 'boolean') throw new InvalidField(path, 'must be true or false');
        return value;
      case 'int':
        // Int columns are PostgreSQL integers (32 bits); a larger value would fail in the database.
        if (typeof value !== 'number' || !Number.isInteger(value) || value < INT_MIN || value > INT_MAX)
          throw new InvalidField(path, `must be an integer from ${INT_MIN} to ${INT_MAX}`);
        return value;
    }
  }
}

export function compileSearch(spec: EntitySearchSpec, request: SearchRequest): CompiledSearch {
  return new FilterCompiler(spec).compile(request);
}
