/**
 * `serve()`: one call that, depending on where it runs, is the primary (serving alone or
 * supervising workers), a worker process (serving, or supervising its own threads), or a
 * worker thread (serving). Workers re-run the entry module, reach the same `serve()` call
 * and find out from their role what to do, the way `node:cluster` workers do.
 *
 * @module
 */
import type { Adapter, ParentLink } from "./adapter.ts";
import { errorResponse, loadApp, toHandler } from "./app.ts";
import { EXIT, messageOf, type MultiserveError } from "./errors.ts";
import { type ResolvedOptions, resolveOptions } from "./options.ts";
import type { WorkerData } from "./protocol.ts";
import { type AssignedWorker, assignedWorker } from "./role.ts";
import { loadAdapter, siblingModule } from "./runtime.ts";
import { Supervisor } from "./supervisor.ts";
import type { App, FetchHandler, ListenInfo, ServeOptions, Server } from "./types.ts";

/** How long a worker that reported a failure waits to be stopped before it exits anyway. */
const FAILED_WORKER_EXIT_MS = 2_000;

/** The script a worker thread runs in module form. */
const WORKER_ENTRY = siblingModule("worker_entry", import.meta.url).href;

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
 * whose default export is one of those. Bad options throw at once, naming the option.
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
  const resolved = resolveOptions(options);
  if (!(app instanceof URL)) toHandler(app);
  return new ServerHandle(app, resolved);
}

/** Entry of a module-form worker thread: serve the module its supervisor names. */
export function serveAssignedModule(): Server {
  // Address and timeouts come from the supervisor's data: give the environment no say.
  const unused = { port: 0, hostname: "127.0.0.1", processes: 1, onListen: false } as const;
  return new ServerHandle(undefined, resolveOptions(unused));
}

class ServerHandle implements Server {
  readonly ready: Promise<Server>;
  readonly finished: Promise<void>;
  readonly #options: ResolvedOptions;
  #url: string | undefined;
  #stop: (() => Promise<void>) | undefined;
  #closing: Promise<void> | undefined;
  #finish!: () => void;
  #untrap: (() => void) | undefined;
  /** Set once this worker has reported that it cannot serve. */
  #failedWith: number | undefined;
  /** The supervisor asked this worker to stop (perhaps while it was still booting). */
  #stopRequested = false;

