/**
 * The admin endpoint, served by the primary on its own port (never by a worker): the
 * status page, `/status`, `/metrics`, `/healthz` and `/readyz`. Read-only: reloading and
 * scaling stay signals and `server.reload()` / `server.scale()`.
 *
 * @module
 */
import type { Adapter, Listener } from "../adapter.ts";
import { BootError, messageOf } from "../errors.ts";
import { appErrorResponse } from "../http/app_error.ts";
import type { Config } from "../settings.ts";
import { METRICS_CONTENT_TYPE, metricsText } from "./metrics.ts";
import type { Registry } from "./registry.ts";
import { STATUS_PAGE } from "./status_page.ts";

/**
 * The admin endpoint's request handler; `bytesSent`: the workers count the response bytes
 * they send (the adapter's `sentBytes`), so that the metric of them is true.
 */
export function adminHandler(registry: Registry, bytesSent = false): (request: Request) => Response {
  const text = (body: string, status = 200, type = "text/plain; charset=utf-8") =>
    new Response(body, { status, headers: { "content-type": type, "cache-control": "no-store" } });
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed: the admin endpoint is read-only\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/":
        return text(STATUS_PAGE, 200, "text/html; charset=utf-8");
      case "/status":
        return text(JSON.stringify(registry.status()), 200, "application/json");
      case "/metrics":
        return text(
          metricsText(
            registry.status(),
            registry.requestTallies,
            registry.requestsByWorker,
            bytesSent,
            registry.pubsubByWorker,
          ),
          200,
          METRICS_CONTENT_TYPE,
        );
      case "/healthz":
        return text("ok\n");
      case "/readyz":
        return registry.ready ? text("ready\n") : text(registry.stopping ? "stopping\n" : "starting\n", 503);
      default:
        return text("Not Found: try /, /status, /metrics, /healthz or /readyz\n", 404);
    }
  };
}

/** Serve the admin endpoint at `adminHost:adminPort`; a `BootError` naming it if it cannot. */
export async function serveAdmin(adapter: Adapter, registry: Registry, config: Config): Promise<Listener> {
  try {
    return await adapter.listen(adminHandler(registry, adapter.nativeChecks.sentBytes !== undefined), {
      hostname: config.adminHost,
      port: config.adminPort!,
      shared: false,
      limits: { ...config, maxWebSockets: 0 },
      onError: appErrorResponse(false),
    });
  } catch (error) {
    throw new BootError(`the admin endpoint (adminPort ${config.adminPort}): ${messageOf(error)}`, {
      cause: error,
    });
  }
}
