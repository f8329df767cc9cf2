/**
 * `upgradeWebSocket()`: one way to accept a WebSocket from a fetch handler on Deno, Bun
 * and Node, in Deno's shape. Each adapter's request info carries the runtime's own way to
 * do it under a shared symbol; this function only finds it and checks the request.
 *
 * @module
 */
import { refusal } from "../http/refusal.ts";
import { logAt } from "../log.ts";
import type { Subscriptions } from "../pubsub/publish.ts";
import type { RequestInfo } from "../types.ts";

/** Where an adapter's request info keeps its upgrade. Global, so that copies of this module agree. */
export const UPGRADE: unique symbol = Symbol.for("multiserve.upgradeWebSocket") as never;

/** Options of `upgradeWebSocket()`. */
export interface UpgradeWebSocketOptions {
  /** The subprotocol to accept, one of those the client offered in `Sec-WebSocket-Protocol`. */
  protocol?: string;
}

/** What `upgradeWebSocket()` returns: the socket, and the response the handler must return. */
export interface UpgradedWebSocket {
  /**
   * A standard `WebSocket`: events `open`, `message`, `close`, `error`; `send()`,
   * `close()`, `readyState`, `protocol`, `bufferedAmount`. It opens once the handler's
   * response has gone out: send from `open` on. And topics across every worker:
   * `subscribe()`, `unsubscribe()`, `isSubscribed()`, `publish()`.
   */
  socket: WebSocket & Subscriptions;
  /** Return this from the handler. */
  response: Response;
}

/**
 * Thrown by an attempt to upgrade while WebSockets are off (`maxWebSockets` 0). Its answer is a 503 that names the option: from `getResponse()`, which Hono's
 * error handler uses (as for its HTTPException), or from ours (src/http/app_error.ts).
 */
export class WebSocketsOffError extends Error {
  override name = "WebSocketsOffError";
  constructor() {
    super(
      "WebSockets are off here (maxWebSockets is 0): start the server with --max-web-sockets N",
    );
    // Made only where an upgrade is refused; said here, since the app's own error handler
    // (Hono's, with getResponse) may answer it before ours sees it. Once per worker: a client
    // retrying must not flood the log.
    if (!refusalLogged) {
      refusalLogged = true;
      logAt("warning", `refused a WebSocket upgrade: ${this.message} (said once per worker)`);
    }
  }
  getResponse(): Response {
    return refusal(503, this.message);
  }
}

/** This worker has said that it refuses upgrades. */
let refusalLogged = false;

/** The upgrade an adapter's request info offers. */
export type Upgrade = (request: Request, options: UpgradeWebSocketOptions) => UpgradedWebSocket;

/**
 * Accept the WebSocket that `request` asks for, on any runtime: `info` is the handler's
 * second argument. Throws a `TypeError` when `request` asks for no WebSocket, or `info` is
 * not from a server `serve()` started.
 *
 * @example Echo
 * ```ts
 * import { serve, upgradeWebSocket } from "multiserve";
 *
 * serve((request, info) => {
 *   if (request.headers.get("upgrade") !== "websocket") return new Response("ws only", { status: 426 });
 *   const { socket, response } = upgradeWebSocket(request, info);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * }, { threaded: true });
 * ```
 */
export function upgradeWebSocket(
  request: Request,
  info: RequestInfo,
  options: UpgradeWebSocketOptions = {},
): UpgradedWebSocket {
  const upgrade = (info as { [UPGRADE]?: Upgrade } | undefined)?.[UPGRADE];
  if (typeof upgrade !== "function") {
    throw new TypeError(
      "upgradeWebSocket() needs the handler's second argument from a server that multiserve's serve() started",
    );
  }
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new TypeError("upgradeWebSocket(): the request asks for no WebSocket (no Upgrade: websocket)");
  }
  return upgrade.call(info, request, options);
}
