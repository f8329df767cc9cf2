/**
 * A worker: a process or thread its supervisor started, which re-ran the program (or our
 * module loader) and reached `serve()`. It beats its heartbeat from its event loop, tells
 * its supervisor when it listens, cannot start, or has served its quota or outgrown its
 * memory limit, and stops when told: draining if it serves, at once if it is still booting.
 * It serves the app through the request chain, or, a process with threads, keeps a pool of
 * its own threads.
 *
 * @module
 */
import type { Adapter, ParentLink } from "./adapter.ts";
import { servedApp } from "./app.ts";
import { flushCompileCache } from "./compile_cache.ts";
import { EXIT, messageOf, type MultiserveError } from "./errors.ts";
import { urlOf } from "./addresses.ts";
import { serveChain, type Serving } from "./http/chain.ts";
import { configureLog, logAt, logger } from "./log.ts";
import type { PoolEvent, StatsReport } from "./observe/events.ts";
import { threadPool } from "./pool/build.ts";
import type { WorkerPool } from "./pool/pool.ts";
import { heartbeatEveryMs } from "./protocol.ts";
import { theBus } from "./pubsub/bus.ts";
import type { AssignedWorker } from "./role.ts";
import { loadAdapter } from "./runtime.ts";
import { SignalTraps } from "./signals.ts";
import { takeEarlySignals } from "./early_signals.ts";
import type { App, Server, ServerStats } from "./types.ts";

/** How long a worker that reported a failure waits to be stopped before it exits anyway. */
const FAILED_WORKER_EXIT_MS = 2_000;
/** Bytes in a MiB, the unit of `maxWorkerMemory`. */
const MIB = 2 ** 20;

export class WorkerServer implements Server {
  readonly ready: Promise<Server>;
  readonly finished: Promise<void>;
  readonly #data: AssignedWorker;
  #url: string | undefined;
  #finish!: () => void;
  #parent: ParentLink | undefined;
  #adapter: Adapter | undefined;
  #traps: SignalTraps | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** What serves: the request chain on a socket, or this process's threads. */
  #serving: Serving | undefined;
  #pool: WorkerPool | undefined;
  #closing: Promise<void> | undefined;
  /** Set once this worker has reported that it cannot serve. */
  #failedWith: number | undefined;
  /** The supervisor asked this worker to stop (perhaps while it was still booting). */
  #stopRequested = false;
  /** This worker has asked to be recycled for its memory. */
  #outgrew = false;

  constructor(app: App | URL | undefined, data: AssignedWorker) {
    this.#data = data;
    this.finished = new Promise((resolve) => (this.#finish = resolve));
    this.ready = this.#start(app).then(() => this);
    // A worker's failure is its supervisor's to report: never an unhandled rejection here.
    this.ready.catch(() => {});
  }

  get url(): string {
    if (this.#url === undefined) throw new Error("server.url is not known before server.ready resolves");
    return this.#url;
  }

  get workers(): number {
    return this.#pool?.count ?? 1;
  }

  close(): Promise<void> {
    return this.#close(false);
  }

  /** Stop serving; `restart`: a replacement takes over (WebSockets are told 1012, not 1001). */
  #close(restart: boolean): Promise<void> {
    this.#closing ??= (async () => {
      await (this.#pool?.stop() ?? this.#serving?.stop(restart));
      clearInterval(this.#heartbeat);
      this.#traps?.clear();
      this.#finish();
    })();
    return this.#closing;
  }

  reload(): Promise<void> {
    return Promise.reject(new Error("reload() is the primary's: this is a worker"));
  }

  scale(_count: number): Promise<void> {
    return Promise.reject(new Error("scale() is the primary's: this is a worker"));
  }

  upgrade(): Promise<void> {
    return Promise.reject(new Error("upgrade() is the primary's: this is a worker"));
  }

  stats(): ServerStats {
    throw new Error("stats() is the primary's: this is a worker");
  }

  async #start(app: App | URL | undefined): Promise<void> {
    const data = this.#data;
    const adapter = this.#adapter = await loadAdapter();
    const parent = this.#parent = adapter.parentLink(data.kind);
    configureLog(data.config, data.id);
    // Listen for "stop" from the start: a supervisor may stop a worker that is still booting.
    parent.onStop((restart) => this.#stop(restart));
    // Publish/subscribe: this isolate's topics, linked to every other worker's through ours.
    const bus = theBus();
    bus.topics.maxBuffer = data.config.maxWebSocketBuffer;
    bus.linkUp((message) => void parent.send(message));
    parent.onBus?.((message) => bus.fromParent(message));
    const { timeout, stats, maxWorkerMemory } = data.config;
    if (timeout > 0 || stats || maxWorkerMemory > 0) {
      // From this isolate's event loop: when a request blocks it, the heartbeats stop. The
      // same beat weighs this worker against maxWorkerMemory (a beat with nothing to send
      // when only that is on).
      const limit = maxWorkerMemory * MIB;
      const beat = () => {
        const memory = stats || limit > 0 ? adapter.memoryUsage(data.kind) : 0;
        if (timeout > 0 || stats) void parent.send({ multiserve: "heartbeat", stats: this.#report(memory) });
        if (limit > 0 && memory > limit) this.#outgrown(parent, memory, limit);
      };
      beat(); // booting counts against the timeout too: say at once that we got this far
      this.#heartbeat = setInterval(beat, heartbeatEveryMs(timeout));
    }
    if (data.kind === "process") this.#trapSignals(adapter, parent);
    try {
      if (data.kind === "process" && data.threads > 0) await this.#hostThreads(adapter, app, parent);
      else await this.#serve(adapter, app, parent);
    } catch (error) {
      return this.#fail(error);
    }
    if (this.#stopRequested) return; // stopped while starting: #stop() ends it
    this.#url = urlOf(data.addresses[0], data.config.cert !== undefined);
    await parent.send({ multiserve: "listening", port: data.addresses[0].port });
    flushCompileCache(); // what this start compiled, for the next worker (Node)
  }

  /** Serve the app through the request chain, on the port every worker shares. */
  async #serve(adapter: Adapter, app: App | URL | undefined, parent: ParentLink): Promise<void> {
    const { config, module, addresses } = this.#data;
    const served = await servedApp(app, module);
    if (this.#stopRequested) return;
    this.#serving = await serveChain(adapter, served, {
      addresses,
      shared: true,
      config,
      id: this.#data.id,
      onQuota: (requests) => void parent.send({ multiserve: "retire", requests }),
    });
    // Alive but deaf (its heartbeat goes on): the supervisor replaces it as a crashed one.
    this.#serving.whenEnded((reason) => void parent.send({ multiserve: "unserving", reason }));
  }

  /** Keep this process's threads (named as the primary's own when this process hosts them). */
  async #hostThreads(adapter: Adapter, app: App | URL | undefined, parent: ParentLink): Promise<void> {
    const data = this.#data;
    const name = (id: number) => data.host ? String(id) : `${data.id}.${id}`;
    // The threads' lives always go up, so that the primary counts its workers (systemd's
    // STATUS, stats()); the log lines, for the status page, only with `stats`.
    const relay = (event: PoolEvent) => void parent.send({ multiserve: "event", event });
    const pool = this.#pool = threadPool(adapter, app, data, name, {
      ...data.config,
      bus: theBus(),
      observe: relay,
      onFatal: (error) => {
        // A hung thread its runtime cannot end: ending this process frees its socket, and
        // its supervisor replaces the process whole.
        if (error.exitCode === EXIT.hung) {
          logAt("critical", error.message);
          return parent.exit(error.exitCode);
        }
        void this.#fail(error);
      },
      // The primary's status page shows the lines of this process's pool too.
      log: (level, line, fields) => {
        logger(level, line, fields);
        if (data.config.stats) {
          relay({ type: "log", entry: { time: Date.now(), level, message: line, ...fields } });
        }
      },
    });
    await pool.start();
    if (data.host) {
      parent.onCommand?.((message) => {
        const done = message.command === "reload" ? pool.reload() : pool.scale(message.count);
        done.then(() => undefined, messageOf).then((error) =>
          parent.send({ multiserve: "done", seq: message.seq, workers: pool.count, error })
        );
      });
    }
  }

