/**
 * The primary's one way to drive its pool, and what each signal does at each point of the
 * pool's life. A systemd `ExecReload` or a deploy script sends SIGHUP whenever it likes,
 * and the runtime's default for SIGHUP, SIGTTIN and SIGTTOU ends the process: so every
 * signal, in every phase, is trapped, logged, and then run, queued, merged or refused.
 * Reloads and scaling, whether a signal, `server.reload()`/`scale()` or a file change asks
 * for them, run one at a time in the order asked, none before every worker of the start
 * listens, and none once the stop has begun.
 *
 * | phase             | SIGHUP                   | SIGTTIN, SIGTTOU          | SIGUSR2                      | SIGTERM, SIGINT              |
 * | ----------------- | ------------------------ | ------------------------- | ---------------------------- | ---------------------------- |
 * | booting           | queued until all listen  | queued until all listen   | queued until all listen      | graceful; booting ones stop  |
 * | serving           | rolling reload           | one worker more, fewer    | upgrade: a new primary       | graceful stop                |
 * | reloading/scaling | queued after it (merged) | queued after it, in order | queued after it (merged)     | graceful; the queued dropped |
 * | upgrading         | queued after it (**)     | queued after it (**)      | merged into the one under way | graceful; the new primary too |
 * | stopping          | refused                  | refused                   | refused                      | at once: exit 130, 143 (*)   |
 * | one isolate       | ignored: no workers      | ignored: no workers       | refused: no workers          | graceful; a second: at once  |
 *
 * SIGTTOU never goes below 1 worker. (*) Once a stop signal began the stop; after `close()`
 * the first one joins it, gracefully. (**) Run if the upgrade fails; once it succeeds this
 * primary stops, dropping them (the new primary is the one to signal).
 *
 * A reload merges into one already queued, not into one running: the one running may have
 * loaded the app before the change the signal announces, the one queued has not.
 *
 * @module
 */
