/** TypeBox schemas shared by routes: they validate requests and document the API (OpenAPI). */
import { type Static, type TSchema, Type } from 'typebox';
import { ACTOR_TYPES } from '../db/schema.ts';
import { CHANNEL_STATES, CHANNEL_TYPES } from '../domain/channel/channel.ts';
import {
  MESSAGE_DIRECTIONS,
  MESSAGE_STATUSES,
  MESSAGE_TYPES,
  SENDER_TYPES,
} from '../domain/message/message.ts';
import { PRIORITIES, SESSION_STATES } from '../domain/session/session.ts';
import { ROLES } from '../domain/user/user.ts';

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const NullableTs = Nullable(Timestamp);
const Enum = <const T extends string[]>(values: readonly [...T]) => Type.Enum(values);

export const IdParams = Type.Object({ id: Uuid });

/** Free-form objects (settings) are capped: at most this many keys and this many bytes as JSON. */
export const FREE_FORM_MAX_KEYS = 64;
export const FREE_FORM_MAX_BYTES = 16 * 1024;

/**
 * A free-form JSON object in a request (provider, bot or queue settings): any keys, capped in keys and
 * size (`x-max-json-bytes`, see http/plugins/input-guard.ts, which also caps every input's depth).
 */
export const FreeForm = (description: string, properties: Record<string, TSchema> = {}) =>
  Type.Object(properties, {
    additionalProperties: true,
    maxProperties: FREE_FORM_MAX_KEYS,
    'x-max-json-bytes': FREE_FORM_MAX_BYTES,
    description: `${description} At most ${FREE_FORM_MAX_KEYS} keys and ${FREE_FORM_MAX_BYTES} bytes as JSON.`,
  });

const errorProperties = {
  error: Type.Object(
    {
      code: Type.String({ description: 'stable and machine-readable, e.g. SESSION_NOT_FOUND' }),
      message: Type.String({ description: 'for people: says what is wrong, naming the field' }),
      details: Type.Optional(
        Type.Unknown({
          description: 'free-form: `errors[]` with the `path` of each invalid field, the id concerned, …',
        }),
      ),
    },
    // Serialized through this schema: nothing an error carries may be dropped.
    { additionalProperties: true },
  ),
};

/** The answer of an operation that answers nothing (a delete, a logout). */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'Done; no body' });

/** A stored file's bytes (streamed). */
export const FileBytes = Type.Unsafe<unknown>({
  type: 'string',
  format: 'binary',
  description: 'The file’s bytes, with its content type, size and name (Content-Disposition)',
});

/**
 * The one error shape, `{"error": {"code", "message", "details"}}`, of every 4xx and 5xx answer: a
 * shared schema (app.addSchema), `#/components/schemas/ErrorResponse` in the OpenAPI document.
 */
export const ErrorResponse = Type.Object(errorProperties, {
  $id: 'ErrorResponse',
  additionalProperties: true,
});

/**
 * An error response of an operation: the shared shape, with what the status means there and its
 * codes (`409: ErrorAnswer('… SESSION_CLOSED …')`).
 */
export const ErrorAnswer = (description: string) =>
  Type.Unsafe<Static<typeof ErrorResponse>>({ $ref: 'ErrorResponse#', description });

export const SearchBody = Type.Object(
  {
    where: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description:
            'A condition {"field","op","value"} or {"and":[…]} / {"or":[…]} / {"not":{…}}. Ops: eq, neq, in, nin, all, gt, gte, lt, lte, like, isNull.',
        },
      ),
    ),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    from: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 })),
    sort: Type.Optional(
      Type.Array(
        Type.Object({
          field: Type.String({ maxLength: 100 }),
          dir: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
        }),
        { maxItems: 20 },
      ),
    ),
  },
  { additionalProperties: false },
);

/** Every list answers `{items, total}`: `total` counts all matches, not only this page's. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), total: Type.Integer() });

/** A list that grows (history, messages), read a page at a time: `nextCursor` is null on the last page. */
export const CursorPage = <T extends TSchema>(item: T) =>
  Type.Object({
    items: Type.Array(item),
    total: Type.Integer(),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'pass as `cursor` for the next page; null on the last',
    }),
  });

/** `?limit&cursor` of a CursorPage list. */
export const CursorQuery = (maxLimit: number, defaultLimit: number) =>
  Type.Object({
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: maxLimit, default: defaultLimit })),
    cursor: Type.Optional(
      Type.String({ pattern: '^[0-9]{1,18}$', description: 'the `nextCursor` of the page before' }),
    ),
  });

const recordTimes = { createdAt: Timestamp, updatedAt: Timestamp, deletedAt: NullableTs };

