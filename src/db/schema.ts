/**
 * The database schema, one table per noun. Migrations are generated from this file with
 * `npm run db:generate` (drizzle-kit) and applied at start by `migrate.ts`.
 *
 * Every domain record has id, createdAt, updatedAt and deletedAt (soft delete).
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

const record = {
  id: uuid('id').primaryKey().defaultRandom(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  deletedAt: ts('deleted_at'),
};

/** Who can act on a session: a staff role (admin, supervisor, operator), a bot, the client, the system. */
export const ACTOR_TYPES = ['admin', 'supervisor', 'operator', 'bot', 'client', 'system'] as const;

/** Who did something: the caller by their role, the client, or the system (id null). */
export interface ActorRef {
  type: (typeof ACTOR_TYPES)[number];
  id: string | null;
}

export interface LineSettings {
  /** The application (CRM record type) client accounts of this line may be linked to. */
  applicationType: string | null;
}

export const users = pgTable(
  'users',
  {
    ...record,
    login: text('login').notNull(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    passwordHash: text('password_hash').notNull(),
    blocked: boolean('blocked').notNull().default(false),
    /** Operator status: online | busy | away | offline. Only online operators receive new sessions. */
    status: text('status').notNull().default('offline'),
    statusChangedAt: ts('status_changed_at'),
    /** Capacity override (max simultaneous sessions); null takes the queue's. */
    maxSessions: integer('max_sessions'),
    /** When routing last gave this operator a session (ties of the fewest-sessions rule). */
    lastAssignedAt: ts('last_assigned_at'),
    /**
     * Sessions AssignedToOperator to this operator now: kept by the sessions_operator_load trigger
     * on every change of a session's state or operator (migration 0007), so routing reads a load
     * from the row it locks instead of counting sessions (a count whose cost grows with the dead
     * row versions of every session the operator ever held, until vacuum).
     */
    openSessions: integer('open_sessions').notNull().default(0),
    /** Live realtime connections, and when the last one closed (offline after a grace period). */
    connections: integer('connections').notNull().default(0),
    /** The login (API token id) holding the operator's workspace: a newer login closes the others (chatUserExists). */
    liveClient: text('live_client'),
    disconnectedAt: ts('disconnected_at'),
  },
  (t) => [uniqueIndex('users_login_live_uq').on(sql`lower(${t.login})`).where(sql`${t.deletedAt} IS NULL`)],
);

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    tokenHash: text('token_hash').notNull(),
    name: text('name').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastUsedAt: ts('last_used_at'),
    expiresAt: ts('expires_at'),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_uq').on(t.tokenHash), index('api_tokens_user_idx').on(t.userId)],
);

export const lines = pgTable('lines', {
  ...record,
  name: text('name').notNull(),
  settings: jsonb('settings').$type<LineSettings>().notNull(),
  queue: jsonb('queue').$type<Record<string, unknown>>().notNull().default({}),
  /** The bot new sessions of this line go to first. */
  botId: uuid('bot_id'),
  /** Round-robin position: the operator who got the last session. */
  lastRoutedOperatorId: uuid('last_routed_operator_id'),
});

export const operatorGroups = pgTable('operator_groups', {
  ...record,
  name: text('name').notNull(),
});

export const groupMembers = pgTable(
  'group_members',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => operatorGroups.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index('group_members_user_idx').on(t.userId)],
);

