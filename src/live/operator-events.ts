/**
 * The operator live-event catalogue (vendor document 002), one type per event. Operator apps receive
 * them as publications on their personal channel (`operator:<id>`) and switch on `data.event`:
 *
 *   centrifuge.on('publication', (ctx) => { switch (ctx.data.event) { case 'chatMessageCreated': … } })
 *
 * The event types are the wire contract, declared once in the SDK (sdk/src/events.ts) because a
 * client package cannot import the server; the server builds its payloads against them, so a field
 * the server sends and the SDK does not know fails `tsc`.
 */
export type * from '../../sdk/src/events.ts';

/** Channel names: an operator's personal stream, a line's and a session's (supervisors watch these). */
export const channels = {
  operator: (id: string) => `operator:${id}`,
  line: (id: string) => `line:${id}`,
  session: (id: string) => `session:${id}`,
  /** A client's own stream, for clients that connect themselves (a live-chat visitor). */
  client: (channelId: string, externalId: string) => `client:${channelId}:${externalId}`,
};
