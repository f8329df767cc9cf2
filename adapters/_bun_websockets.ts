/**
 * Bun's WebSocket server, shared by the app's own handler and `upgradeWebSocket()`: one
 * `websocket` object goes to `Bun.serve`, and each socket's events go to the app's handler
 * (what `hono/bun` exports) or, for a socket `upgradeWebSocket()` made, to its
 * `ServerWebSocket`. Every socket counts against `maxWebSockets` and closes with its worker.
 *
 * @module
 */
import type { ConnectionLimits } from "../src/adapter.ts";
import type { NativeFanout, NativeMembership } from "../src/pubsub/topics.ts";
import { refusal } from "../src/http/refusal.ts";
import { noteHandshake } from "../src/websocket/handshakes.ts";
import type { OpenSockets } from "../src/websocket/open_sockets.ts";
import { ServerWebSocket } from "../src/websocket/socket.ts";
import type { UpgradedWebSocket } from "../src/websocket/upgrade.ts";
import type { BunServer, BunSocket, BunWebSocketHandler } from "./_bun_api.ts";

/** Where a socket `upgradeWebSocket()` made keeps its `ServerWebSocket` (in Bun's `data`). */
const OURS = "multiserveSocket";

/** Bun's largest WebSocket `idleTimeout`, in seconds. */
const MAX_IDLE_TIMEOUT = 960;

/**
 * Topics of multiserve's, as Bun names them: apart from those the app subscribes Bun's own
 * sockets to (through hono/bun), which a publish of ours must not reach, nor theirs ours.
 */
const TOPIC_PREFIX = "\u0000multiserve:";

/**
 * Bytes a socket may have waiting before Bun drops what is sent to it. Bun's default (16 MiB)
 * would drop messages silently; a subscriber too slow for its topics is closed by the topics'
 * own rule instead (1013, past `maxWebSocketBuffer`), and any other socket buffers as on Deno
 * and Node.
 */
const BACKPRESSURE_LIMIT = 2 ** 31 - 1;

/**
 * The one `websocket` option for `Bun.serve`: the app's handler (`app`, if any) and ours.
 * `server`: the server it is for, once `Bun.serve` has made it (for its `publish`).
 */