export const UserSchema = Type.Object({
  id: Uuid,
  login: Type.String(),
  name: Type.String(),
  role: Enum(ROLES),
  blocked: Type.Boolean(),
  ...recordTimes,
});

export const LineSettingsSchema = Type.Object({ applicationType: Nullable(Type.String()) });

export const LineSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  settings: LineSettingsSchema,
  queue: Type.Object({}, { additionalProperties: true }),
  operatorIds: Type.Array(Uuid),
  groupIds: Type.Array(Uuid),
  botId: Nullable(Uuid),
  ...recordTimes,
});

export const GroupSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  memberIds: Type.Array(Uuid),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const SettingsSchema = Type.Record(Type.String(), Type.Unknown(), {
  description: 'Secret values come back masked.',
});

export const BotSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  settings: SettingsSchema,
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const ChannelSchema = Type.Object({
  id: Uuid,
  lineId: Uuid,
  name: Type.String(),
  type: Type.String({
    description: `LineChannelType: ${CHANNEL_TYPES.join(', ')} (or a plugin provider's type)`,
  }),
  state: Enum(CHANNEL_STATES),
  stateReason: Nullable(Type.String()),
  source: Nullable(Type.String()),
  settings: SettingsSchema,
  ...recordTimes,
});

export const ApplicationItemSchema = Type.Object({
  type: Type.String({ minLength: 1 }),
  id: Type.String({ minLength: 1 }),
});

export const ClientSchema = Type.Object({
  id: Uuid,
  channelId: Uuid,
  externalId: Type.String(),
  username: Nullable(Type.String()),
  firstName: Nullable(Type.String()),
  lastName: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  email: Nullable(Type.String()),
  avatarUrl: Nullable(Type.String()),
  applicationItem: Nullable(ApplicationItemSchema),
  banned: Type.Boolean(),
  online: Type.Boolean(),
  lastSeenAt: NullableTs,
  ...recordTimes,
});

export const ContactSchema = Type.Object({
  id: Uuid,
  name: Type.String(),
  phones: Type.Array(Type.String()),
  emails: Type.Array(Type.String()),
  notes: Nullable(Type.String()),
  mergedIntoId: Nullable(Uuid),
  ...recordTimes,
});

const ActorSchema = Type.Object({
  type: Type.Enum(ACTOR_TYPES, {
    description: 'who acted: the caller by role, the client, or the system (id null)',
  }),
  id: Nullable(Type.String()),
});

export const SessionSchema = Type.Object({
  id: Uuid,
  lineId: Uuid,
  channelId: Uuid,
  clientIds: Type.Array(Uuid),
  state: Enum(SESSION_STATES),
  markedAsSpam: Type.Boolean(),
  priority: Enum(PRIORITIES),
  operatorId: Nullable(Uuid),
  operatorGroupId: Nullable(Uuid),
  botId: Nullable(Uuid),
  previousSessionId: Nullable(Uuid),
  title: Nullable(
    Type.String({
      description: "What the conversation is about: an e-mail thread's subject; null elsewhere",
    }),
  ),
  startedAt: Timestamp,
  operatorAssignedAt: NullableTs,
  firstAnswerAt: NullableTs,
  lastMessageAt: NullableTs,
  closedAt: NullableTs,
  closedBy: Nullable(ActorSchema),
  unreadClientMessageCount: Type.Integer(),
  unreadOperatorMessageCount: Type.Integer(),
  ...recordTimes,
});

export const HistoryEntrySchema = Type.Object({
  id: Type.Integer(),
  event: Type.String(),
  fromState: Nullable(Type.String()),
  toState: Type.String(),
  actor: ActorSchema,
  details: Type.Object({}, { additionalProperties: true }),
  at: Timestamp,
});

export const MessageSchema = Type.Object({
  id: Uuid,
  sessionId: Uuid,
  channelId: Uuid,
  direction: Enum(MESSAGE_DIRECTIONS),
  type: Enum(MESSAGE_TYPES),
  text: Nullable(Type.String()),
  attachments: Type.Array(
    Type.Object({
      fileId: Nullable(Type.String()),
      name: Nullable(Type.String()),
      mimeType: Nullable(Type.String()),
      size: Nullable(Type.Integer()),
    }),
  ),
  sender: Type.Object({ type: Enum(SENDER_TYPES), id: Nullable(Type.String()) }),
  externalId: Nullable(Type.String()),
  status: Enum(MESSAGE_STATUSES),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  editedAt: NullableTs,
  readAt: NullableTs,
  ...recordTimes,
  cursor: Type.String(),
});

export { Enum, Nullable };
