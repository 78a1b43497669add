import { Type } from 'typebox';
import { CHANNEL_STATES, CHANNEL_TYPES } from '../../domain/channel/channel.ts';
import { InvalidField } from '../../errors.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import {
  ChannelSchema,
  Enum,
  ErrorAnswer,
  FreeForm,
  IdParams,
  NoContent,
  Nullable,
  Page,
  SearchBody,
  Uuid,
} from '../schemas.ts';
import { listRoute, TextFilter } from './collection-list.ts';

const Name = Type.String({ minLength: 1, maxLength: 200 });
const Source = Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 200 })));
const Settings = Type.Optional(
  FreeForm(
    'Provider settings (tokens, secrets): write-only, stored encrypted. By type — api: `{secret, callbackUrl}`; ' +
      'telegramBot: `{token, mode, apiRoot}`; inbox: `{imap: {host, port, secure, user, password, folder}, ' +
      'smtp: {host, port, secure, user, password, from}, backfillDays, smtpIn: {address}}` (`secure` defaults ' +
      'to true, ports to 993/465 with TLS and 143/587 without, `folder` to INBOX, `backfillDays` to 7; the ' +
      'passwords never come back); whatsapp: `{provider: "whatsappCloud", accessToken, appSecret, verifyToken, ' +
      'phoneNumberId, wabaId, apiRoot, apiVersion}` or `{provider: "twilio", accountSid, authToken, from, ' +
      'publicBaseUrl, apiRoot}`; facebook and instagram: `{pageAccessToken, appSecret, verifyToken, pageId, ' +
      'humanAgentTag, apiRoot, apiVersion}`; viberbot: `{authToken, senderName, senderAvatar, apiRoot}`. ' +
      'Tokens, secrets and passwords come back masked.',
  ),
);

export function channelRoutes(app: App, { services, auth }: RouteContext): void {
  const admin = auth.require('admin');
  const tags = ['channels'];
  app.post(
    '/channels',
    {
      preHandler: admin,
      schema: {
        tags,
        summary:
          'Connect a channel to a line: the provider checks its settings and learns its source (admin)',
        body: Type.Object(
          {
            lineId: Uuid,
            name: Name,
            type: Type.String({ minLength: 1, maxLength: 50, description: CHANNEL_TYPES.join(', ') }),
            source: Source,
            settings: Settings,
          },
          { additionalProperties: false },
        ),
        response: {
          201: ChannelSchema,
          404: ErrorAnswer('The line does not exist: `LINE_NOT_FOUND`.'),
          409: ErrorAnswer('A live channel of this type has this source: `CHANNEL_SOURCE_TAKEN`.'),
          422: ErrorAnswer(
            'No provider serves the type (`NO_PROVIDER_FOR_TYPE`, naming those that do), or the messenger refused the settings (`CHANNEL_REGISTRATION_FAILED`, the provider says why).',
          ),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await services.channels.create(req.body)),
  );
  app.get(
    '/channels/:id',
    {
      preHandler: auth.any,
      schema: {
        tags,
        summary: 'A channel (settings masked)',
        params: IdParams,
        response: { 200: ChannelSchema },
      },
    },
    (req) => services.channels.get(req.params.id, callerOf(req)),
  );
  app.post(
    '/channels/search',
    {
      preHandler: auth.any,
      schema: { tags, summary: 'Search channels', body: SearchBody, response: { 200: Page(ChannelSchema) } },
    },
    (req) => services.channels.search(req.body, callerOf(req)),
  );
  listRoute(app, {
    url: '/channels',
    tags,
    summary: 'List channels (of your lines, unless admin; settings masked), a page at a time',
    preHandler: auth.any,
    item: ChannelSchema,
    softDeleted: true,
    filters: {
      lineId: { field: 'lineId', schema: Uuid },
      type: { field: 'type', schema: Enum(CHANNEL_TYPES) },
      state: { field: 'state', schema: Enum(CHANNEL_STATES) },
      name: TextFilter('name', 'the channel’s name'),
    },
    search: (request, req) => services.channels.search(request, callerOf(req)),
  });
  app.patch(
    '/channels/:id',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Change a channel; settings merge (null removes a key, the mask keeps the old value)',
        params: IdParams,
        body: Type.Object(
          { name: Type.Optional(Name), source: Source, settings: Settings },
          { additionalProperties: false },
        ),
        response: {
          200: ChannelSchema,
          409: ErrorAnswer('A live channel of this type has this source: `CHANNEL_SOURCE_TAKEN`.'),
          422: ErrorAnswer('The messenger refused the new settings: `CHANNEL_REGISTRATION_FAILED`.'),
        },
      },
    },
    (req) => services.channels.update(req.params.id, req.body),
  );
  app.delete(
    '/channels/:id',
    {
      preHandler: admin,
      schema: { tags, summary: 'Delete a channel (admin)', params: IdParams, response: { 204: NoContent } },
    },
    async (req, reply) => {
      await services.channels.remove(req.params.id);
      return reply.status(204).send();
    },
  );
  app.post(
    '/channels/:id/disconnect',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Disconnect a channel; an optional JSON body {"reason"} is kept as stateReason',
        params: IdParams,
        response: {
          200: ChannelSchema,
          409: ErrorAnswer('The channel is disconnected already: `CHANNEL_ALREADY_DISCONNECTED`.'),
        },
      },
    },
    (req) => services.channels.disconnect(req.params.id, optionalReason(req.body)),
  );
  app.post(
    '/channels/:id/reconnect',
    {
      preHandler: admin,
      schema: {
        tags,
        summary: 'Reconnect a channel (telegramBot, inbox, viberbot, livechat, instagram only; others 409)',
        params: IdParams,
        response: {
          200: ChannelSchema,
          409: ErrorAnswer(
            'The channel is active already (`CHANNEL_ALREADY_ACTIVE`) or its type does not reconnect (`CHANNEL_RECONNECT_NOT_SUPPORTED`).',
          ),
          422: ErrorAnswer('The messenger refused the settings: `CHANNEL_REGISTRATION_FAILED`.'),
        },
      },
    },
    (req) => services.channels.reconnect(req.params.id),
  );
}

/** The body of a disconnect is optional; when present it may carry a reason. */
function optionalReason(body: unknown): string | null {
  if (body === undefined || body === null) return null;
  const reason = (body as { reason?: unknown }).reason;
  if (
    typeof body !== 'object' ||
    Array.isArray(body) ||
    (reason !== undefined && typeof reason !== 'string')
  ) {
    throw new InvalidField('body.reason', 'must be a string');
  }
  return reason === undefined ? null : reason.slice(0, 500);
}
