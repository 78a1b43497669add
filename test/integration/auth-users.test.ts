import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/db/client.ts';
import { ADMIN_PASSWORD, describeEachDatabase } from '../helpers/app.ts';
import { createUser } from '../helpers/factories.ts';

describeEachDatabase('auth and users', (ctx) => {
  it('logs in with the right password and returns a token and the user', async () => {
    const res = await ctx().request('POST', '/api/v1/auth/login', {
      token: null,
      body: { login: 'admin', password: ADMIN_PASSWORD },
    });
    assert.equal(res.status, 200);
    assert.match(res.body.token, /^oml_/);
    assert.equal(res.body.user.role, 'admin');
    const me = await ctx().request('GET', '/api/v1/me', { token: res.body.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.login, 'admin');
  });

  it('refuses a wrong password with 401 INVALID_CREDENTIALS', async () => {
    const res = await ctx().request('POST', '/api/v1/auth/login', {
      token: null,
      body: { login: 'admin', password: 'nope' },
    });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'INVALID_CREDENTIALS');
  });

  it('answers 401 without a token and with an unknown token', async () => {
    assert.equal((await ctx().request('GET', '/api/v1/me', { token: null })).body.error.code, 'UNAUTHORIZED');
    const bad = await ctx().request('GET', '/api/v1/me', { token: 'oml_nope' });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error.code, 'INVALID_TOKEN');
  });

  it('stores tokens hashed and passwords as scrypt hashes', async () => {
    const user = await createUser(ctx(), 'operator');
    const [row] = await queryRows<{ token_hash: string; password_hash: string }>(
      ctx().db,
      sql`SELECT token_hash, password_hash FROM api_tokens JOIN users u ON u.id = user_id WHERE u.id = ${user.id}`,
    );
    assert.ok(row);
    assert.notEqual(row.token_hash, user.token);
    assert.match(row.token_hash, /^[0-9a-f]{64}$/);
    assert.match(row.password_hash, /^scrypt\$/);
  });

  it('revokes the token on logout', async () => {
    const user = await createUser(ctx(), 'operator');
    assert.equal((await ctx().request('POST', '/api/v1/auth/logout', { token: user.token })).status, 204);
    assert.equal((await ctx().request('GET', '/api/v1/me', { token: user.token })).status, 401);
  });

  it('blocks a user: their tokens stop working and they cannot log in', async () => {
    const user = await createUser(ctx(), 'operator');
    const res = await ctx().request('PATCH', `/api/v1/users/${user.id}`, { body: { blocked: true } });
    assert.equal(res.status, 200);
    assert.equal(res.body.blocked, true);
    assert.equal((await ctx().request('GET', '/api/v1/me', { token: user.token })).status, 401);
    const login = await ctx().request('POST', '/api/v1/auth/login', {
      token: null,
      body: { login: user.login, password: 'password-123' },
    });
    assert.equal(login.status, 403);
    assert.equal(login.body.error.code, 'USER_BLOCKED');
  });

  it('refuses a second user with the same login (any case) with 409 LOGIN_TAKEN', async () => {
    const user = await createUser(ctx(), 'operator');
    const res = await ctx().request('POST', '/api/v1/users', {
      body: { login: user.login.toUpperCase(), name: 'x', role: 'operator', password: 'password-123' },
    });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'LOGIN_TAKEN');
  });

  it('names the field of a schema violation', async () => {
    const res = await ctx().request('POST', '/api/v1/users', {
      body: { login: 'x', name: 'x', role: 'king', password: 'password-123' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.equal(res.body.error.details.errors[0].path, 'body.role');
    const short = await ctx().request('POST', '/api/v1/users', {
      body: { login: 'y', name: 'y', role: 'operator', password: 'short' },
    });
    assert.equal(short.body.error.details.errors[0].path, 'body.password');
  });

  it('lets only admins manage users', async () => {
    const op = await createUser(ctx(), 'operator');
    const sup = await createUser(ctx(), 'supervisor');
    for (const token of [op.token, sup.token]) {
      const res = await ctx().request('POST', '/api/v1/users', {
        token,
        body: { login: 'z', name: 'z', role: 'admin', password: 'password-123' },
      });
      assert.equal(res.status, 403);
      assert.equal(
        (await ctx().request('PATCH', `/api/v1/users/${op.id}`, { token, body: { role: 'admin' } })).status,
        403,
      );
    }
    // Everyone may list colleagues (for transfers).
    assert.equal(
      (await ctx().request('POST', '/api/v1/users/search', { token: op.token, body: {} })).status,
      200,
    );
  });

  it('issues a long-lived API token for an integration user', async () => {
    const user = await createUser(ctx(), 'operator');
    const res = await ctx().request('POST', `/api/v1/users/${user.id}/tokens`, {
      body: { name: 'crm sync' },
    });
    assert.equal(res.status, 201);
    assert.equal((await ctx().request('GET', '/api/v1/me', { token: res.body.token })).body.id, user.id);
  });

  it('a new password signs the user out everywhere but keeps their integration tokens', async () => {
    const user = await createUser(ctx(), 'operator');
    const second = await ctx().request('POST', '/api/v1/auth/login', {
      token: null,
      body: { login: user.login, password: 'password-123' },
    });
    assert.equal(second.status, 200);
    const integration = (
      await ctx().request('POST', `/api/v1/users/${user.id}/tokens`, { body: { name: 'crm sync' } })
    ).body.token;
    const changed = await ctx().request('PATCH', `/api/v1/users/${user.id}`, {
      body: { password: 'a-brand-new-password-123' },
    });
    assert.equal(changed.status, 200);
    for (const token of [user.token, second.body.token]) {
      const me = await ctx().request('GET', '/api/v1/me', { token });
      assert.equal(me.status, 401, 'a login token is revoked');
    }
    assert.equal((await ctx().request('GET', '/api/v1/me', { token: integration })).status, 200);
    const old = await ctx().request('POST', '/api/v1/auth/login', {
      token: null,
      body: { login: user.login, password: 'password-123' },
    });
    assert.equal(old.status, 401);
    const fresh = await ctx().request('POST', '/api/v1/auth/login', {
      token: null,
      body: { login: user.login, password: 'a-brand-new-password-123' },
    });
    assert.equal(fresh.status, 200);
  });

  it('soft-deletes a user: hidden from search unless asked, token revoked', async () => {
    const user = await createUser(ctx(), 'operator');
    assert.equal((await ctx().request('DELETE', `/api/v1/users/${user.id}`)).status, 204);
    const visible = await ctx().request('POST', '/api/v1/users/search', {
      body: { where: { field: 'id', op: 'eq', value: user.id } },
    });
    assert.equal(visible.body.total, 0);
    const deleted = await ctx().request('POST', '/api/v1/users/search', {
      body: {
        where: {
          and: [
            { field: 'id', op: 'eq', value: user.id },
            { field: '__deletedAt', op: 'isNull', value: false },
          ],
        },
      },
    });
    assert.equal(deleted.body.total, 1);
    assert.equal((await ctx().request('GET', '/api/v1/me', { token: user.token })).status, 401);
  });
});
