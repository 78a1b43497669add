import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PgDialect } from 'drizzle-orm/pg-core';
import { AppError } from '../../errors.ts';
import { sessionSearch } from '../session/session.view.ts';
import { userSearch } from '../user/user.service.ts';
import { compileSearch, type SearchRequest } from './filter.ts';

const dialect = new PgDialect();
const compile = (request: SearchRequest) => {
  const c = compileSearch(sessionSearch, request);
  return { ...c, where: dialect.sqlToQuery(c.where) };
};
const ID = '2f1b6a52-6a5e-4d0c-9d0c-0a6f7cfe0b11';

function rejects(request: SearchRequest, path: string, code = 'VALIDATION_FAILED', spec = sessionSearch) {
  assert.throws(
    () => compileSearch(spec, request),
    (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.status, 400);
      assert.equal(err.code, code);
      assert.equal((err.details as { errors: { path: string }[] }).errors[0]!.path, path);
      return true;
    },
  );
}

describe('search filter compiler', () => {
  it('hides soft-deleted rows unless the filter names deletedAt', () => {
    assert.match(compile({}).where.sql, /"deleted_at" IS NULL/);
    const asked = compile({ where: { field: '__deletedAt', op: 'isNull', value: false } }).where.sql;
    assert.equal(asked.match(/deleted_at/g)?.length, 1);
    assert.match(asked, /IS NOT NULL/);
  });

  it('turns "clients all [id]" into an array containment the GIN index serves', () => {
    const q = compile({ where: { field: '_clients', op: 'all', value: [{ id: ID }] } }).where;
    assert.match(q.sql, /"client_ids" @> ARRAY\[\$1\]::uuid\[\]/);
    assert.deepEqual(q.params, [ID]);
  });

  it('compiles eq null to IS NULL and neq to IS DISTINCT FROM', () => {
    assert.match(
      compile({ where: { field: 'operatorId', op: 'eq', value: null } }).where.sql,
      /"operator_id" IS NULL/,
    );
    assert.match(
      compile({ where: { field: 'state', op: 'neq', value: 'Closed' } }).where.sql,
      /IS DISTINCT FROM \$1/,
    );
  });

  it('nests and / or / not with parameters in order', () => {
    const q = compile({
      where: {
        and: [
          { field: 'state', op: 'in', value: ['Waiting', 'AssignedToBot'] },
          {
            or: [
              { field: 'priority', op: 'gte', value: 'High' },
              { not: { field: 'botId', op: 'isNull', value: true } },
            ],
          },
        ],
      },
    }).where;
    assert.match(
      q.sql,
      /\("sessions"\."state" IN \(\$1, \$2\) AND \("sessions"\."priority" >= \$3 OR NOT \("sessions"\."bot_id" IS NULL\)\)\)/,
    );
    assert.deepEqual(q.params, ['Waiting', 'AssignedToBot', 2]);
  });

  it('answers an empty "in" with FALSE and an empty "nin" with TRUE', () => {
    assert.match(compile({ where: { field: 'state', op: 'in', value: [] } }).where.sql, /FALSE/);
    assert.match(compile({ where: { field: 'state', op: 'nin', value: [] } }).where.sql, /TRUE/);
  });

  it('sorts by the given fields and breaks ties by id', () => {
    const c = compileSearch(sessionSearch, {
      sort: [
        { field: 'priority', dir: 'desc' },
        { field: 'startedAt', dir: 'asc' },
      ],
    });
    const sql = c.orderBy.map((o) => dialect.sqlToQuery(o).sql);
    assert.deepEqual(sql, [
      '"sessions"."priority" DESC NULLS LAST',
      '"sessions"."started_at" ASC NULLS FIRST',
      '"sessions"."id" DESC',
    ]);
  });

  it('names the path of every kind of mistake', () => {
    rejects({ where: { field: 'colour', op: 'eq', value: 1 } }, 'where.field', 'UNKNOWN_FIELD');
    rejects(
      { where: { and: [{ field: 'state', op: 'like', value: 'x' }] } },
      'where.and[0].op',
      'UNKNOWN_OP',
    );
    rejects({ where: { field: 'state', op: 'approx', value: 'x' } }, 'where.op', 'UNKNOWN_OP');
    rejects({ where: { field: 'id', op: 'eq', value: 'nope' } }, 'where.value');
    rejects({ where: { field: 'startedAt', op: 'gt', value: 'yesterday' } }, 'where.value');
    rejects({ where: { field: 'clientIds', op: 'all', value: ID } }, 'where.value');
    rejects({ where: { field: 'state', op: 'in', value: ['Waiting', 'Open'] } }, 'where.value[1]');
    rejects({ where: { and: [] } }, 'where.and');
    rejects({ where: { and: [{ field: 'state', op: 'eq', value: 'Waiting' }], or: [] } }, 'where');
    rejects({ sort: [{ field: 'clientIds', dir: 'asc' }] }, 'sort[0].field', 'UNSORTABLE_FIELD');
    rejects({ sort: [{ field: 'startedAt', dir: 'up' }] }, 'sort[0].dir');
    rejects({ size: 5000 }, 'size');
  });

  it('knows only its own fields: names of built-in object properties are unknown fields', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', '__defineGetter__']) {
      rejects({ where: { field: name, op: 'eq', value: 'x' } }, 'where.field', 'UNKNOWN_FIELD');
      rejects({ sort: [{ field: name, dir: 'asc' }] }, 'sort[0].field', 'UNKNOWN_FIELD');
    }
  });

  it('refuses values PostgreSQL could not take: NUL, unpaired surrogates, out-of-range numbers and times', () => {
    for (const value of ['nul\u0000byte', 'lone\ud800']) {
      rejects({ where: { field: 'name', op: 'eq', value } }, 'where.value', 'VALIDATION_FAILED', userSearch);
      rejects(
        { where: { field: 'login', op: 'in', value: ['a', value] } },
        'where.value[1]',
        'VALIDATION_FAILED',
        userSearch,
      );
    }
    assert.doesNotThrow(() =>
      compileSearch(userSearch, { where: { field: 'name', op: 'eq', value: "'; drop table users; --" } }),
    );
    rejects({ where: { field: 'unreadClientMessageCount', op: 'gt', value: 2 ** 63 } }, 'where.value');
    rejects({ where: { field: 'unreadClientMessageCount', op: 'gt', value: 2 ** 31 } }, 'where.value');
    rejects({ where: { field: 'startedAt', op: 'gt', value: 8.64e15 } }, 'where.value');
    rejects({ where: { field: 'startedAt', op: 'gt', value: '+275760-09-13T00:00:00Z' } }, 'where.value');
    assert.doesNotThrow(() =>
      compileSearch(sessionSearch, {
        where: { field: 'unreadClientMessageCount', op: 'gt', value: 2 ** 31 - 1 },
      }),
    );
  });

  it('refuses filters too large or too deep', () => {
    const many = {
      or: Array.from({ length: 250 }, () => ({ field: 'state', op: 'eq', value: 'Waiting' })),
    } as const;
    assert.throws(() => compileSearch(sessionSearch, { where: many }), AppError);
    let deep: object = { field: 'state', op: 'eq', value: 'Waiting' };
    for (let i = 0; i < 20; i++) deep = { not: deep };
    assert.throws(() => compileSearch(sessionSearch, { where: deep }), AppError);
  });
});
