/**
 * Hand-written SQL for the hottest statements (opening, routing and closing sessions), run on the
 * same connection or transaction as the Drizzle code around them.
 *
 * Drizzle rebuilds a statement's text on every call — for a 40-column row that is most of the
 * Node.js CPU a statement costs. Here the text is a constant and the row mapping is compiled once
 * per table from Drizzle's own column definitions, so rows come back exactly as Drizzle would
 * give them (Dates, parsed JSON, arrays, camelCase keys).
 */
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import type { Db } from './client.ts';

/** Runs one statement on a pool or inside a transaction, either driver; rows as objects. */
export type HotQuery = <T = Record<string, unknown>>(text: string, params: unknown[]) => Promise<T[]>;

interface PostgresJsClient {
  unsafe(text: string, params: unknown[], opts: { prepare: boolean }): Promise<unknown>;
}
interface PgliteClient {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

const executors = new WeakMap<object, HotQuery>();

/**
 * The executor of a Drizzle database or transaction: the client Drizzle itself runs statements on
 * (a postgres.js pool or reserved connection, a PGlite instance or transaction). Parameters: Dates
 * go as ISO text, anything else as given — JSON must be passed as text and cast in the SQL.
 */
export function hot(db: Db): HotQuery {
  const client = (db as unknown as { session: { client: PostgresJsClient | PgliteClient } }).session.client;
  let run = executors.get(client);
  if (!run) {
    run =
      'unsafe' in client
        ? async (text, params) => (await client.unsafe(text, params.map(param), { prepare: true })) as never
        : async (text, params) => (await client.query(text, params.map(param))).rows as never;
    executors.set(client, run);
  }
  return run;
}

const param = (p: unknown) => (p instanceof Date ? p.toISOString() : p === undefined ? null : p);

/** A table's row as Drizzle types it, read by hand-written SQL. */
export interface RowShape<T> {
  /** The select list: every column, qualified by `alias` when given. */
  readonly columns: string;
  /** A result row (database column names) → the Drizzle row. */
  map(row: Record<string, unknown>): T;
}

export function rowShape<T>(table: Table, alias?: string): RowShape<T> {
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => ({
    key,
    name: column.name,
    decode: (v: unknown) => column.mapFromDriverValue(v),
  }));
  const prefix = alias ? `${alias}.` : '';
  return {
    columns: columns.map((c) => `${prefix}"${c.name}"`).join(', '),
    map(row) {
      const out: Record<string, unknown> = {};
      for (const c of columns) {
        const value = row[c.name];
        out[c.key] = value === null || value === undefined ? null : c.decode(value);
      }
      return out as T;
    },
  };
}

/**
 * Writes of a table's rows by hand-written SQL: the statement text for a set of columns (built once
 * per set and kept) and the parameters, encoded by Drizzle's column definitions (JSON as text,
 * arrays as array literals, timestamps as ISO text). Values must be plain values, not SQL.
 */
export class RowWriter<Row extends Record<string, unknown>> {
  readonly #columns: Map<string, { name: string; type: string; encode(v: unknown): unknown }>;
  readonly #texts = new Map<string, string>();
  readonly tableName: string;

  constructor(table: Table) {
    this.tableName = getTableName(table);
    this.#columns = new Map(
      Object.entries(getTableColumns(table)).map(([key, c]) => [
        key,
        { name: c.name, type: c.getSQLType(), encode: (v: unknown) => c.mapToDriverValue(v) },
      ]),
    );
  }

  /** The given keys' values, in order, as parameters. */
  params(values: Partial<Row>, keys: string[]): unknown[] {
    return keys.map((k) => {
      const v = values[k];
      return v === null || v === undefined ? null : this.#column(k).encode(v);
    });
  }

  /** `INSERT INTO t (cols) VALUES ($1…)` + `tail`, for these keys (cached per key list and tail). */
  insert(keys: string[], tail = ''): string {
    return this.#text(`i${keys.join()}|${tail}`, () => {
      const names = keys.map((k) => `"${this.#column(k).name}"`).join(', ');
      const values = keys.map((_, i) => `$${i + 1}`).join(', ');
      return `INSERT INTO "${this.tableName}" (${names}) VALUES (${values}) ${tail}`;
    });
  }

  /**
   * `INSERT INTO t (cols) SELECT $n::type, … FROM source` + `tail`, for these keys numbered from
   * `first` (cached): a row written only for each row of `source` (a CTE of the same statement).
   */
  insertFrom(source: string, keys: string[], first: number, tail = ''): string {
    return this.#text(`f${source}|${first}|${keys.join()}|${tail}`, () => {
      const names = keys.map((k) => `"${this.#column(k).name}"`).join(', ');
      const values = keys.map((k, i) => `$${first + i}::${this.#column(k).type}`).join(', ');
      return `INSERT INTO "${this.tableName}" (${names}) SELECT ${values} FROM ${source} ${tail}`;
    });
  }

  /** `"col" = $n, …` for these keys, numbered from `first` (cached). */
  assignments(keys: string[], first: number): string {
    return this.#text(`a${first}|${keys.join()}`, () =>
      keys.map((k, i) => `"${this.#column(k).name}" = $${first + i}`).join(', '),
    );
  }

  /** Any other statement text, built once under `key`. */
  #text(key: string, build: () => string): string {
    let text = this.#texts.get(key);
    if (text === undefined) {
      text = build();
      this.#texts.set(key, text);
    }
    return text;
  }

  #column(key: string) {
    const column = this.#columns.get(key);
    if (!column) throw new Error(`${this.tableName} has no column ${key}`);
    return column;
  }
}
