/**
 * Deno's own WebSockets, kept track of: `Deno.upgradeWebSocket` (what `hono/deno` and plain
 * Deno apps call) is wrapped once per worker so that every socket it makes counts against
 * `maxWebSockets`, closes with its worker, gets the idle timeout, and is closed with 1009
 * past `maxWebSocketMessage` (Deno has no such limit of its own).
 *
 * @module
 */
import type { ConnectionLimits } from "../src/adapter.ts";
import { CLOSE_CODES, closeReason, type OpenSockets } from "../src/websocket/open_sockets.ts";
import { WebSocketsOffError } from "../src/websocket/upgrade.ts";
import type { DenoApi } from "./_deno_api.ts";

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
      const upgraded = native(request, { idleTimeout: limits.webSocketIdleTimeout, ...options });
      watch(upgraded.socket, sockets, limits.maxWebSocketMessage);
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
