import assert from 'node:assert/strict';
import { it } from 'node:test';
import { stubProviders } from '../fakes/stub-providers.ts';
import { describeEachDatabase } from '../helpers/app.ts';
import { createChannel, createLine, createUser, openSession, unique } from '../helpers/factories.ts';

describeEachDatabase(
  'clients and contacts',
  (ctx) => {
    async function clientOn(applicationType: string | null = 'contact') {
      const line = await createLine(ctx(), { settings: { applicationType } });
      const channel = await createChannel(ctx(), line.id, 'telegram');
      const username = unique('tg').replace(/-/g, '_');
      const session = await openSession(ctx(), channel.id, username);
      return { line, channel, username, clientId: session.clientIds[0]! };
    }

    it('finds a Telegram client by channel and username, as the lines API does', async () => {
      const { channel, username, clientId } = await clientOn();
      const res = await ctx().request('POST', '/api/v1/clients/search', {
        body: {
          where: {
            and: [
              { field: '__deletedAt', op: 'eq', value: null },
              { field: '_channel', op: 'eq', value: { id: channel.id } },
              { field: '_username', op: 'eq', value: username },
            ],
          },
        },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.items.map((c: { id: string }) => c.id),
        [clientId],
      );
    });

    it("links a client to a contact when the line's settings choose contacts", async () => {
      const { clientId } = await clientOn('contact');
      const contact = await ctx().request('POST', '/api/v1/contacts', {
        body: { name: 'Ann Lee', phones: ['+1 (555) 010-0001'] },
      });
      assert.equal(contact.status, 201);
      assert.deepEqual(contact.body.phones, ['+15550100001']);
      const res = await ctx().request('PATCH', `/api/v1/clients/${clientId}`, {
        body: { applicationItem: { type: 'contact', id: contact.body.id }, firstName: 'Ann' },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.applicationItem, { type: 'contact', id: contact.body.id });
      assert.equal(res.body.firstName, 'Ann');
      const unlinked = await ctx().request('PATCH', `/api/v1/clients/${clientId}`, {
        body: { applicationItem: null },
      });
      assert.equal(unlinked.body.applicationItem, null);
    });

    it("refuses (422) a link to an application the line's settings do not choose", async () => {
      const { clientId } = await clientOn('contact');
      const res = await ctx().request('PATCH', `/api/v1/clients/${clientId}`, {
        body: { applicationItem: { type: 'lead', id: 'L-1' } },
      });
      assert.equal(res.status, 422);
      assert.equal(res.body.error.code, 'APPLICATION_TYPE_NOT_ALLOWED');
      const none = await clientOn(null);
      const refused = await ctx().request('PATCH', `/api/v1/clients/${none.clientId}`, {
        body: { applicationItem: { type: 'contact', id: '00000000-0000-4000-8000-000000000000' } },
      });
      assert.equal(refused.status, 422);
    });

    it('links to records of another application by their opaque id', async () => {
      const { clientId } = await clientOn('lead');
      const res = await ctx().request('PATCH', `/api/v1/clients/${clientId}`, {
        body: { applicationItem: { type: 'lead', id: 'L-42' } },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.applicationItem, { type: 'lead', id: 'L-42' });
    });

    it('refuses (422) a link to a contact that does not exist', async () => {
      const { clientId } = await clientOn('contact');
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        const res = await ctx().request('PATCH', `/api/v1/clients/${clientId}`, {
          body: { applicationItem: { type: 'contact', id } },
        });
        assert.equal(res.status, 422);
        assert.equal(res.body.error.code, 'LINKED_RECORD_NOT_FOUND');
      }
    });

    it('searches contacts by name pattern, phone and e-mail', async () => {
      const tag = unique('zed');
      const a = await ctx().request('POST', '/api/v1/contacts', {
        body: { name: `${tag} Alpha`, phones: ['+7 900 000 00 01'], emails: ['A@Example.com'] },
      });
      await ctx().request('POST', '/api/v1/contacts', {
        body: { name: `${tag} Beta`, phones: ['+79000000002'] },
      });
      const byName = await ctx().request('POST', '/api/v1/contacts/search', {
        body: {
          where: { field: 'name', op: 'like', value: `${tag}%` },
          sort: [{ field: 'name', dir: 'desc' }],
        },
      });
      assert.deepEqual(
        byName.body.items.map((c: { name: string }) => c.name),
        [`${tag} Beta`, `${tag} Alpha`],
      );
      const byPhone = await ctx().request('POST', '/api/v1/contacts/search', {
        body: { where: { field: 'phones', op: 'eq', value: '+79000000001' } },
      });
      assert.deepEqual(
        byPhone.body.items.map((c: { id: string }) => c.id),
        [a.body.id],
      );
      const byEmail = await ctx().request('POST', '/api/v1/contacts/search', {
        body: { where: { field: 'emails', op: 'all', value: ['a@example.com'] } },
      });
      assert.equal(byEmail.body.items[0].id, a.body.id);
    });

    it('merges two contacts: clients relinked, details united, the source soft-deleted', async () => {
      const one = await clientOn('contact');
      const two = await clientOn('contact');
      const target = (
        await ctx().request('POST', '/api/v1/contacts', {
          body: { name: 'Target', phones: ['111111'], notes: 'vip' },
        })
      ).body;
      const source = (
        await ctx().request('POST', '/api/v1/contacts', {
          body: { name: 'Source', phones: ['222222'], notes: 'dup' },
        })
      ).body;
      await ctx().request('PATCH', `/api/v1/clients/${one.clientId}`, {
        body: { applicationItem: { type: 'contact', id: target.id } },
      });
      await ctx().request('PATCH', `/api/v1/clients/${two.clientId}`, {
        body: { applicationItem: { type: 'contact', id: source.id } },
      });
      const res = await ctx().request('POST', `/api/v1/contacts/${target.id}/merge`, {
        body: { sourceId: source.id },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.relinkedClients, 1);
      assert.deepEqual(res.body.contact.phones.sort(), ['111111', '222222']);
      assert.equal(res.body.contact.notes, 'vip\n\ndup');
      const moved = await ctx().request('GET', `/api/v1/clients/${two.clientId}`);
      assert.deepEqual(moved.body.applicationItem, { type: 'contact', id: target.id });
      assert.equal((await ctx().request('GET', `/api/v1/contacts/${source.id}`)).status, 404);
      const self = await ctx().request('POST', `/api/v1/contacts/${target.id}/merge`, {
        body: { sourceId: target.id },
      });
      assert.equal(self.body.error.code, 'MERGE_WITH_ITSELF');
    });

    it('lets operators edit contacts but only supervisors and admins delete or merge them', async () => {
      const op = await createUser(ctx(), 'operator');
      const c = (
        await ctx().request('POST', '/api/v1/contacts', { token: op.token, body: { name: 'By operator' } })
      ).body;
      assert.ok(c.id);
      assert.equal(
        (await ctx().request('DELETE', `/api/v1/contacts/${c.id}`, { token: op.token })).status,
        403,
      );
      const sup = await createUser(ctx(), 'supervisor');
      assert.equal(
        (await ctx().request('DELETE', `/api/v1/contacts/${c.id}`, { token: sup.token })).status,
        204,
      );
    });

    it('hides clients of other lines from an operator', async () => {
      const op = await createUser(ctx(), 'operator');
      const { clientId } = await clientOn('contact');
      assert.equal(
        (await ctx().request('GET', `/api/v1/clients/${clientId}`, { token: op.token })).status,
        404,
      );
      const found = await ctx().request('POST', '/api/v1/clients/search', {
        token: op.token,
        body: { where: { field: 'id', op: 'eq', value: clientId } },
      });
      assert.equal(found.body.total, 0);
      assert.equal(
        (
          await ctx().request('PATCH', `/api/v1/clients/${clientId}`, {
            token: op.token,
            body: { banned: true },
          })
        ).status,
        404,
      );
    });
  },
  { plugins: [stubProviders()] },
);