  constructor(app: App | URL | undefined, options: ResolvedOptions) {
    this.#options = options;
    if (options.port !== 0) this.#url = formatUrl(options.hostname, options.port);
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    // Left unhandled, a failed start surfaces as an unhandled rejection: never silent.
    this.ready = this.#start(app).then(() => this, (error) => {
      this.#finish();
      throw error;
    });
  }

  get url(): string {
    if (this.#url === undefined) {
      throw new Error("server.url is not known before server.ready resolves when port is 0");
    }
    return this.#url;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.ready.catch(() => {});
      await this.#stop?.();
      this.#untrap?.();
      this.#finish();
    })();
    return this.#closing;
  }

  async #start(app: App | URL | undefined): Promise<void> {
    const worker = assignedWorker();
    const adapter = await loadAdapter();
    if (worker === undefined) return this.#startPrimary(adapter, app);
    return this.#startWorker(adapter, app, worker, adapter.parentLink(worker.kind));
  }

  async #startPrimary(adapter: Adapter, app: App | URL | undefined): Promise<void> {
    const { hostname, processes, threads, gracefulTimeout } = this.#options;
    let signalled = false;
    this.#untrap = adapter.onShutdownSignal((signal) => {
      // A second signal means "now": like gunicorn's quick shutdown.
      if (signalled) adapter.exit(signal === "SIGINT" ? 130 : 143);
      signalled = true;
      this.close().then(() => adapter.exit(0));
    });
    let port: number;
    try {
      if (processes === 1 && threads === 0) {
        const listener = await adapter.listen(await handlerOf(app, undefined), {
          hostname,
          port: this.#options.port,
          shared: false,
          onError: errorResponse,
        });
        port = listener.port;
        this.#stop = () => listener.close(gracefulTimeout);
      } else {
        adapter.checkSpread({ processes, threads });
        port = await adapter.reservePort(hostname, this.#options.port);
        const data = (id: number): WorkerData => ({
          id: String(id),
          hostname,
          port,
          threads,
          gracefulTimeout,
          module: app instanceof URL ? app.href : undefined,
        });
        const onFatal = (error: MultiserveError) => {
          console.error(`multiserve: ${error.message}; stopping`);
          this.close().then(() => adapter.exit(error.exitCode));
        };
        // Processes each run their own threads; without processes, this one runs them.
        const byProcess = processes > 1;
        const supervisor = new Supervisor({
          count: byProcess ? processes : threads,
          name: (id) => `${byProcess ? "process" : "thread"} ${id}`,
          gracefulTimeout,
          onFatal,
          spawn: (id) =>
            byProcess
              ? adapter.spawnProcess(data(id))
              : adapter.spawnThread(threadUrl(adapter, app), { ...data(id), threads: 0 }),
        });
        this.#stop = () => supervisor.stop();
        await supervisor.start();
      }
    } catch (error) {
      this.#untrap();
      throw error;
    }
    this.#url = formatUrl(hostname, port);
    const info: ListenInfo = {
      url: this.#url,
      port,
      hostname,
      runtime: adapter.runtime,
      processes,
      threads,
    };
    if (this.#options.onListen) this.#options.onListen(info);
    else if (this.#options.onListen === undefined) console.log(startupLine(info, adapter.version));
  }

  async #startWorker(
    adapter: Adapter,
    app: App | URL | undefined,
    data: AssignedWorker,
    parent: ParentLink,
  ): Promise<void> {
    // Listen for "stop" from the start: a supervisor may stop a worker that is still booting.
    const stop = () => {
      this.#stopRequested = true;
      if (this.#failedWith !== undefined) parent.exit(this.#failedWith);
      else void this.close().then(() => parent.exit(0));
    };
    parent.onStop(stop);
    if (data.kind === "process") this.#untrap = adapter.onShutdownSignal(stop);
    let port: number;
    try {
      if (data.kind === "process" && data.threads > 0) {
        const supervisor = new Supervisor({
          count: data.threads,
          name: (id) => `thread ${data.id}.${id}`,
          gracefulTimeout: data.gracefulTimeout,
          onFatal: (error) => this.#failWorker(parent, error),
          spawn: (id) =>
            adapter.spawnThread(threadUrl(adapter, app), {
              ...data,
              id: `${data.id}.${id}`,
              threads: 0,
            }),
        });
        this.#stop = () => supervisor.stop();
        await supervisor.start();
        port = data.port;
      } else {
        const listener = await adapter.listen(await handlerOf(app, data.module), {
          hostname: data.hostname,
          port: data.port,
          shared: true,
          onError: errorResponse,
        });
        port = listener.port;
        this.#stop = () => listener.close(data.gracefulTimeout);
      }
    } catch (error) {
      await this.#failWorker(parent, error);
      return;
    }
    this.#url = formatUrl(data.hostname, port);
    await parent.send({ multiserve: "listening", port });
  }

  /**
   * Tell the supervisor why this worker cannot serve, then wait for it to stop us: exiting
   * at once could lose the message in flight (Deno's IPC does). Exit anyway if it does not.
   */
  async #failWorker(parent: ParentLink, error: unknown): Promise<never> {
    const exitCode = (error as Partial<MultiserveError>).exitCode ?? EXIT.boot;
    this.#failedWith = exitCode;
    await this.#stop?.().catch(() => {});
    await parent.send({ multiserve: "failed", message: messageOf(error), exitCode });
    if (this.#stopRequested) parent.exit(exitCode);
    else setTimeout(() => parent.exit(exitCode), FAILED_WORKER_EXIT_MS);
    return new Promise<never>(() => {});
  }
}

/** The handler of a worker: the app given, or the module it names. */
function handlerOf(app: App | URL | undefined, module: string | undefined): Promise<FetchHandler> {
  if (module !== undefined) return loadApp(module);
  if (app instanceof URL) return loadApp(app.href);
  if (app === undefined) throw new TypeError("a module-form worker was started without a module");
  return Promise.resolve(toHandler(app));
}

/** What a worker thread runs: our module loader in module form, else the entry module again. */
function threadUrl(adapter: Adapter, app: App | URL | undefined): string {
  return app instanceof URL || app === undefined ? WORKER_ENTRY : adapter.mainModule();
}

function formatUrl(hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}/`;
}

function startupLine(info: ListenInfo, version: string): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "es"}`;
  const shape = info.threads === 0
    ? `${plural(info.processes, "process")}, not threaded`
    : `${plural(info.processes, "process")} × ${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  const workers = info.processes * Math.max(info.threads, 1);
  return `multiserve: listening on ${info.url} (${info.runtime} ${version}, ${shape}: ${workers} worker${
    workers === 1 ? "" : "s"
  })`;
}
