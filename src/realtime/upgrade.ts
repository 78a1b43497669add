/** HTTP upgrade plumbing: routing upgrade requests to the gateway, and the sockets' shared listeners. */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { GatewaySocket } from './connection.ts';

/** The paths the SDK connects to: the vendor document's, and Centrifugo's default. */
export const GATEWAY_PATHS = ['/centrifugo/connection/websocket', '/connection/websocket'];

export interface UpgradeTarget {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * Routes an HTTP server's WebSocket upgrades on `paths` to the gateway and answers every other
 * upgrade with 404. Returns a function that detaches it.
 */
export function attachGateway(
  server: HttpServer | HttpsServer,
  gateway: UpgradeTarget,
  paths: readonly string[] = GATEWAY_PATHS,
): () => void {
  const routed = new Set(paths);
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q === -1 ? url : url.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    if (routed.has(path)) gateway.handleUpgrade(req, socket, head);
    else rejectUpgrade(socket, 404, 'Not Found');
  };
  server.on('upgrade', onUpgrade);
  return () => {
    server.off('upgrade', onUpgrade);
  };
}

export function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.on('error', () => undefined);
  if (socket.writable)
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  else socket.destroy();
}

/** A Close frame's reason is at most 123 bytes of UTF-8. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let r = reason.slice(0, 123);
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

export interface SocketSink {
  onSocketMessage(socket: GatewaySocket, data: RawData, isBinary: boolean): void;
  onSocketClose(socket: GatewaySocket): void;
}

/** Listeners shared by every socket of a gateway (`this` is the socket): no closures per connection. */
export function socketListeners(sink: SocketSink) {
  return {
    message(this: WebSocket, data: RawData, isBinary: boolean) {
      sink.onSocketMessage(this as GatewaySocket, data, isBinary);
    },
    close(this: WebSocket) {
      sink.onSocketClose(this as GatewaySocket);
    },
    error() {
      // ws closes the socket itself (e.g. 1009 for an oversized frame); 'close' follows.
    },
  };
}