/** Operators (and supervisors) who serve a line directly. */
export const lineOperators = pgTable(
  'line_operators',
  {
    lineId: uuid('line_id')
      .notNull()
      .references(() => lines.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
  },
  (t) => [primaryKey({ columns: [t.lineId, t.userId] }), index('line_operators_user_idx').on(t.userId)],
);

/** Operator groups that serve a line. */
export const lineGroups = pgTable(
  'line_groups',
  {
    lineId: uuid('line_id')
      .notNull()
      .references(() => lines.id),
    groupId: uuid('group_id')
      .notNull()
      .references(() => operatorGroups.id),
  },
  (t) => [primaryKey({ columns: [t.lineId, t.groupId] }), index('line_groups_group_idx').on(t.groupId)],
);

export const bots = pgTable('bots', {
  ...record,
  name: text('name').notNull(),
  /** Encrypted JSON (webhook url, secret); write-only through the API. */
  settingsEnc: text('settings_enc'),
});

export const channels = pgTable(
  'channels',
  {
    ...record,
    lineId: uuid('line_id')
      .notNull()
      .references(() => lines.id),
    name: text('name').notNull(),
    type: text('type').notNull(),
    state: text('state').notNull().default('active'),
    stateReason: text('state_reason'),
    /** The channel's own id inside its messenger (bot id, page id, phone-number id…). */
    source: text('source'),
    /** Encrypted provider settings (tokens, secrets): AES-256-GCM, see crypto/secret-box.ts. */
    settingsEnc: text('settings_enc'),
  },
  (t) => [
    uniqueIndex('channels_type_source_live_uq')
      .on(t.type, t.source)
      .where(sql`${t.deletedAt} IS NULL AND ${t.source} IS NOT NULL`),
    index('channels_line_idx').on(t.lineId),
  ],
);

export const contacts = pgTable(
  'contacts',
  {
    ...record,
    name: text('name').notNull(),
    phones: text('phones').array().notNull().default(sql`'{}'::text[]`),
    emails: text('emails').array().notNull().default(sql`'{}'::text[]`),
    notes: text('notes'),
    /** Set when this contact was merged into another one. */
    mergedIntoId: uuid('merged_into_id'),
  },
  (t) => [
    index('contacts_name_idx').on(sql`lower(${t.name}) text_pattern_ops`),
    index('contacts_phones_gin').using('gin', t.phones),
    index('contacts_emails_gin').using('gin', t.emails),
  ],
);

export const clients = pgTable(
  'clients',
  {
    ...record,
    channelId: uuid('channel_id')
      .notNull()
      .references(() => channels.id),
    externalId: text('external_id').notNull(),
    username: text('username'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    phone: text('phone'),
    email: text('email'),
    avatarUrl: text('avatar_url'),
    applicationType: text('application_type'),
    applicationId: text('application_id'),
    banned: boolean('banned').notNull().default(false),
    /** Set when the messenger refuses delivery for good (e.g. the user blocked the bot). */
    unreachable: boolean('unreachable').notNull().default(false),
    unreachableReason: text('unreachable_reason'),
    online: boolean('online').notNull().default(false),
    lastSeenAt: ts('last_seen_at'),
  },
  (t) => [
    uniqueIndex('clients_channel_external_live_uq')
      .on(t.channelId, t.externalId)
      .where(sql`${t.deletedAt} IS NULL`),
    index('clients_username_idx').on(t.username),
    // sessions.create(channel, account) finds the client by username, phone or e-mail (any case).
    // Each lookup must have exactly one index it can use, whatever the planner believes about the
    // table: a prepared statement's generic plan is made once, often while the table is nearly
    // empty, and then kept. So these hold only rows that have the account (a lookup by external id
    // cannot use them), and not only live rows: the account lookups leave out deleted rows after
    // the index (see client.repository), so the (channel, external id) index of live rows, which
    // once served them by scanning the whole channel, does not apply to them.
    index('clients_channel_username_idx')
      .on(t.channelId, sql`lower(${t.username})`)
      .where(sql`${t.username} IS NOT NULL`),
    index('clients_channel_phone_idx')
      .on(t.channelId, sql`lower(${t.phone})`)
      .where(sql`${t.phone} IS NOT NULL`),
    index('clients_channel_email_idx')
      .on(t.channelId, sql`lower(${t.email})`)
      .where(sql`${t.email} IS NOT NULL`),
    index('clients_application_idx').on(t.applicationType, t.applicationId),
  ],
);

export const sessions = pgTable(
  'sessions',
  {
    ...record,
    lineId: uuid('line_id')
      .notNull()
      .references(() => lines.id),
    channelId: uuid('channel_id')
      .notNull()
      .references(() => channels.id),
    /** The client who opened the session; the open-session uniqueness is enforced on it. */
    clientId: uuid('client_id')
      .notNull()
      .references(() => clients.id),
    clientIds: uuid('client_ids').array().notNull(),
    state: text('state').notNull(),
    /** 0 Low, 1 Medium, 2 High: stored as a rank so the queue order is an index scan. */
    priority: smallint('priority').notNull().default(1),
    operatorId: uuid('operator_id'),
    operatorGroupId: uuid('operator_group_id'),
    botId: uuid('bot_id'),
    previousSessionId: uuid('previous_session_id'),
    startedAt: ts('started_at').notNull().defaultNow(),
    operatorAssignedAt: ts('operator_assigned_at'),
    firstAnswerAt: ts('first_answer_at'),
    lastMessageAt: ts('last_message_at'),
    closedAt: ts('closed_at'),
    closedBy: jsonb('closed_by').$type<ActorRef>(),
    /** When the session (re)entered the queue: queue order is priority, then this. */
    queuedAt: ts('queued_at'),
    /** Operators a Waiting session is offered to (first to accept takes it). */
    offeredTo: uuid('offered_to').array().notNull().default(sql`'{}'::uuid[]`),
    offeredAt: ts('offered_at'),
    /** When the assigned operator accepted; null while an assignment waits for acceptance. */
    acceptedAt: ts('accepted_at'),
    /** Operators who let an offer time out (not offered again this session). */
    declinedBy: uuid('declined_by').array().notNull().default(sql`'{}'::uuid[]`),
    previousOperatorId: uuid('previous_operator_id'),
    firstAssignedAt: ts('first_assigned_at'),
    lastClientMessageAt: ts('last_client_message_at'),
    /** Set by a client message while no operator answer follows it yet (the next-answer timer). */
    awaitingAnswerSince: ts('awaiting_answer_since'),
    unreadByOperator: integer('unread_by_operator').notNull().default(0),
    unreadByClient: integer('unread_by_client').notNull().default(0),
    /** What the conversation is about, where the messenger names it (an e-mail thread's subject). */
    title: text('title'),
  },
  (t) => [
    uniqueIndex('sessions_one_open_per_client_uq')
      .on(t.clientId, t.channelId)
      .where(sql`${t.state} IN ('Waiting', 'AssignedToBot', 'AssignedToOperator')`),
    index('sessions_client_ids_gin').using('gin', t.clientIds),
    index('sessions_chain_idx').on(t.clientId, t.channelId, t.startedAt.desc(), t.createdAt.desc()),
    index('sessions_queue_idx')
      .on(t.lineId, t.state, t.priority.desc(), t.startedAt)
      .where(sql`${t.deletedAt} IS NULL`),
    // Partial: a session's versions before its first assignment have no operator to look up.
    index('sessions_operator_idx').on(t.operatorId, t.state).where(sql`${t.operatorId} IS NOT NULL`),
    index('sessions_waiting_idx')
      .on(t.lineId, t.priority.desc(), t.queuedAt)
      .where(sql`${t.state} = 'Waiting'`),
    // The groups a line's queue waits for: a routing pass locks their members with the line's staff.
    index('sessions_waiting_group_idx')
      .on(t.lineId, t.operatorGroupId)
      .where(sql`${t.state} = 'Waiting' AND ${t.operatorGroupId} IS NOT NULL`),
    // Partial: only closed versions are looked up by closing time (a range implies NOT NULL).
    index('sessions_closed_at_idx').on(t.lineId, t.closedAt).where(sql`${t.closedAt} IS NOT NULL`),
    index('sessions_started_idx').on(t.startedAt),
  ],
);

export const sessionHistory = pgTable(
  'session_history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id),
    event: text('event').notNull(),
    fromState: text('from_state'),
    toState: text('to_state').notNull(),
    actor: jsonb('actor').$type<ActorRef>().notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('session_history_session_idx').on(t.sessionId, t.id)],
);

export interface MessageAttachment {
  fileId: string | null;
  name: string | null;
  mimeType: string | null;
  size: number | null;
  /** Where the file can be fetched from until it is in the file store (provider reference or URL). */
  ref?: string | null;
}

export const messages = pgTable(
  'messages',
  {
    ...record,
    /** Total order of messages; the cursor of message pages. */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id),
    /**
     * The session's channel, copied for the de-duplication index. No foreign key: the session's
     * own key guards it, and a key check here would share-lock the one channel row from every
     * concurrent message (a MultiXact per insert under load).
     */
    channelId: uuid('channel_id').notNull(),
    direction: text('direction').notNull(),
    type: text('type').notNull(),
    text: text('text'),
    attachments: jsonb('attachments').$type<MessageAttachment[]>().notNull().default([]),
    senderType: text('sender_type').notNull(),
    senderId: text('sender_id'),
    externalId: text('external_id'),
    status: text('status').notNull(),
    error: jsonb('error').$type<{ code: string; message: string } | null>(),
    editedAt: ts('edited_at'),
    readAt: ts('read_at'),
  },
  (t) => [
    uniqueIndex('messages_seq_uq').on(t.seq),
    uniqueIndex('messages_channel_external_uq')
      .on(t.channelId, t.direction, t.externalId)
      .where(sql`${t.externalId} IS NOT NULL`),
    index('messages_session_seq_idx').on(t.sessionId, t.seq.desc()),
  ],
);

