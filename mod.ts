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
 * the worn (`maxRequests`), reloads on SIGHUP without dropping a keep-alive request, and
 * scales on SIGTTIN/SIGTTOU (`server.reload()`, `server.scale(n)` from code).
 *
 * Run as the main module, this file is the CLI: `deno run -A mod.ts --help`.
 *
 * @module
 */
export { serve, workerId } from "./src/serve.ts";
export {
  AppLoadError,
  BootError,
  EXIT,
  HungWorkerError,
  MultiserveError,
  OptionError,
} from "./src/errors.ts";
export type {
  App,
  FetchHandler,
  ListenInfo,
  RemoteAddr,
  RequestInfo,
  ServeOptions,
  Server,
} from "./src/types.ts";

// `import.meta.main`: Deno, Bun, and Node ≥ 24.2 (the npm bin runs src/bin.ts instead).
if ((import.meta as { main?: boolean }).main) {
  const { main } = await import("./src/cli.ts");
  await main();
}