import type { Signal } from "../adapter.ts";
import { messageOf, StoppedError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { SIGNAL_EXIT } from "../signals.ts";
import type { WorkerPool } from "./pool.ts";

/** Where the pool is in its life, as signals see it. */
export type Phase = "booting" | "serving" | "reloading" | "scaling" | "upgrading" | "stopping";

export interface PoolControlOptions {
  /** One isolate serving alone: no pool, so only the stop signals mean something. */
  alone: boolean;
  /** Seconds a graceful stop may take, for its log line. */
  gracefulTimeout: number;
  /** Where the decisions are told. */
  log: Logger;
  /** The first SIGTERM or SIGINT: stop gracefully (the primary's `close()`, then exit 0). */
  stop: (signal: Signal) => void;
  /** A second one: end every worker and exit with `exitCode` at once. */
  stopNow: (signal: Signal, exitCode: number) => void;
  /** Told each change of phase, as it happens (systemd's notifications follow them). */
  onPhase?: (phase: Phase) => void;
  /**
   * Upgrade: start a new primary and hand over to it (the primary's). Resolves once it has
   * taken over, rejects saying why it did not (this primary serving on).
   */
  upgrade?: (by: string) => Promise<void>;
}

/** A reload or a scaling, waiting for its turn. */
interface Task {
  kind: "reload" | "scale" | "upgrade";
  /** Who asked, for log lines: a signal, or a call. */
  by: string;
  run: (pool: WorkerPool) => Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
  /** Settles as the task does: what a merged request waits for. */
  done: Promise<void>;
}

const FOR_WORKERS = "start with --processes or --threads (options processes, threaded) to have workers";

export class PoolControl implements WorkerPool {
  readonly #options: PoolControlOptions;
  #pool: WorkerPool | undefined;
  #phase: Phase = "booting";
  readonly #queue: Task[] = [];
  #running: Task | undefined;
  /** Stop signals so far: the first drains, any later one stops at once. */
  #stopSignals = 0;

  constructor(options: PoolControlOptions) {
    this.#options = options;
  }

  /** Where the pool is in its life. */
  get phase(): Phase {
    return this.#phase;
  }

  /** The pool to drive, once the primary has made it (signals before that wait as in booting). */
  attach(pool: WorkerPool): void {
    this.#pool = pool;
  }

  get count(): number {
    return this.#pool?.count ?? 1;
  }

  /**
   * Start the pool (one isolate: nothing to start) and, once every worker listens, run what
   * was asked meanwhile. A start that fails drops it: the server is going down.
   */
  async start(): Promise<void> {
    try {
      await this.#pool?.start();
    } catch (error) {
      this.#stopping("the start failed");
      throw error;
    }
    if (this.#phase !== "booting") return; // stopped while booting
    this.#enter("serving");
    // A turn later: the primary says it listens before what waited begins.
    setTimeout(() => this.#next(), 0);
  }

  /** Stop the pool: what is queued is dropped, and any signal from now on is refused. */
  stop(): Promise<void> {
    this.#stopping("stopping");
    return this.#pool?.stop() ?? Promise.resolve();
  }

  kill(): void {
    this.#stopping("stopping at once");
    this.#pool?.kill();
  }

  /**
   * A rolling reload, after what was asked before it; `by` names who asked, for log lines.
   * With `merge` (as SIGHUP, for the control socket), one already queued is joined instead.
   */
  reload(by = "reload()", merge = false): Promise<void> {
    const queued = merge ? this.#queue.find((task) => task.kind === "reload") : undefined;
    if (queued === undefined) return this.#enqueue("reload", by, (pool) => pool.reload());
    this.#options.log("info", `${by}: a reload is queued already (${queued.by}); merged into it`);
    return new Promise((resolve, reject) => {
      const [resolved, rejected] = [queued.resolve, queued.reject];
      queued.resolve = () => (resolved(), resolve());
      queued.reject = (error) => (rejected(error), reject(error));
    });
  }

  /** Scaling, after what was asked before it; a function gets the count when its turn comes. */
  scale(count: number | ((current: number) => number), by = "scale()"): Promise<void> {
    return this.#enqueue("scale", by, (pool) => pool.scale(count));
  }

  /**
   * Replace worker `worker` (its id, "2"), as `maxRequests` recycles one: its replacement
   * starts, and once that listens, it drains. Not queued: it changes no count, and may run
   * during a reload or scaling as a recycling does; refused while the workers boot or stop.
   */
  replaceWorker(worker: string): Promise<void> {
    if (this.#phase === "stopping") {
      return Promise.reject(new StoppedError(`kill ${worker} not run: the server is stopping`));
    }
    if (this.#phase === "booting") {
      return Promise.reject(new Error(`kill ${worker} not run: the workers are still starting`));
    }
    if (this.#pool?.replaceWorker === undefined) {
      return Promise.reject(
        new Error("these workers cannot be replaced one by one (threads in one worker process)"),
      );
    }
    return this.#pool.replaceWorker(worker);
  }

  /**
   * Upgrade the primary (SIGUSR2, or `by` a call), after what was asked before it; one asked
   * while another waits or runs joins it. Rejects saying why it was refused or failed.
   */
  upgrade(by: string): Promise<void> {
    const { log } = this.#options;
    const refused = (why: string) => {
      log("info", `${by}: upgrade refused: ${why}`);
      return Promise.reject(new Error(`upgrade refused: ${why}`));
    };
    if (this.#options.alone || this.#options.upgrade === undefined) {
      return refused(
        `one isolate serves alone: an upgrade starts a new primary's workers beside this one's; ${FOR_WORKERS}`,
      );
    }
    if (this.#phase === "stopping") return refused("the server is stopping");
    const under = this.#running?.kind === "upgrade"
      ? this.#running
      : this.#queue.find((task) => task.kind === "upgrade");
    if (under) {
      log(
        "info",
        `${by}: an upgrade is ${
          under === this.#running ? "under way" : "queued"
        } already (${under.by}); merged into it`,
      );
      return under.done;
    }
    const waiting = this.#waitingFor();
    log("info", waiting === undefined ? `${by}: upgrade` : `${by}: upgrade, queued until ${waiting}`);
    return this.#enqueue("upgrade", by, () => this.#options.upgrade!(by));
  }

  /** Act on `signal` as the phase allows (the table above), saying what became of it. */
  signal(signal: Signal): void {
    const { log } = this.#options;
    if (signal === "SIGTERM" || signal === "SIGINT") return this.#stopSignal(signal);
    // Its outcome is logged by the upgrade itself (or the refusal above).
    if (signal === "SIGUSR2") return void this.upgrade(signal).catch(() => {});
    const what = signal === "SIGHUP" ? "reload" : "scale";
    if (this.#options.alone) {
      return log(
        "info",
        `${signal}: ignored: one isolate serves alone, with no workers to ${what}; ${FOR_WORKERS}`,
      );
    }
    if (this.#phase === "stopping") return log("info", `${signal}: refused: the server is stopping`);
    if (signal === "SIGHUP") {
      const queued = this.#queue.find((task) => task.kind === "reload");
      if (queued) return log("info", `SIGHUP: a reload is queued already (${queued.by}); merged into it`);
    }
    const waiting = this.#waitingFor();
    if (signal === "SIGTTOU" && waiting === undefined && this.count <= 1) {
      return log("info", "SIGTTOU: already down to 1 worker; keeping it");
    }
    const action =
      { SIGHUP: "rolling reload", SIGTTIN: "one worker more", SIGTTOU: "one worker fewer" }[signal];
    log(
      "info",
      waiting === undefined ? `${signal}: ${action}` : `${signal}: ${action}, queued until ${waiting}`,
    );
    this.#enqueue(what, signal, (pool) => {
      if (signal === "SIGHUP") return pool.reload();
      if (signal === "SIGTTIN") return pool.scale((n) => n + 1);
      // Its turn may come with one worker left: the count is the one of then.
      if (pool.count > 1) return pool.scale((n) => n - 1);
      log("info", "SIGTTOU: already down to 1 worker; keeping it");
      return Promise.resolve();
    }).catch((error) => {
      // The pool has logged why a reload failed; a dropped one, the stop that dropped it.
      if (signal !== "SIGHUP" && !(error instanceof StoppedError)) {
        log("error", `${signal} failed: ${messageOf(error)}`);
      }
    });
  }

  #stopSignal(signal: "SIGTERM" | "SIGINT"): void {
    const { log, gracefulTimeout } = this.#options;
    if (this.#stopSignals++ > 0) {
      log("info", `${signal} again: stopping at once`);
      return this.#options.stopNow(signal, SIGNAL_EXIT[signal]);
    }
    const booting = this.#phase === "booting" && this.#pool !== undefined && !this.#options.alone;
    const running = this.#running === undefined
      ? ""
      : `; the ${kindName(this.#running.kind)} under way ends with it`;
    log(
      "info",
      `${signal}: stopping gracefully (up to ${gracefulTimeout} s; send it again to stop at once)${
        booting ? "; the workers still starting are stopped now" : ""
      }${running}`,
    );
    this.#stopping(signal);
    this.#options.stop(signal);
  }

  /** What a task asked now waits for; undefined when it can run at once. */
  #waitingFor(): string | undefined {
    if (this.#phase === "booting") return "every worker listens";
    const running = this.#running;
    if (running === undefined && this.#queue.length === 0) return undefined;
    const ahead = running ? [`the ${kindName(running.kind)} under way (${running.by})`] : [];
    if (this.#queue.length > 0) ahead.push(`${this.#queue.length} queued before it`);
    return `${ahead.join(" and ")} ${ahead.length > 1 || this.#queue.length > 1 ? "end" : "ends"}`;
  }

  #enqueue(kind: Task["kind"], by: string, run: Task["run"]): Promise<void> {
    if (this.#phase === "stopping") {
      return Promise.reject(new StoppedError(`${by} not run: the server is stopping`));
    }
    let settle!: Pick<Task, "resolve" | "reject">;
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.#queue.push({ kind, by, run, ...settle, done });
    this.#next();
    return done;
  }

  /** Run the next task, unless one runs, the pool still boots, or it stops. */
  #next(): void {
    if (this.#running || this.#phase !== "serving") return;
    const task = this.#queue.shift();
    if (task === undefined) return;
    this.#running = task;
    this.#enter(task.kind === "reload" ? "reloading" : task.kind === "scale" ? "scaling" : "upgrading");
    let done: Promise<void>;
    try {
      done = task.run(this.#pool!);
    } catch (error) {
      done = Promise.reject(error);
    }
    done.then(task.resolve, task.reject).finally(() => {
      this.#running = undefined;
      if (this.#phase !== "stopping") this.#enter("serving");
      this.#next();
    });
  }

  #enter(phase: Phase): void {
    this.#phase = phase;
    this.#options.onPhase?.(phase);
  }

  /** The stop began (`why`): drop what waits, refuse what comes. What runs ends with the pool's stop. */
  #stopping(why: string): void {
    if (this.#phase === "stopping") return;
    this.#enter("stopping");
    const dropped = this.#queue.splice(0);
    if (dropped.length === 0) return;
    this.#options.log(
      "info",
      `${why}: dropping what was queued: ${dropped.map((task) => task.by).join(", ")}`,
    );
    for (const task of dropped) task.reject(new StoppedError(`${task.by} not run: the server is stopping`));
  }
}

function kindName(kind: Task["kind"]): string {
  return kind === "scale" ? "scaling" : kind;
}
