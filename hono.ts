/**
 * multiserve for Hono: `upgradeWebSocket`, a Hono WebSocket helper that upgrades on Deno,
 * Bun and Node alike (npm `multiserve/hono`, JSR `./hono`), built on multiserve's own
 * `upgradeWebSocket()`. One app file, every runtime:
 *
 * ```ts
 * import { Hono } from "hono";
 * import { upgradeWebSocket } from "multiserve/hono";
 *
 * const app = new Hono();
 * app.get("/ws", upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(String(event.data)) })));
 * export default app;
 * ```
 *
 * @module
 */
import type { UpgradeWebSocket, WSContextInit, WSEvents } from "hono/ws";
import { defineWebSocketHelper, WSContext } from "hono/ws";
import type { Subscriptions } from "./src/pubsub/publish.ts";
import { upgradeWebSocket as upgrade, type UpgradeWebSocketOptions } from "./src/websocket/upgrade.ts";

export { publish, subscribers } from "./src/pubsub/publish.ts";
export type { PublishData, Subscriptions } from "./src/pubsub/publish.ts";

/**
 * Hono's `upgradeWebSocket`, for an app served by multiserve on any runtime. Messages
 * arrive as strings, or as `ArrayBuffer`s when binary. Options: `protocol`, the subprotocol
 * to accept (by default the first one the client offers). Topics across every worker are
 * on the context's `raw` socket: `ws.raw?.subscribe("room")`, `ws.raw?.publish("room", text)`.
 */
export const upgradeWebSocket: UpgradeWebSocket<WebSocket & Subscriptions, UpgradeWebSocketOptions> =
  defineWebSocketHelper(
    (c, events: WSEvents<WebSocket & Subscriptions>, options?: UpgradeWebSocketOptions) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") return;
      const protocol = options?.protocol ?? c.req.header("sec-websocket-protocol")?.split(",")[0]?.trim();
      const { socket, response } = upgrade(c.req.raw, c.env, { ...options, protocol });
      socket.binaryType = "arraybuffer";
      const init: WSContextInit<WebSocket & Subscriptions> = {
        send: (data) => socket.send(data),
        close: (code, reason) => socket.close(code, reason),
        raw: socket,
        get readyState() {
          return socket.readyState as WSContextInit["readyState"];
        },
        url: c.req.url,
        get protocol() {
          return socket.protocol;
        },
      };
      const ws = new WSContext(init);
      socket.addEventListener("open", (event) => events.onOpen?.(event, ws));
      socket.addEventListener("message", (event) => events.onMessage?.(event, ws));
      socket.addEventListener("close", (event) => events.onClose?.(event, ws));
      socket.addEventListener("error", (event) => events.onError?.(event, ws));
      return response;
    },
  );
