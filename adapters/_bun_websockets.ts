/**
 * Bun's WebSocket server, shared by the app's own handler and `upgradeWebSocket()`: one
 * `websocket` object goes to `Bun.serve`, and each socket's events go to the app's handler
 * (what `hono/bun` exports) or, for a socket `upgradeWebSocket()` made, to its
 * `ServerWebSocket`. Every socket counts against `maxWebSockets` and closes with its worker.
 *
 * @module
 */
import type { ConnectionLimits } from "../src/adapter.ts";
import type { OpenSockets } from "../src/websocket/open_sockets.ts";
import { ServerWebSocket } from "../src/websocket/socket.ts";
import type { BunSocket, BunWebSocketHandler } from "./_bun_api.ts";

/** Where a socket `upgradeWebSocket()` made keeps its `ServerWebSocket` (in Bun's `data`). */
const OURS = "multiserveSocket";

/** Bun's largest WebSocket `idleTimeout`, in seconds. */
const MAX_IDLE_TIMEOUT = 960;

/** The one `websocket` option for `Bun.serve`: the app's handler (`app`, if any) and ours. */
export function webSocketHandler(
  app: BunWebSocketHandler | undefined,
  sockets: OpenSockets,
  limits: ConnectionLimits,
): BunWebSocketHandler {
  const closers = new WeakMap<BunSocket, () => void>();
  const ours = (ws: BunSocket) => (ws.data as { [OURS]?: ServerWebSocket } | undefined)?.[OURS];
  return {
    maxPayloadLength: limits.maxWebSocketMessage,
    idleTimeout: Math.min(MAX_IDLE_TIMEOUT, Math.ceil(limits.webSocketIdleTimeout)),
    sendPings: true,
    ...app, // what the app's own handler sets wins
    open(ws) {
      closers.set(
        ws,
        sockets.add({ close: (code, reason) => ws.close(code, reason), terminate: () => ws.terminate() }),
      );
      const socket = ours(ws);
      if (socket === undefined) return app?.open?.(ws);
      socket.opened({
        send: (data) => void ws.send(data),
        close: (code, reason) => ws.close(code, reason),
        get bufferedAmount() {
          return ws.getBufferedAmount();
        },
      });
    },
    message(ws, message) {
      const socket = ours(ws);
      if (socket === undefined) return app?.message?.(ws, message);
      socket.received(typeof message === "string" ? message : new Uint8Array(message as Uint8Array));
    },
    close(ws, code, reason) {
      closers.get(ws)?.();
      const socket = ours(ws);
      if (socket === undefined) return app?.close?.(ws, code, reason);
      socket.closed(code, reason);
    },
  };
}

/** A socket for `upgradeWebSocket()`: Bun upgrades the request with it as the socket's data. */
export function upgradeOnBun(
  server: {
    upgrade(request: Request, options: { data: unknown; headers?: Record<string, string> }): boolean;
  },
  request: Request,
  protocol: string | undefined,
): { socket: WebSocket; response: Response } {
  const socket = new ServerWebSocket(request.url, protocol ?? "");
  const headers = protocol ? { "sec-websocket-protocol": protocol } : undefined;
  if (!server.upgrade(request, { data: { [OURS]: socket }, headers })) {
    throw new TypeError("Bun refused to upgrade this request to a WebSocket");
  }
  // Bun answers the upgrade itself; whatever the handler returns then is not sent.
  return { socket: socket as unknown as WebSocket, response: new Response(null) };
}
