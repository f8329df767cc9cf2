/**
 * WebSockets on Node, with the `ws` package behind @hono/node-server's own upgrade handling
 * (so that its `upgradeWebSocket` works unchanged): every socket counts against
 * `maxWebSockets`, closes with its worker, and is pinged, so that a vanished client is
 * noticed; `upgradeWebSocket()` gets a `ServerWebSocket` over the `ws` socket.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import process from "node:process";
import type { Duplex } from "node:stream";
import { type WebSocket as WsSocket, WebSocketServer } from "ws";
import type { ConnectionLimits } from "../src/adapter.ts";
import { noteHandshake } from "../src/websocket/handshakes.ts";
import type { OpenSockets } from "../src/websocket/open_sockets.ts";
import { ServerWebSocket } from "../src/websocket/socket.ts";
import type { UpgradedWebSocket } from "../src/websocket/upgrade.ts";

/** The subprotocol `upgradeWebSocket()` chose for a request, for `ws` to answer with. */
const chosen = new WeakMap<IncomingMessage, string>();

/** The `ws` server for one listener, and the timer that pings its sockets. */
export function webSocketServer(sockets: OpenSockets, limits: ConnectionLimits): {
  wss: WebSocketServer;
  stop(): void;
} {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxWebSocketMessage,
    handleProtocols: (offered, request) => chosen.get(request) ?? offered.values().next().value ?? false,
  });
  const heard = new WeakMap<WsSocket, boolean>();
  wss.on("connection", (ws) => {
    const closed = sockets.add({
      close: (code, reason) => ws.close(code, reason),
      terminate: () => ws.terminate(),
    });
    ws.on("close", closed);
    heard.set(ws, true);
    const alive = () => heard.set(ws, true);
    ws.on("pong", alive);
    ws.on("message", alive);
  });
  // Every half of the idle timeout: a socket that answered nothing since the last ping is gone.
  const pinging = setInterval(() => {
    for (const ws of wss.clients) {
      if (!heard.get(ws)) {
        ws.terminate();
        continue;
      }
      heard.set(ws, false);
      ws.ping();
    }
  }, limits.webSocketIdleTimeout * 500);
  pinging.unref();
  return { wss, stop: () => clearInterval(pinging) };
}

/** What @hono/node-server's upgrade handling hands the fetch callback, and waits on. */
export interface UpgradeEnv {
  incoming: IncomingMessage;
  [waiter: symbol]: unknown;
}

/**
 * `upgradeWebSocket()` on Node: register with @hono/node-server's upgrade handling as its
 * own helper does (it finishes the handshake once the handler returns, through `ws`), and
 * hand the app a `ServerWebSocket` that opens with the `ws` socket.
 */
export function upgradeOnNode(
  env: UpgradeEnv,
  request: Request,
  protocol: string | undefined,
): UpgradedWebSocket {
  const wait = waitFor(env);
  if (wait === undefined) {
    throw new TypeError(
      "this request came through no WebSocket upgrade (@hono/node-server's upgrade handling did not see it)",
    );
  }
  const socket = new ServerWebSocket(request.url, protocol ?? "");
  if (protocol !== undefined) chosen.set(env.incoming, protocol);
  upgrading.add(env.incoming);
  const response = new Response(null);
  // The app boundary hands this response on whatever the handler does next; the upgrade
  // handling then completes the handshake.
  noteHandshake(request, { response, abandon: () => socket.abandon() });
  // The helper's own connection token is left unset on both sides, which the handling accepts.
  wait(env.incoming, undefined).then((ws) => {
    ws.on(
      "message",
      (data, binary) =>
        socket.received(
          binary ? bytesOf(data) : data.toString(),
        ),
    );
    ws.on("close", (code, reason) => socket.closed(code, reason.toString()));
    ws.on("error", (error) => socket.failed(error));
    const raw = (ws as unknown as { _socket?: Duplex })._socket;
    socket.opened({
      send: (data) => {
        if (raw !== undefined) corkForTick(raw);
        ws.send(data);
      },
      close: (code, reason) => ws.close(code, reason),
      get bufferedAmount() {
        return ws.bufferedAmount;
      },
    });
  }, (error) => socket.failed(error));
  return { socket: socket as unknown as UpgradedWebSocket["socket"], response };
}

/** Connections corked until the current task ends: `corkForTick()`. */
const corked = new Set<Duplex>();

/**
 * Hold `connection`'s writes until this task ends (`ws` frames each message with a write of
 * its own): a publish to many sockets, or a burst of messages to one, then costs a socket one
 * `writev` per task rather than one per message. The system calls were the largest stage of a
 * fan-out on Node (a third of its CPU profile); uWebSockets, under Bun, corks the same way.
 * Nothing waits longer than the task that sent it.
 */
function corkForTick(connection: Duplex): void {
  if (corked.has(connection)) return;
  if (corked.size === 0) process.nextTick(uncorkAll);
  connection.cork();
  corked.add(connection);
}

function uncorkAll(): void {
  for (const connection of corked) connection.uncork();
  corked.clear();
}

/** Upgrade requests whose handler asked for the WebSocket (ours or @hono/node-server's helper). */
const upgrading = new WeakSet<IncomingMessage>();

/**
 * A member of the upgrade handling's `env`, as the app's helpers get it: its wait for the
 * `ws` socket (what @hono/node-server's `upgradeWebSocket` calls) marks the request as one
 * that upgrades.
 */
export function envMember(env: UpgradeEnv, key: symbol): unknown {
  const value = env[key];
  if (key.description !== "WAIT_FOR_WEBSOCKET_SYMBOL" || typeof value !== "function") return value;
  return (...args: unknown[]) => {
    upgrading.add(env.incoming);
    return value(...args);
  };
}

/** The handler of this upgrade request did not upgrade it: its answer is a plain response. */
export function declined(incoming: IncomingMessage): boolean {
  return !upgrading.has(incoming);
}

/**
 * Send `response`, whole, on the connection of an upgrade request that was not upgraded,
 * and close it. @hono/node-server's upgrade handling would send its status and headers with
 * an empty body; a refusal's reason (a 401 saying why) must reach the client.
 */
export async function sendDeclined(incoming: IncomingMessage, response: Response): Promise<void> {
  const socket = incoming.socket;
  const body = Buffer.from(await response.arrayBuffer());
  const status = response.status;
  let head = `HTTP/1.1 ${status} ${response.statusText || STATUS_CODES[status] || ""}\r\n`;
  for (const [name, value] of response.headers) {
    if (!FRAMING_FIELDS.has(name)) head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  if (socket.destroyed) return;
  await new Promise<void>((resolve) =>
    socket.end(Buffer.concat([Buffer.from(head, "latin1"), body]), resolve)
  );
  // Gone at once: the upgrade handling, seeing it destroyed, sends nothing of its own.
  socket.destroy();
}

/** Fields the connection's framing decides, which the app's response must not bring. */
const FRAMING_FIELDS = new Set([
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "upgrade",
]);

type Wait = (
  incoming: IncomingMessage,
  token: undefined,
) => Promise<WsSocket & { on(...args: unknown[]): unknown }>;

/** @hono/node-server's wait for the `ws` socket of a request: a symbol-keyed member of its env. */
function waitFor(env: UpgradeEnv): Wait | undefined {
  const key = Object.getOwnPropertySymbols(env).find((symbol) =>
    symbol.description === "WAIT_FOR_WEBSOCKET_SYMBOL"
  );
  return key === undefined ? undefined : env[key] as Wait;
}

/** The bytes of a binary `ws` message (a Buffer, unless binaryType says otherwise). */
function bytesOf(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
