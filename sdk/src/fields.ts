/**
 * The field handles of each collection, named as the lines API names them: `__` system fields
 * (`__id`, `__name`, `__createdAt`, `__deletedAt`), `_` domain fields. Each handle carries the REST
 * field it compiles to (`_clients` → `clientIds`).
 */
import type { LineChannelState, LineChannelType, LineSessionPriority, LineSessionState } from './enums.ts';
import {
  ArrayField,
  EnumField,
  Field,
  IntField,
  PriorityField,
  RefField,
  type RefOrId,
  TextField,
  TimeField,
} from './where.ts';

const system = () => ({
  __id: new RefField('id'),
  __createdAt: new TimeField('createdAt'),
  __deletedAt: new TimeField('deletedAt'),
});
const named = () => ({ ...system(), __name: new TextField('name') });

export const lineFields = () => ({ ...named(), __updatedAt: new TimeField('updatedAt') });

export const channelFields = () => ({
  ...named(),
  __updatedAt: new TimeField('updatedAt'),
  _line: new RefField('lineId'),
  _type: new EnumField<LineChannelType>('type'),
  _state: new EnumField<LineChannelState>('state'),
  _source: new TextField('source'),
});

export const clientFields = () => ({
  ...system(),
  __updatedAt: new TimeField('updatedAt'),
  _channel: new RefField('channelId'),
  _externalId: new TextField('externalId'),
  _username: new TextField('username'),
  _firstName: new TextField('firstName'),
  _lastName: new TextField('lastName'),
  _phone: new TextField('phone'),
  _email: new TextField('email'),
  _applicationType: new TextField('applicationType'),
  _applicationId: new TextField('applicationId'),
  _banned: new Field<boolean>('banned'),
  _online: new Field<boolean>('online'),
  _lastSeenAt: new TimeField('lastSeenAt'),
});

export const contactFields = () => ({
  ...named(),
  __updatedAt: new TimeField('updatedAt'),
  _phone: new ArrayField<string>('phones'),
  _email: new ArrayField<string>('emails'),
  _notes: new TextField('notes'),
  _mergedInto: new RefField('mergedIntoId'),
});

export const sessionFields = () => ({
  ...system(),
  __updatedAt: new TimeField('updatedAt'),
  _line: new RefField('lineId'),
  _channel: new RefField('channelId'),
  _clients: new ArrayField<RefOrId>('clientIds'),
  _state: new EnumField<LineSessionState>('state'),
  _priority: new PriorityField<LineSessionPriority>('priority'),
  _operator: new RefField('operatorId'),
  _group: new RefField('operatorGroupId'),
  _bot: new RefField('botId'),
  _previousSession: new RefField('previousSessionId'),
  _startedAt: new TimeField('startedAt'),
  _operatorAssignedAt: new TimeField('operatorAssignedAt'),
  _firstAnswerAt: new TimeField('firstAnswerAt'),
  _lastMessageAt: new TimeField('lastMessageAt'),
  _closedAt: new TimeField('closedAt'),
  _unreadClientMessageCount: new IntField('unreadClientMessageCount'),
});

export const messageFields = () => ({
  ...system(),
  _session: new RefField('sessionId'),
  _channel: new RefField('channelId'),
  _direction: new EnumField<'incoming' | 'outgoing'>('direction'),
  _type: new EnumField<string>('type'),
  _text: new TextField('text'),
  _senderType: new EnumField<string>('senderType'),
  _senderId: new TextField('senderId'),
  _externalId: new TextField('externalId'),
  _status: new EnumField<string>('status'),
  _editedAt: new TimeField('editedAt'),
  _readAt: new TimeField('readAt'),
});

export const userFields = () => ({
  ...named(),
  _login: new TextField('login'),
  _role: new EnumField<'admin' | 'supervisor' | 'operator' | 'bot'>('role'),
  _blocked: new Field<boolean>('blocked'),
});

export const groupFields = named;
export const botFields = named;

export type LineFields = ReturnType<typeof lineFields>;
export type ChannelFields = ReturnType<typeof channelFields>;
export type ClientFields = ReturnType<typeof clientFields>;
export type ContactFields = ReturnType<typeof contactFields>;
export type SessionFields = ReturnType<typeof sessionFields>;
export type MessageFields = ReturnType<typeof messageFields>;
export type UserFields = ReturnType<typeof userFields>;
export type GroupFields = ReturnType<typeof groupFields>;
export type BotFields = ReturnType<typeof botFields>;
