/**
 * `serve()`: one call that, depending on where it runs, is the primary (serving alone or
 * supervising workers), a worker process (serving, or supervising its own threads), or a
 * worker thread (serving). Workers re-run the entry module, reach the same `serve()` call
 * and find out from their role what to do, the way `node:cluster` workers do.
 *
 * @module
 */
import type { Adapter, ParentLink, Signal } from "./adapter.ts";
import { errorHandler, loadApp, toHandler } from "./app.ts";
import { drainable } from "./drain.ts";
import { guarded } from "./guard.ts";
import { EXIT, HungWorkerError, messageOf, type MultiserveError, OptionError } from "./errors.ts";
import { type EdgeOptions, type ResolvedOptions, resolveOptions } from "./options.ts";
import { heartbeatEveryMs, type WorkerData } from "./protocol.ts";
import { type AssignedWorker, assignedWorker } from "./role.ts";
import { loadAdapter, siblingModule } from "./runtime.ts";
import { Supervisor } from "./supervisor.ts";
import { ThreadHost, type WorkerPool } from "./thread_host.ts";
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
  const unused = {
    port: 0,
    hostname: "127.0.0.1",
    processes: 1,
    onListen: false,
    forwardedAllowIps: "",
  } as const;
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
  readonly #untraps: (() => void)[] = [];
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** The primary's workers, when it has any. */
  #supervisor: WorkerPool | undefined;
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

  get workers(): number {
    return this.#supervisor?.count ?? 1;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.ready.catch(() => {});
      await this.#stop?.();
      clearInterval(this.#heartbeat);
      for (const untrap of this.#untraps.splice(0)) untrap();
      this.#finish();
    })();
    return this.#closing;
  }

  async reload(): Promise<void> {
    await this.ready;
    await this.#supervised("reload()").reload();
  }

  async scale(count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 1) {
      throw new OptionError(`scale() needs a whole number of workers ≥ 1, got ${count}`);
    }
    await this.ready;
    await this.#supervised("scale()").scale(count);
  }

  #supervised(what: string): WorkerPool {
    if (this.#supervisor === undefined || this.#closing) {
      throw new Error(
        `${what} needs a running primary with workers ("threaded" or "processes"); this is ${
          this.#closing ? "a closed server" : assignedWorker() ? "a worker" : "one isolate serving alone"
        }`,
      );
    }
    return this.#supervisor;
  }

  async #start(app: App | URL | undefined): Promise<void> {
    const worker = assignedWorker();
    const adapter = await loadAdapter();
    if (worker === undefined) return this.#startPrimary(adapter, app);
    return this.#startWorker(adapter, app, worker, adapter.parentLink(worker.kind));
  }

  #trap(adapter: Adapter, signal: Signal, listener: () => void): void {
    this.#untraps.push(adapter.onSignal(signal, listener));
  }

  /**
   * SIGINT and SIGTERM: the first drains, a second means "now" (gunicorn's quick
   * shutdown), with the shell's exit code for that signal.
   */
  #trapStopSignals(
    adapter: Adapter,
    first: (signal: Signal) => void,
    again: (signal: Signal, exitCode: number) => void,
  ): void {
    let signalled = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      this.#trap(adapter, signal, () => {
        if (signalled) return again(signal, signal === "SIGINT" ? 130 : 143);
        signalled = true;
        first(signal);
      });
    }
  }

  async #startPrimary(adapter: Adapter, app: App | URL | undefined): Promise<void> {
    const { hostname, processes, threads, gracefulTimeout } = this.#options;
    this.#trapStopSignals(adapter, (signal) => {
      log(`${signal}: stopping gracefully (up to ${gracefulTimeout} s; send it again to stop at once)`);
      this.close().then(() => adapter.exit(0));
    }, (signal, code) => {
      log(`${signal} again: stopping at once`);
      this.#supervisor?.kill();
      adapter.exit(code);
    });
    let port: number;
    try {
      if (processes === 1 && threads === 0) {
        const { edge } = this.#options;
        const handler = guarded(await handlerOf(app, undefined), edge, adapter.nativeChecks);
        port = await this.#listen(adapter, handler, { hostname, port: this.#options.port, shared: false }, {
          edge,
          gracefulTimeout,
        });
      } else {
        adapter.checkSpread({ processes, threads });
        port = await adapter.reservePort(hostname, this.#options.port);
        const data = (id: number): WorkerData => ({
          id: String(id),
          hostname,
          port,
          threads,
          gracefulTimeout,
          timeout: this.#options.timeout,
          maxRequests: this.#options.maxRequests,
          maxRequestsJitter: this.#options.maxRequestsJitter,
          edge: this.#options.edge,
          module: app instanceof URL ? app.href : undefined,
        });
        // (Never a HungWorkerError here: threads a runtime cannot end run in a worker
        // process, `adapter.hostsThreads`, whose own supervisor deals with them.)
        const onFatal = (error: MultiserveError) => {
          log(`${error.message}; stopping`);
          this.close().then(() => adapter.exit(error.exitCode));
        };
        // Processes each run their own threads; without processes, this one runs them, or
        // (where only ending a process ends a hung thread) one worker process runs them.
        const byProcess = processes > 1;
        const common = { gracefulTimeout, timeout: this.#options.timeout, onFatal, log };
        const supervisor: WorkerPool = !byProcess && adapter.hostsThreads
          ? new ThreadHost({
            ...common,
            threads,
            spawn: (count) => adapter.spawnProcess({ ...data(1), threads: count, host: true }),
          })
          : new Supervisor({
            ...common,
            count: byProcess ? processes : threads,
            kind: byProcess ? "process" : "thread",
            name: String,
            spawn: (id) =>
              byProcess
                ? adapter.spawnProcess(data(id))
                : adapter.spawnThread(threadUrl(adapter, app), { ...data(id), threads: 0 }),
          });
        this.#stop = () => supervisor.stop();
        await supervisor.start();
        this.#supervisor = supervisor;
        this.#trapSupervisorSignals(adapter, supervisor);
        const hint = adapter.closeHint({ processes, threads });
        if (hint) log(hint);
      }
    } catch (error) {
      for (const untrap of this.#untraps.splice(0)) untrap();
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
    const edgeHint = adapter.edgeHint(this.#options.edge);
    if (edgeHint) log(edgeHint);
    if (this.#options.onListen) this.#options.onListen(info);
    else if (this.#options.onListen === undefined) console.log(startupLine(info, adapter.version));
  }

  /** SIGHUP reloads, SIGTTIN adds a worker, SIGTTOU removes one (gunicorn's signals). */
  #trapSupervisorSignals(adapter: Adapter, supervisor: WorkerPool): void {
    const report = (what: string) => (error: unknown) => log(`${what} failed: ${messageOf(error)}`);
    this.#trap(adapter, "SIGHUP", () => {
      log("SIGHUP: rolling reload");
      supervisor.reload().catch(() => {}); // the supervisor has logged why
    });
    this.#trap(adapter, "SIGTTIN", () => {
      log(`SIGTTIN: one worker more`);
      supervisor.scale((n) => n + 1).catch(report("SIGTTIN"));
    });
    this.#trap(adapter, "SIGTTOU", () => {
      if (supervisor.count <= 1) return log("SIGTTOU: already down to 1 worker; keeping it");
      log(`SIGTTOU: one worker fewer`);
      supervisor.scale((n) => n - 1).catch(report("SIGTTOU"));
    });
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
    if (data.timeout > 0) {
      // From this isolate's event loop: when a request blocks it, the heartbeats stop.
      const beat = () => parent.send({ multiserve: "heartbeat" });
      beat(); // booting counts against the timeout too: say at once that we got this far
      this.#heartbeat = setInterval(beat, heartbeatEveryMs(data.timeout));
    }
    if (data.kind === "process") {
      // Signals sent to the whole process group (Ctrl-C in a terminal) reach workers too:
      // the first drains like the primary's, a second ends at once.
      this.#trapStopSignals(adapter, stop, (_signal, code) => parent.exit(code));
      // Reload and scaling are the primary's business: a group-wide signal must not end workers.
      for (const signal of ["SIGHUP", "SIGTTIN", "SIGTTOU"] as const) this.#trap(adapter, signal, () => {});
    }
    let port: number;
    try {
      if (data.kind === "process" && data.threads > 0) {
        // A host's threads are the primary's: named as the primary would name them.
        const name = (id: number) => data.host ? String(id) : `${data.id}.${id}`;
        const supervisor = new Supervisor({
          count: data.threads,
          kind: "thread",
          name,
          gracefulTimeout: data.gracefulTimeout,
          timeout: data.timeout,
          onFatal: (error) => {
            if (!(error instanceof HungWorkerError)) return this.#failWorker(parent, error);
            // Its supervisor replaces this whole process, the one way to free the hung socket.
            log(error.message);
            parent.exit(error.exitCode);
          },
          log,
          spawn: (id) =>
            adapter.spawnThread(threadUrl(adapter, app), { ...data, id: name(id), threads: 0, host: false }),
        });
        this.#stop = () => supervisor.stop();
        await supervisor.start();
        if (data.host) obeyCommands(supervisor, parent);
        port = data.port;
      } else {
        let handler = guarded(await handlerOf(app, data.module), data.edge, adapter.nativeChecks);
        if (data.maxRequests > 0) {
          const limit = data.maxRequests + Math.floor(Math.random() * (data.maxRequestsJitter + 1));
          handler = countRequests(
            handler,
            limit,
            (requests) => parent.send({ multiserve: "retire", requests }),
          );
        }
        port = await this.#listen(adapter, handler, {
          hostname: data.hostname,
          port: data.port,
          shared: true,
        }, data);
      }
    } catch (error) {
      await this.#failWorker(parent, error);
      return;
    }
    this.#url = formatUrl(data.hostname, port);
    await parent.send({ multiserve: "listening", port });
  }

  /**
   * Serve `handler` (already guarded) on a socket, drainable, and make stopping drain it.
   * Resolves to the port bound.
   */
  async #listen(
    adapter: Adapter,
    handler: FetchHandler,
    where: { hostname: string; port: number; shared: boolean },
    { edge, gracefulTimeout }: { edge: EdgeOptions; gracefulTimeout: number },
  ): Promise<number> {
    const drain = drainable(handler);
    const listener = await adapter.listen(drain.handler, {
      ...where,
      edge,
      onError: errorHandler(edge.debug),
    });
    this.#stop = () => drain.close(listener, gracefulTimeout * 1_000);
    return listener.port;
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

/** Lifecycle lines go to stderr, like gunicorn's log. */
function log(line: string): void {
  console.error(`multiserve: ${line}`);
}

/** A thread host carries out its primary's reloads and scaling, and answers each. */
function obeyCommands(supervisor: Supervisor, parent: ParentLink): void {
  parent.onCommand?.((message) => {
    const done = message.command === "reload" ? supervisor.reload() : supervisor.scale(message.count);
    done.then(() => undefined, messageOf).then((error) =>
      parent.send({ multiserve: "done", seq: message.seq, workers: supervisor.count, error })
    );
  });
}

/** `handler`, calling `onLimit` once when the request that reaches `limit` arrives. */
function countRequests(
  handler: FetchHandler,
  limit: number,
  onLimit: (requests: number) => void,
): FetchHandler {
  let served = 0;
  return (request, info) => {
    if (++served === limit) onLimit(served);
    return handler(request, info);
  };
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
