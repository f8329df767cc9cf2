/**
 * Deno's own WebSockets, kept track of: `Deno.upgradeWebSocket` (what `hono/deno` and plain
 * Deno apps call) is wrapped once per worker so that every socket it makes counts against
 * `maxWebSockets`, closes with its worker, gets the idle timeout, and is closed with 1009
 * past `maxWebSocketMessage` (Deno has no such limit of its own).
 *
 * @module
 */
import type { ConnectionLimits } from "../src/adapter.ts";
import { addSubscriptions } from "../src/pubsub/publish.ts";
import { noteHandshake } from "../src/websocket/handshakes.ts";
import { CLOSE_CODES, closeReason, type OpenSockets } from "../src/websocket/open_sockets.ts";
import { webSocketUrl } from "../src/websocket/socket.ts";
import { WebSocketsOffError } from "../src/websocket/upgrade.ts";
import { type DenoApi, innerRequestOf } from "./_deno_api.ts";

/** The client of each upgraded request, read before Deno closed the request (and forgot it). */
const peers = new WeakMap<Request, { hostname: string; port: number }>();

/** The client of `request` as it was when its handler upgraded it; undefined if it was not. */
export function peerBeforeUpgrade(request: Request): { hostname: string; port: number } | undefined {
  return peers.get(request);
}

/** What the wrapper counts into, set when the worker listens. */
let current: { sockets: OpenSockets; limits: ConnectionLimits } | undefined;

/**
 * Count the sockets `Deno.upgradeWebSocket` makes from now on into `sockets`; with
 * `maxWebSockets` 0, make it throw `WebSocketsOffError` (Deno's per-connection server would
 * send the 101 and then drop the connection).
 */
export function trackUpgrades(deno: DenoApi, sockets: OpenSockets, limits: ConnectionLimits): void {
  if (current === undefined) {
    const native = deno.upgradeWebSocket.bind(deno);
    deno.upgradeWebSocket = (request, options) => {
      const { sockets, limits } = current!;
      if (limits.maxWebSockets === 0) throw new WebSocketsOffError();
      const peer = peerOf(request);
      const upgraded = native(request, { idleTimeout: limits.webSocketIdleTimeout, ...options });
      if (peer !== undefined) peers.set(request, peer);
      // Deno's server-side socket has an empty url: the one the client asked for, as on Bun and Node.
      Object.defineProperty(upgraded.socket, "url", { value: webSocketUrl(request.url), enumerable: true });
      watch(upgraded.socket, sockets, limits.maxWebSocketMessage);
      addSubscriptions(upgraded.socket);
      // Deno.serve must get this very 101 back, or it stops serving: the app boundary sends it.
      noteHandshake(request, { response: upgraded.response, abandon: () => abandon(upgraded.socket) });
      return upgraded;
    };
  }
  current = { sockets, limits };
}

function watch(socket: WebSocket, sockets: OpenSockets, maxMessage: number): void {
  const closed = sockets.add({ close: (code, reason) => socket.close(code, reason) });
  socket.addEventListener("close", closed);
  // Registered before the app's own listeners can be: a message too big goes no further.
  socket.addEventListener("message", (event) => {
    if (sizeOf(event.data, maxMessage) <= maxMessage) return;
    event.stopImmediatePropagation();
    socket.close(CLOSE_CODES.tooBig, closeReason(CLOSE_CODES.tooBig));
  });
}

/** Bytes of a message, worked out exactly only when it might pass `limit`. */
function sizeOf(data: unknown, limit: number): number {
  if (typeof data === "string") {
    return data.length * 3 <= limit ? data.length : new TextEncoder().encode(data).length;
  }
  if (data instanceof Blob) return data.size;
  return (data as ArrayBuffer).byteLength ?? 0;
}

/** The client's address from Deno's inner request, while it is open; undefined if unknown. */
function peerOf(request: Request): { hostname: string; port: number } | undefined {
  try {
    const addr = innerRequestOf(request)?.remoteAddr as { hostname?: string; port: number } | undefined;
    return addr?.hostname === undefined ? undefined : { hostname: addr.hostname, port: addr.port };
  } catch {
    return undefined; // closed already: Deno itself will say so when asked
  }
}

/** Close `socket` as the handler that upgraded it failed: at once, or as soon as it opens. */
function abandon(socket: WebSocket): void {
  const close = () => socket.close(CLOSE_CODES.internalError, closeReason(CLOSE_CODES.internalError));
  if (socket.readyState === WebSocket.CONNECTING) socket.addEventListener("open", close, { once: true });
  else close();
}
