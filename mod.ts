/**
 * multiserve: serve a Web-standard fetch handler on every core, on Deno, Bun and Node,
 * the way Flask's `app.run(threaded=True, processes=4)` promises and gunicorn delivers.
 *
 * ```ts
 * import { serve } from "multiserve";
 *
 * serve({ fetch: () => new Response("Hello") }, { threaded: true, processes: 2 });
 * ```
 *
 * Workers re-run the entry module and reach the same `serve()` call, where they listen
 * instead of spawning: top-level code runs once in every worker. The primary supervises
 * them like gunicorn's arbiter: it replaces the dead, kills the hung (`timeout`), recycles
 * the worn (`maxRequests`), reloads on SIGHUP without dropping a keep-alive request,
 * scales on SIGTTIN/SIGTTOU, and hands over to a new primary (a new runtime, new code) on
 * SIGUSR2 (`server.reload()`, `server.scale(n)`, `server.upgrade()` from code).
 *
 * The command line is `cli.ts` (`multiserve` on npm, `./cli` on JSR); run as a program,
 * this module is the command line too: `deno run -A mod.ts app.ts`.
 *
 * @module
 */
import { useCompileCache } from "./src/compile_cache.ts";
import { keepEarlySignals } from "./src/early_signals.ts";
import { isMainModule } from "./src/host.ts";

export { serve, workerId } from "./src/serve.ts";
export { upgradeWebSocket } from "./src/websocket/upgrade.ts";
export { publish, subscribers } from "./src/pubsub/publish.ts";
export type { PublishData, Subscriptions } from "./src/pubsub/publish.ts";
export type { UpgradedWebSocket, UpgradeWebSocketOptions } from "./src/websocket/upgrade.ts";
export {
  AppLoadError,
  BootError,
  EXIT,
  HungWorkerError,
  MultiserveError,
  OptionError,
  StoppedError,
} from "./src/errors.ts";
export type {
  App,
  FetchHandler,
  ListenInfo,
  RemoteAddr,
  RequestInfo,
  ServeOptions,
  Server,
  WorkerContext,
  WorkerHooks,
} from "./src/types.ts";

// Not awaited: an app that imports this module while it runs as the CLI must find it
// evaluated, or the two would wait on each other for good.
// The compile cache first, so that Node loads the command line from it (src/compile_cache.ts).
if (isMainModule(import.meta)) {
  useCompileCache();
  keepEarlySignals(); // the server's to act on once it traps them (src/early_signals.ts)
  import("./src/cli.ts").then(({ main }) => main());
}
