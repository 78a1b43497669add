/**
 * `search()` of a collection: `.where((f, g) => …)`, `.size(n)`, `.from(n)`, `.sort(field, dir)`,
 * then `.first()`, `.all()`, `.count()` or `for await (const item of search)`. It compiles to the
 * body of `POST /api/v1/<entity>/search` (`compile()` shows it).
 */
import { NO_MATCH, OmnilineError } from './errors.ts';
import type { Transport } from './transport.ts';
import type { Page } from './views.ts';
import { type Condition, type Field, type Group, group } from './where.ts';

/** The most a page may hold (the server's limit). */
export const MAX_PAGE = 1000;

export interface SearchBody {
  where?: Condition;
  size?: number;
  from?: number;
  sort?: { field: string; dir: 'asc' | 'desc' }[];
}

/** How a collection reads its items: the REST path and the wrapping of a view into an item. */
export interface Source<F, V, T> {
  transport: Transport;
  /** `/sessions`: searched at `/sessions/search`. */
  path: string;
  fields: () => F;
  wrap: (views: V[]) => T[] | Promise<T[]>;
}

export class Search<F, V, T> implements AsyncIterable<T> {
  #where: Condition | undefined;
  #size: number | undefined;
  #from = 0;
  readonly #sort: { field: string; dir: 'asc' | 'desc' }[] = [];

  constructor(private readonly source: Source<F, V, T>) {}

  /** The filter: `(f, g) => g.and(f.__deletedAt.eq(null), f._state.neq(LineSessionState.Closed))`. */
  where(build: (fields: F, g: Group) => Condition): this {
    this.#where = build(this.source.fields(), group);
    return this;
  }

  /** How many items a page holds (`first()` reads one; `all()` and iteration read every page). */
  size(n: number): this {
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE)
      throw new RangeError(`size must be an integer from 1 to ${MAX_PAGE}`);
    this.#size = n;
    return this;
  }

  /** Skip the first n matches. */
  from(n: number): this {
    if (!Number.isInteger(n) || n < 0) throw new RangeError('from must be a non-negative integer');
    this.#from = n;
    return this;
  }

  /** Order by a field (a handle or its name); called again, adds a further key. */
  sort(field: Field<unknown> | ((fields: F) => Field<unknown>) | string, dir: 'asc' | 'desc' = 'asc'): this {
    const handle = typeof field === 'function' ? field(this.source.fields()) : field;
    this.#sort.push({ field: typeof handle === 'string' ? handle : handle.name, dir });
    return this;
  }

  /** The REST search body this search sends for its first page. */
  compile(size = this.#size): SearchBody {
    return {
      ...(this.#where && { where: this.#where }),
      ...(size !== undefined && { size }),
      ...(this.#from > 0 && { from: this.#from }),
      ...(this.#sort.length > 0 && { sort: this.#sort }),
    };
  }

  async #page(from: number, size: number): Promise<Page<V>> {
    return this.source.transport.post<Page<V>>(`${this.source.path}/search`, {
      ...this.compile(size),
      ...(from > 0 && { from }),
    });
  }

  /** The first match; an OmnilineError `NO_MATCH` (404) when there is none (see `firstOrNull`). */
  async first(): Promise<T> {
    const found = await this.firstOrNull();
    if (found === null) {
      throw new OmnilineError(
        NO_MATCH,
        `${this.source.path}: search().first() matched nothing`,
        404,
        this.compile(1),
      );
    }
    return found;
  }

  /** The first match, or null. */
  async firstOrNull(): Promise<T | null> {
    const page = await this.#page(this.#from, 1);
    if (page.items.length === 0) return null;
    return (await this.source.wrap(page.items))[0] ?? null;
  }

  /** How many items match (one small request). */
  async count(): Promise<number> {
    return (await this.#page(this.#from, 1)).total;
  }

  /** Every match, read a page (`size`, 1000 by default) at a time. */
  async all(): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.pages()) for (const item of page) out.push(item);
    return out;
  }

  /** Every match, one page at a time: memory holds one page, however many match. */
  async *pages(): AsyncGenerator<T[]> {
    const size = this.#size ?? MAX_PAGE;
    let from = this.#from;
    for (;;) {
      const page = await this.#page(from, size);
      if (page.items.length > 0) yield await this.source.wrap(page.items);
      from += page.items.length;
      if (page.items.length < size || from >= page.total) return;
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for await (const page of this.pages()) yield* page;
  }
}