/**
 * Domain events, written in the transaction that made the change and published after commit.
 * The table is the durable record (and, later, the realtime history source).
 */
export const domainEvents = pgTable(
  'domain_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: text('name').notNull(),
    aggregateId: uuid('aggregate_id'),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  // No index but the key: nothing reads events by aggregate yet, and every change writes events.
);

/**
 * Background work, claimed with `FOR UPDATE SKIP LOCKED` by any node: outbound sends, attachment
 * downloads. A job is leased (locked_until) while it runs; a crashed node's lease simply expires.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    kind: text('kind').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    runAt: ts('run_at').notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(10),
    lockedUntil: ts('locked_until'),
    lockedBy: text('locked_by'),
    lastError: text('last_error'),
    doneAt: ts('done_at'),
    failedAt: ts('failed_at'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('jobs_due_idx').on(t.runAt).where(sql`${t.doneAt} IS NULL AND ${t.failedAt} IS NULL`)],
);

/** Files in the file store (attachments in and out), content-addressed by sha256. */
export const files = pgTable(
  'files',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sha256: text('sha256').notNull(),
    size: bigint('size', { mode: 'number' }).notNull(),
    mimeType: text('mime_type').notNull(),
    name: text('name'),
    storageKey: text('storage_key').notNull(),
    /** The session whose message carries the file: who may see the session may read the file. */
    sessionId: uuid('session_id'),
    uploadedBy: uuid('uploaded_by'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('files_session_idx').on(t.sessionId)],
);

