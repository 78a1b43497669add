/**
 * The fluent filter of `search().where((f, g) => …)`: field handles (`f._state`) make conditions,
 * `g.and / g.or / g.not` combine them. What they build is the REST filter language itself
 * (`{"field","op","value"}`, `{"and": […]}`), so the builder and `POST /<entity>/search` are one
 * language with two spellings.
 */

export type Condition =
  | { field: string; op: string; value?: unknown }
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition };

/** Anything with an id stands for the item: an item from a search, a Context ref, `{ id }`. */
export interface Ref {
  readonly id: string;
}
export type RefOrId = Ref | string;

export function idOf(ref: RefOrId | null | undefined, what = 'ref'): string {
  const id = typeof ref === 'string' ? ref : ref?.id;
  if (typeof id !== 'string' || id === '') throw new TypeError(`${what} must be an item, a ref or an id`);
  return id;
}

function wire(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(wire);
  if (typeof value === 'object' && typeof (value as Ref).id === 'string') return (value as Ref).id;
  return value;
}

/** One searchable field; `V` is what a condition compares it with. */
export class Field<V> {
  constructor(readonly name: string) {}
  protected cond(op: string, value: unknown): Condition {
    return { field: this.name, op, value: wire(value) };
  }
  eq(value: V | null): Condition {
    return this.cond('eq', value);
  }
  neq(value: V | null): Condition {
    return this.cond('neq', value);
  }
  in(values: readonly V[]): Condition {
    return this.cond('in', values);
  }
  /** Not one of the values. */
  nin(values: readonly V[]): Condition {
    return this.cond('nin', values);
  }
  /** `isNull()` / `isNull(true)`: unset; `isNull(false)`: set. */
  isNull(isNull = true): Condition {
    return this.cond('isNull', isNull);
  }
}

/** A field that orders: numbers, times, text. */
export class OrderedField<V> extends Field<V> {
  gt(value: V): Condition {
    return this.cond('gt', value);
  }
  gte(value: V): Condition {
    return this.cond('gte', value);
  }
  lt(value: V): Condition {
    return this.cond('lt', value);
  }
  lte(value: V): Condition {
    return this.cond('lte', value);
  }
}

export class TextField extends OrderedField<string> {
  /** Case-insensitive SQL pattern: `%` any run, `_` one character. */
  like(pattern: string): Condition {
    return this.cond('like', pattern);
  }
}

export type Time = Date | string;
export class TimeField extends OrderedField<Time> {}
export class IntField extends OrderedField<number> {}
export class RefField extends Field<RefOrId> {}
export class EnumField<E extends string> extends Field<E> {}
/** Priorities order Low < Medium < High. */
export class PriorityField<E extends string> extends OrderedField<E> {}

/** A field holding several values (a session's clients): `eq` = contains, `all` = contains every one. */
export class ArrayField<V> extends Field<V> {
  all(values: readonly V[]): Condition {
    return this.cond('all', values);
  }
}

/** The `g` of `where((f, g) => …)`. */
export const group = {
  and(...conditions: Condition[]): Condition {
    return { and: conditions };
  },
  or(...conditions: Condition[]): Condition {
    return { or: conditions };
  },
  not(condition: Condition): Condition {
    return { not: condition };
  },
};
export type Group = typeof group;
