/**
 * `serve()`: one call that is the primary where it runs first, and a worker where a
 * supervisor started the program again (a worker re-runs the entry module and reaches the
 * same call, the way `node:cluster` workers do). Which one is known from the role the
 * supervisor handed down (`src/role.ts`).
 *
 * @module
 */
import { toHandler } from "./app.ts";
import { keepEarlySignals } from "./early_signals.ts";
import { resolveOptions } from "./options.ts";
import { Primary } from "./primary.ts";
import { assignedWorker } from "./role.ts";
import type { App, ServeOptions, Server } from "./types.ts";
import { WorkerServer } from "./worker.ts";

/**
 * Which worker runs this code: `"2"` for the second process or thread, `"2.1"` for thread 1
 * of process 2; `undefined` in the primary or when serving from a single isolate. Known
 * from the moment the module runs, so code after `serve()` can keep to the primary.
 */
export function workerId(): string | undefined {
  return assignedWorker()?.id;
}

/**
 * Serve `app` on every worker the options ask for.
 *
 * `app` is a fetch function, an object with `fetch` (a Hono app), or the URL of a module
 * whose default export is one of those. Bad options throw an `OptionError` at once, naming
 * the option. A start that fails (a port in use, an app that cannot load) rejects `ready`;
 * when the caller never reads `ready`, it is reported as the CLI reports it: one line on
 * stderr and the exit code (3 or 4).
 *
 * @example Threads and processes
 * ```ts
 * import { serve } from "multiserve";
 * serve({ fetch: () => new Response("hi") }, { threaded: 2, processes: 2 });
 * ```
 * @example Module form: workers load the module, the primary does not
 * ```ts
 * serve(new URL("./app.ts", import.meta.url), { threaded: true });
 * ```
 */
export function serve(app: App | URL, options?: ServeOptions): Server {
  if (!(app instanceof URL)) toHandler(app);
  const worker = assignedWorker();
  // A worker runs with its primary's options (resolved there, perhaps from its CLI flags).
  const config = worker === undefined ? resolveOptions(options) : undefined;
  // From here until the traps are set, once the adapter has loaded (src/early_signals.ts).
  keepEarlySignals();
  if (worker !== undefined) return new WorkerServer(app, worker);
  return new Primary(app, config!);
}

/** Entry of a module-form worker thread: serve the module its supervisor names. */
export function serveAssignedModule(): Server {
  const worker = assignedWorker();
  if (worker === undefined) throw new Error("src/worker_entry.ts runs only as a worker thread");
  return new WorkerServer(undefined, worker);
}