/** Per-channel cursor of a polled messenger (Telegram getUpdates offset), advanced with the messages it read. */
export const channelCursors = pgTable('channel_cursors', {
  channelId: uuid('channel_id')
    .primaryKey()
    .references(() => channels.id),
  cursor: text('cursor').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** Cluster-wide leases: exactly one node polls a channel at a time. */
export const leases = pgTable('leases', {
  name: text('name').primaryKey(),
  holder: text('holder').notNull(),
  expiresAt: ts('expires_at').notNull(),
});

/** Answer times: each operator answer to a client message (first and next), for line metrics. */
export const answerTimes = pgTable(
  'answer_times',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id),
    lineId: uuid('line_id').notNull(),
    operatorId: uuid('operator_id'),
    kind: text('kind').notNull(),
    askedAt: ts('asked_at').notNull(),
    answeredAt: ts('answered_at').notNull(),
    seconds: doublePrecision('seconds').notNull(),
  },
  (t) => [
    index('answer_times_line_idx').on(t.lineId, t.answeredAt),
    index('answer_times_session_idx').on(t.sessionId),
  ],
);

/**
 * Security audit: one row per refused login (wrong login or password, a blocked user, a locked login
 * or address). Never a password; `userId` is the user the login named, when one exists.
 * Admins read it with `POST /api/v1/audit/search`.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: ts('at').notNull().defaultNow(),
    /** What happened, dotted: `login.failed`. */
    action: text('action').notNull(),
    login: text('login'),
    ip: text('ip'),
    /** Why: invalid_credentials | user_blocked | login_locked | ip_locked. */
    reason: text('reason').notNull(),
    userId: uuid('user_id'),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at),
    index('audit_log_login_idx').on(t.login, t.at),
    index('audit_log_ip_idx').on(t.ip, t.at),
  ],
);

/**
 * Canned replies of the operator desk: a line's (`lineId`, managed by its supervisors) or an
 * operator's own (`userId`); exactly one of the two. Inserted in the composer with `/shortcut`.
 */
export const cannedReplies = pgTable(
  'canned_replies',
  {
    ...record,
    lineId: uuid('line_id').references(() => lines.id),
    userId: uuid('user_id').references(() => users.id),
    shortcut: text('shortcut').notNull(),
    text: text('text').notNull(),
  },
  (t) => [
    uniqueIndex('canned_replies_line_uq')
      .on(t.lineId, sql`lower(${t.shortcut})`)
      .where(sql`${t.lineId} IS NOT NULL AND ${t.deletedAt} IS NULL`),
    uniqueIndex('canned_replies_user_uq')
      .on(t.userId, sql`lower(${t.shortcut})`)
      .where(sql`${t.userId} IS NOT NULL AND ${t.deletedAt} IS NULL`),
  ],
);

/**
 * A live-chat visitor's last page load (`POST /livechat/:channelId/visitors`): where they chat from,
 * shown with their sessions (chatSessionStarted's `referer`, `clientIp`, `coordinates`). The visitor
 * becomes a client with their first message; this row exists from the first page load.
 */
export const livechatVisitors = pgTable(
  'livechat_visitors',
  {
    channelId: uuid('channel_id').notNull(),
    externalId: text('external_id').notNull(),
    pageUrl: text('page_url'),
    referer: text('referer'),
    ip: text('ip'),
    /** From the configured GeoIP database only; null when there is none or it knows nothing. */
    coordinates: jsonb('coordinates').$type<Record<string, unknown>>(),
    verified: boolean('verified').notNull().default(false),
    seenAt: ts('seen_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'livechat_visitors_pk', columns: [t.channelId, t.externalId] })],
);

/** The client's satisfaction rating of a closed session (CSAT, 1–5), one per session. */
export const sessionRatings = pgTable(
  'session_ratings',
  {
    sessionId: uuid('session_id').primaryKey(),
    lineId: uuid('line_id').notNull(),
    rating: smallint('rating').notNull(),
    comment: text('comment'),
    ratedAt: ts('rated_at').notNull().defaultNow(),
  },
  (t) => [index('session_ratings_line_idx').on(t.lineId, t.ratedAt)],
);
