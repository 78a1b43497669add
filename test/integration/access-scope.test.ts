/**
 * What staff other than admins may see beyond sessions: contacts only through their lines' clients
 * (or not linked yet), colleagues only of their lines and without their logins.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeEachDatabase, type TestContext } from '../helpers/app.ts';
import { createChannel, createLine, createUser, openSession, unique } from '../helpers/factories.ts';

/** A line served by an operator and a supervisor, with a client linked to a contact of its own. */
async function lineWithContact(ctx: TestContext) {
  const operator = await createUser(ctx, 'operator');
  const supervisor = await createUser(ctx, 'supervisor');
  const line = await createLine(ctx, { operatorIds: [operator.id, supervisor.id] });
  const channel = await createChannel(ctx, line.id, 'api');
  const session = await openSession(ctx, channel.id, unique('tg').replace(/-/g, '_'));
  const clientId = session.clientIds[0]!;
  const contact = (await ctx.request('POST', '/api/v1/contacts', { body: { name: unique('Contact') } })).body;
  const linked = await ctx.request('PATCH', `/api/v1/clients/${clientId}`, {
    body: { applicationItem: { type: 'contact', id: contact.id } },
  });
  assert.equal(linked.status, 200, JSON.stringify(linked.body));
  return { operator, supervisor, line, channel, clientId, contact: contact as { id: string; name: string } };
}

describeEachDatabase('contacts and staff by line', (ctx) => {
  it("hides from an operator and a supervisor of line A a contact known only through line B's clients", async () => {
    const a = await lineWithContact(ctx());
    const b = await lineWithContact(ctx());
    for (const user of [a.operator, a.supervisor]) {
      const token = user.token;
      assert.equal((await ctx().request('GET', `/api/v1/contacts/${b.contact.id}`, { token })).status, 404);
      const found = await ctx().request('POST', '/api/v1/contacts/search', {
        token,
        body: { where: { field: 'name', op: 'eq', value: b.contact.name } },
      });
      assert.equal(found.status, 200);
      assert.equal(found.body.total, 0);
      const patched = await ctx().request('PATCH', `/api/v1/contacts/${b.contact.id}`, {
        token,
        body: { notes: 'seen' },
      });
      assert.equal(patched.status, 404);
      // Their own line's contact they do see.
      assert.equal((await ctx().request('GET', `/api/v1/contacts/${a.contact.id}`, { token })).status, 200);
    }
    const sup = a.supervisor.token;
    assert.equal(
      (await ctx().request('DELETE', `/api/v1/contacts/${b.contact.id}`, { token: sup })).status,
      404,
    );
    const merged = await ctx().request('POST', `/api/v1/contacts/${a.contact.id}/merge`, {
      token: sup,
      body: { sourceId: b.contact.id },
    });
    assert.equal(merged.status, 404);
    // The admin sees both, and nothing was changed.
    const seen = await ctx().request('GET', `/api/v1/contacts/${b.contact.id}`);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.notes, null);
    assert.equal(seen.body.deletedAt, null);
  });

  it("refuses an operator a link of their client to another line's contact", async () => {
    const a = await lineWithContact(ctx());
    const b = await lineWithContact(ctx());
    const res = await ctx().request('PATCH', `/api/v1/clients/${a.clientId}`, {
      token: a.operator.token,
      body: { applicationItem: { type: 'contact', id: b.contact.id } },
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'LINKED_RECORD_NOT_FOUND');
  });

  it('shows every staff member a contact no client links to yet, to link it', async () => {
    const a = await lineWithContact(ctx());
    const created = await ctx().request('POST', '/api/v1/contacts', {
      token: a.operator.token,
      body: { name: unique('Fresh') },
    });
    assert.equal(created.status, 201);
    const other = await createUser(ctx(), 'operator');
    assert.equal(
      (await ctx().request('GET', `/api/v1/contacts/${created.body.id}`, { token: other.token })).status,
      200,
    );
    const linked = await ctx().request('PATCH', `/api/v1/clients/${a.clientId}`, {
      token: a.operator.token,
      body: { applicationItem: { type: 'contact', id: created.body.id } },
    });
    assert.equal(linked.status, 200);
    // Once linked to line A's client, an operator of no line of it no longer sees it.
    assert.equal(
      (await ctx().request('GET', `/api/v1/contacts/${created.body.id}`, { token: other.token })).status,
      404,
    );
  });

  it('lists to an operator only themselves and the staff of their lines, without logins', async () => {
    const a = await lineWithContact(ctx());
    const b = await lineWithContact(ctx());
    const groupMember = await createUser(ctx(), 'operator');
    const group = await ctx().request('POST', '/api/v1/groups', {
      body: { name: unique('group'), memberIds: [groupMember.id] },
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    const patched = await ctx().request('PATCH', `/api/v1/lines/${a.line.id}`, {
      body: { groupIds: [group.body.id] },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));

    const res = await ctx().request('POST', '/api/v1/users/search', {
      token: a.operator.token,
      body: { size: 100 },
    });
    assert.equal(res.status, 200);
    const ids = res.body.items.map((u: { id: string }) => u.id).sort();
    assert.deepEqual(ids, [a.operator.id, a.supervisor.id, groupMember.id].sort());
    assert.equal(res.body.total, 3);
    for (const u of res.body.items) assert.deepEqual(Object.keys(u).sort(), ['id', 'name', 'role']);

    const token = a.operator.token;
    assert.equal((await ctx().request('GET', `/api/v1/users/${b.operator.id}`, { token })).status, 404);
    const colleague = await ctx().request('GET', `/api/v1/users/${a.supervisor.id}`, { token });
    assert.equal(colleague.status, 200);
    assert.equal(colleague.body.login, undefined);
    assert.equal(colleague.body.role, 'supervisor');
    // No probing logins through the filter either.
    const probe = await ctx().request('POST', '/api/v1/users/search', {
      token,
      body: { where: { field: 'login', op: 'eq', value: 'admin' } },
    });
    assert.equal(probe.status, 400);
    assert.equal(probe.body.error.code, 'UNKNOWN_FIELD');
  });

  it('lists every user, whole, to an admin', async () => {
    const a = await lineWithContact(ctx());
    const res = await ctx().request('POST', '/api/v1/users/search', {
      body: { where: { field: 'id', op: 'eq', value: a.operator.id } },
    });
    assert.equal(res.body.total, 1);
    assert.equal(res.body.items[0].login, a.operator.login);
    assert.equal(res.body.items[0].blocked, false);
    const one = await ctx().request('GET', `/api/v1/users/${a.operator.id}`);
    assert.equal(one.body.login, a.operator.login);
  });
});
