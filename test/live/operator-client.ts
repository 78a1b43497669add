/** An operator workspace as the vendor document writes it, with the official `centrifuge` SDK. */
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { waitFor } from '../helpers/wait.ts';

export interface OperatorApp {
  centrifuge: Centrifuge;
  events: { event: string; data: any; action?: string }[];
  disconnects: { code: number; reason: string }[];
  waitForEvent(name: string, match?: (data: any) => boolean, timeoutMs?: number): Promise<any>;
  close(): void;
}

export async function connectOperator(baseUrl: string, token: string): Promise<OperatorApp> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/centrifugo/connection/websocket`;
  // The vendor document's snippet, as written (plus the WebSocket implementation Node 20 needs).
  const centrifuge = new Centrifuge(url, {
    websocket: WebSocket,
    data: { application: 'notifications', settings: { token } },
    minReconnectDelay: 50,
    maxReconnectDelay: 200,
  });
  const events: OperatorApp['events'] = [];
  const disconnects: OperatorApp['disconnects'] = [];
  centrifuge.on('publication', (publication) => {
    const payload = publication.data;
    switch (payload.event) {
      default:
        events.push(payload);
    }
  });
  centrifuge.on('disconnected', (ctx) => disconnects.push({ code: ctx.code, reason: ctx.reason }));
  const connected = new Promise<void>((resolve, reject) => {
    centrifuge.once('connected', () => resolve());
    centrifuge.once('disconnected', (ctx) => reject(new Error(`disconnected ${ctx.code} ${ctx.reason}`)));
  });
  centrifuge.connect();
  await connected;
  return {
    centrifuge,
    events,
    disconnects,
    waitForEvent: (name, match = () => true, timeoutMs = 5000) =>
      waitFor(() => events.find((e) => e.event === name && match(e.data)), timeoutMs, `event ${name}`),
    close: () => centrifuge.disconnect(),
  };
}