  /**
   * Signals sent to the whole process group (Ctrl-C in a terminal) reach workers too: the
   * first drains like the primary's, a second ends at once. Reload and scaling are the
   * primary's business: a group-wide signal must not end workers.
   */
  #trapSignals(adapter: Adapter, parent: ParentLink): void {
    const traps = this.#traps = new SignalTraps(adapter);
    traps.onStop(() => this.#stop(false), (_signal, code) => parent.exit(code));
    for (const signal of ["SIGHUP", "SIGTTIN", "SIGTTOU", "SIGUSR2"] as const) traps.on(signal, () => {});
    traps.replay(takeEarlySignals());
  }

  /** The supervisor asked us to stop (`restart`: to be replaced), or is gone. */
  #stop(restart: boolean): void {
    const parent = this.#parent!;
    this.#stopRequested = true;
    if (this.#failedWith !== undefined) return parent.exit(this.#failedWith);
    // Still loading the app: nothing to drain, and the load may never end.
    if (this.#serving === undefined && this.#pool === undefined) return parent.exit(0);
    void this.#close(restart)
      // The last counts, once drained, so that none is lost to the exit.
      .then(() =>
        this.#data.config.stats ? parent.send({ multiserve: "heartbeat", stats: this.#report() }) : undefined
      )
      .then(() => parent.exit(0));
  }

  /**
   * Serving, and over `maxWorkerMemory`: ask once to be recycled, the replacement first, as
   * `maxRequests` does. Not while booting or draining, nor a process keeping threads (it
   * serves nothing; each of its threads is weighed on its own).
   */
  #outgrown(parent: ParentLink, memory: number, limit: number): void {
    if (this.#outgrew || this.#serving === undefined || this.#url === undefined || this.#stopRequested) {
      return;
    }
    this.#outgrew = true;
    void parent.send({ multiserve: "retire", memory, limit });
  }

  /** What to tell the supervisor with a heartbeat (with `stats` on); `memory` if just read. */
  #report(memory?: number): StatsReport | undefined {
    const { config, kind } = this.#data;
    if (!config.stats || this.#adapter === undefined) return undefined;
    memory ??= this.#adapter.memoryUsage(kind);
    return this.#serving?.report(memory) ??
      { requests: {}, bytesIn: 0, bytesOut: 0, inFlight: 0, webSockets: 0, memory };
  }

  /**
   * Tell the supervisor why this worker cannot serve, then wait for it to stop us: exiting
   * at once could lose the message in flight (Deno's IPC does). Exit anyway if it does not.
   */
  async #fail(error: unknown): Promise<never> {
    const parent = this.#parent!;
    const exitCode = (error as Partial<MultiserveError>).exitCode ?? EXIT.boot;
    this.#failedWith = exitCode;
    await this.close().catch(() => {});
    await parent.send({ multiserve: "failed", message: messageOf(error), exitCode });
    if (this.#stopRequested) parent.exit(exitCode);
    else setTimeout(() => parent.exit(exitCode), FAILED_WORKER_EXIT_MS);
    return new Promise<never>(() => {});
  }
}