export function webSocketHandler(
  app: BunWebSocketHandler | undefined,
  sockets: OpenSockets,
  limits: ConnectionLimits,
  server: () => BunServer,
): BunWebSocketHandler {
  const closers = new WeakMap<BunSocket, () => void>();
  const ours = (ws: BunSocket) => (ws.data as { [OURS]?: ServerWebSocket } | undefined)?.[OURS];
  const fanout: NativeFanout = {
    publish: (topic, data) => void server().publish(TOPIC_PREFIX + topic, bunData(data)),
  };
  return {
    maxPayloadLength: limits.maxWebSocketMessage,
    idleTimeout: Math.min(MAX_IDLE_TIMEOUT, Math.ceil(limits.webSocketIdleTimeout)),
    sendPings: true,
    backpressureLimit: BACKPRESSURE_LIMIT,
    ...app, // what the app's own handler sets wins
    open(ws) {
      closers.set(
        ws,
        sockets.add({ close: (code, reason) => ws.close(code, reason), terminate: () => ws.terminate() }),
      );
      const socket = ours(ws);
      if (socket === undefined) return app?.open?.(ws);
      socket.opened({
        send: (data) => void ws.send(bunData(data)),
        close: (code, reason) => ws.close(code, reason),
        get bufferedAmount() {
          return ws.getBufferedAmount();
        },
        native: nativeMembership(ws, fanout),
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

/** What Bun's send and publish take: every ArrayBufferView is a typed array or a DataView. */
function bunData(data: string | ArrayBuffer | ArrayBufferView): string | ArrayBuffer | Uint8Array {
  return data as string | ArrayBuffer | Uint8Array;
}

/** `ws` in Bun's own topics, which reach it through `fanout` (its server's `publish`). */
function nativeMembership(ws: BunSocket, fanout: NativeFanout): NativeMembership {
  let closed = false;
  return {
    fanout,
    subscribe: (topic) => ws.subscribe(TOPIC_PREFIX + topic),
    // Bun leaves a closed socket's topics itself (and may throw if asked then).
    unsubscribe: (topic) => {
      if (closed) return;
      try {
        ws.unsubscribe(TOPIC_PREFIX + topic);
      } catch {
        closed = true;
      }
    },
    publishFromHere: (topic, data) => void ws.publish(TOPIC_PREFIX + topic, bunData(data)),
  };
}

/**
 * A socket for `upgradeWebSocket()`. Bun's `server.upgrade()` sends the 101 at once, so it
 * waits until the handler returns its response (`upgradeDeferred()`): the headers the app
 * put on that response then go out with the 101, as on Deno and Node.
 */
export function upgradeOnBun(request: Request, protocol: string | undefined): UpgradedWebSocket {
  const socket = new ServerWebSocket(request.url, protocol ?? "");
  const response = new Response(null);
  deferred.set(response, { socket, protocol });
  waiting++;
  // The app boundary hands this response on whatever the handler does next.
  noteHandshake(request, { response, abandon: () => socket.abandon() });
  return { socket: socket as unknown as UpgradedWebSocket["socket"], response };
}

/** Upgrades `upgradeWebSocket()` asked for, by the response that stands for each. */
const deferred = new WeakMap<Response, { socket: ServerWebSocket; protocol: string | undefined }>();
/** Deferred upgrades not yet carried out: while none are, a response costs one comparison. */
let waiting = 0;

/**
 * What to answer Bun with for the handler's `response`: it as it is, or, if it stands for an
 * upgrade, nothing once Bun has upgraded (a 400 if Bun finds the handshake invalid).
 */
export function afterUpgrade(
  server: BunServer,
  request: Request,
  response: Response | undefined,
): Response | undefined {
  if (waiting === 0 || response === undefined) return response;
  const upgrade = deferred.get(response);
  if (upgrade === undefined) return response;
  deferred.delete(response);
  waiting--;
  const headers = new Headers();
  for (const [name, value] of response.headers) {
    if (!HANDSHAKE_FIELDS.has(name)) headers.append(name, value);
  }
  if (upgrade.protocol) headers.set("sec-websocket-protocol", upgrade.protocol);
  keepPeer(server, request);
  if (server.upgrade(request, { data: { [OURS]: upgrade.socket }, headers })) return undefined;
  upgrade.socket.failed(new TypeError("Bun refused to upgrade this request to a WebSocket"));
  upgrade.socket.closed(1006, "");
  return refusal(400, "the WebSocket handshake is not valid");
}

/** Fields the 101 carries of its own, which the app's response must not repeat. */
const HANDSHAKE_FIELDS = new Set([
  "connection",
  "upgrade",
  "content-length",
  "content-type",
  "transfer-encoding",
  "keep-alive",
  "sec-websocket-accept",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
]);

/** The client of each upgraded request: Bun's `requestIP()` answers null once it is upgraded. */
const peers = new WeakMap<Request, { address: string; port: number }>();

function keepPeer(server: BunServer, request: Request): void {
  const ip = server.requestIP(request);
  if (ip !== null) peers.set(request, ip);
}

/** The client of `request` as it was when it was upgraded; undefined if it was not. */
export function peerBeforeUpgrade(request: Request): { address: string; port: number } | undefined {
  return peers.get(request);
}

/**
 * `server` as the app sees it: `upgrade()`, which hono/bun's helper and apps call, notes the
 * upgrade for the app boundary (Bun wants nothing from the handler after it) and keeps the
 * client's address for `info.remoteAddr`; `stop()` is `stop`.
 */
export function noticingUpgrades(server: BunServer, stop: BunServer["stop"]): BunServer {
  const upgrade: BunServer["upgrade"] = (request, options) => {
    keepPeer(server, request);
    if (!server.upgrade(request, options)) return false;
    noteHandshake(request, { response: undefined, abandon() {} });
    return true;
  };
  return new Proxy(server, {
    get(target, key) {
      if (key === "upgrade") return upgrade;
      if (key === "stop") return stop;
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
