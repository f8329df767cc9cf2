/**
 * The arbiter: starts the workers, waits until every one listens, and then keeps them:
 * replaces any that dies (backing off when crashes repeat), kills and replaces any whose
 * heartbeat goes silent, recycles those that served `maxRequests` or outgrew
 * `maxWorkerMemory`, reloads them all in a rolling way, scales their number, and stops them
 * gracefully. It serves nothing itself and knows workers only through the abstract
 * `WorkerHandle`, so one supervisor runs threads and processes on every runtime.
 *
 * @module
 */
import type { WorkerHandle } from "../adapter.ts";
import { settlesWithin } from "../deadline.ts";
import {
  AppLoadError,
  BootError,
  EXIT,
  HungWorkerError,
  messageOf,
  type MultiserveError,
  OptionError,
} from "../errors.ts";
import type { LogFields } from "../log.ts";
import type { PoolEvent, RestartReason } from "../observe/events.ts";
import { heartbeatEveryMs } from "../protocol.ts";
import type { PoolOptions, WorkerPool } from "./pool.ts";

/** Extra time past the graceful timeout before a worker that has not exited is killed. */
const KILL_MARGIN_MS = 2_000;
/** Respawn delay after the second crash in a row; it doubles with each further crash. */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** Crashes further apart than this do not count as repeating. */
const CRASH_MEMORY_MS = 60_000;

export interface SupervisorOptions extends PoolOptions {
  /** How many workers to keep running. */
  count: number;
  /** Start the worker that will hold place `id` (1-based; a replacement keeps its id). */
  spawn: (id: number) => WorkerHandle;
  /** What the workers are, for log lines: "process" or "thread". */
  kind: "process" | "thread";
  /** How worker `id` is named: "2" or, for a thread of process 2, "2.1". */
  name: (id: number) => string;
}

interface Worker {
  /** Place in the pool, shown as the worker id; kept by replacements. */
  id: number;
  /** Order of starting, unique: names threads in logs and tells the oldest. */
  serial: number;
  /** Bumped by each reload; a reload retires every worker of an older generation. */
  generation: number;
  handle: WorkerHandle;
  state: "starting" | "listening" | "stopping";
  /** When it was started (ms since the epoch), for `bootTimeout`. */
  startedAt: number;
  lastHeartbeat: number;
  /** Why the supervisor ended it, for the exit line. */
  endedBecause?: string;
  /** Killed for heartbeat silence. */
  timedOut?: boolean;
  /** It asked to retire and its replacement is starting. */
  retiring: boolean;
  failure?: { message: string; exitCode: number };
  /** Resolves once it listens (or was stopped first); rejects if it fails to boot. */
  listening: Promise<void>;
  exited: Promise<void>;
}

export class Supervisor implements WorkerPool {
  readonly #options: SupervisorOptions;
  readonly #workers = new Set<Worker>();
  readonly #respawns = new Set<ReturnType<typeof setTimeout>>();
  #crashTimes: number[] = [];
  #serial = 0;
  #generation = 0;
  #stopping = false;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** Reloads and scaling run one at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: SupervisorOptions) {
    this.#options = options;
  }

  /** Workers serving or starting, not counting those on their way out. */
  get count(): number {
    return this.#current().length;
  }

  /** Start every worker; resolve when all listen, or stop them all and reject on the first failure. */
  async start(): Promise<void> {
    // Watched from the start: a worker that hangs while it boots is a boot failure.
    const { timeout, bootTimeout } = this.#options;
    const watched = [timeout, bootTimeout].filter((seconds) => seconds > 0);
    if (watched.length > 0) {
      this.#watchdog = setInterval(() => this.#watch(), heartbeatEveryMs(Math.min(...watched)));
    }
    const started = [];
    for (let id = 1; id <= this.#options.count; id++) started.push(this.#spawn(id, 0));
    try {
      await allListening(started);
    } catch (error) {
      // The server fails: those still starting have nothing to drain, and one may not heed
      // its stop (a Bun thread told before it listens for it never hears it, and boots on,
      // perhaps forever), which must not hold the exit for the whole graceful timeout.
      await this.#stop(KILL_MARGIN_MS);
      throw error;
    }
  }

  /** Ask every worker to stop, wait for them, kill those past the graceful timeout. */
  stop(): Promise<void> {
    return this.#stop();
  }

  /** Stop every worker; those still starting are killed after `startingGraceMs`, if given. */
  async #stop(startingGraceMs?: number): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#respawns) clearTimeout(timer);
    this.#respawns.clear();
    const workers = [...this.#workers];
    const starting = startingGraceMs === undefined ? [] : workers.filter((w) => w.state === "starting");
    for (const worker of workers) this.#retire(worker);
    // Still watched while they drain: a hung one is killed, not waited for.
    await Promise.all([
      this.#killAfterGrace(workers.filter((w) => !starting.includes(w))),
      this.#killAfterGrace(starting, startingGraceMs, "killed: still starting after it was stopped"),
    ]);
    clearInterval(this.#watchdog);
  }

  /** End every worker at once: the second SIGINT. */
  kill(): void {
    this.#stopping = true;
    for (const worker of this.#workers) worker.handle.kill();
  }

  /**
   * Rolling reload: a new generation in every place, and once all of it listens, the old
   * generation drains. If any new worker cannot start, the new ones stop and the old keep
   * serving; the promise then rejects with the reason.
   */
  reload(): Promise<void> {
    return this.#serially(async () => {
      // Its turn came after the stop began: there is nothing to renew.
      if (this.#stopping) return;
      const old = this.#current();
      const generation = ++this.#generation;
      const plural = this.#plural(old.length);
      this.#options.log("info", `reload: starting ${old.length} new ${plural}`);
      this.#observe({ type: "reload" });
      const fresh = old.map((worker) => this.#spawn(worker.id, generation));
      try {
        await allListening(fresh);
      } catch (error) {
        this.#options.log("error", `reload failed, the current ${plural} keep serving: ${messageOf(error)}`);
        this.#generation = generation - 1; // the old generation is the current one again
        await this.#abandon(fresh, "its reload failed");
        throw error;
      }
      if (this.#stopping) return;
      // Older generations include any worker respawned after a crash during the reload.
      const retired = [...this.#workers].filter((w) => w.generation < generation && w.state !== "stopping");
      for (const worker of retired) this.#retire(worker, "reloaded", "reload");
      this.#options.log(
        "info",
        `reload done: ${fresh.length} new ${plural} serving; the old ones are draining`,
      );
      await this.#killAfterGrace(retired);
    });
  }

  /**
   * Keep `count` workers (at least 1): start new ones, or stop the oldest gracefully. A
   * function gets the count when its turn comes, so signals in quick succession add up.
   */
  scale(count: number | ((current: number) => number)): Promise<void> {
    return this.#serially(async () => {
      if (this.#stopping) return;
      const current = this.#current();
      const target = Math.max(1, Math.floor(typeof count === "function" ? count(current.length) : count));
      if (target === current.length) return;
      this.#options.log("info", `scaling from ${current.length} to ${target} ${this.#plural(target)}`);
      if (target > current.length) {
        const taken = new Set(current.map((w) => w.id));
        const added = [];
        for (let id = 1; added.length < target - current.length; id++) {
          if (!taken.has(id)) added.push(this.#spawn(id, this.#generation));
        }
        try {
          await allListening(added);
        } catch (error) {
          this.#options.log("error", `scaling up failed: ${messageOf(error)}`);
          await this.#abandon(added, "scaling up failed");
          throw error;
        }
      } else {
        const oldest = current.sort((a, b) => a.serial - b.serial).slice(0, current.length - target);
        for (const worker of oldest) this.#retire(worker, "scaled down", "scale");
        await this.#killAfterGrace(oldest);
      }
    });
  }

  /**
   * Replace worker `id` (`multiserve ctl kill`) as a recycled one: its replacement starts,
   * then it drains. Rejects when no worker of that id serves, or its replacement cannot start
   * (it then serves on).
   */
  async replaceWorker(id: string): Promise<void> {
    const { name, kind } = this.#options;
    const worker = this.#current().find((w) => name(w.id) === id && w.state === "listening");
    if (worker === undefined) {
      const ids = this.#current().map((w) => name(w.id)).sort().join(", ");
      const nested = id.includes(".") && kind === "process"
        ? `; the threads of a worker process are replaced with it: kill ${id.slice(0, id.indexOf("."))}`
        : "";
      throw new Error(`no worker ${id} is serving (the workers: ${ids || "none"})${nested}`);
    }
    if (!(await this.#recycle(worker, "kill", "asked to go (multiserve ctl kill)", "on request"))) {
      throw new Error(`worker ${id} serves on: its replacement could not start (see the log)`);
    }
  }

  #serially(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Workers of the newest generation that are not on their way out. */
  #current(): Worker[] {
    return [...this.#workers].filter((w) =>
      w.state !== "stopping" && !w.retiring && w.generation === this.#generation
    );
  }

  #plural(n: number): string {
    return this.#options.kind === "process"
      ? (n === 1 ? "process" : "processes")
      : (n === 1 ? "thread" : "threads");
  }

  /** The fields of a line about `worker`. */
  #fields(worker: Worker): LogFields {
    return { worker: this.#options.name(worker.id), pid: worker.handle.pid };
  }

  #observe(event: PoolEvent): void {
    this.#options.observe?.(event);
  }

  #label(worker: Worker): string {
    const { kind, name } = this.#options;
    const pid = worker.handle.pid;
    return `${kind} ${name(worker.id)} (${pid === undefined ? `#${worker.serial}` : `pid ${pid}`})`;
  }

  /** Start a worker in place `id`. */
  #spawn(id: number, generation: number): Worker {
    const serial = ++this.#serial;
    let handle: WorkerHandle;
    let resolveListening!: () => void;
    let rejectListening!: (error: MultiserveError) => void;
    let markExited!: () => void;
    const listening = new Promise<void>((resolve, reject) => {
      resolveListening = resolve;
      rejectListening = reject;
    });
    // Callers that only start it need not handle its failure; those who await do.
    listening.catch(() => {});
    try {
      handle = this.#options.spawn(id);
    } catch (error) {
      const name = `${this.#options.kind} ${this.#options.name(id)}`;
      rejectListening(new BootError(`cannot start ${name}: ${messageOf(error)}`, { cause: error }));
      return {
        id,
        serial,
        generation,
        handle: { stop() {}, kill() {}, onMessage() {}, onExit() {} },
        state: "stopping",
        startedAt: 0,
        lastHeartbeat: 0,
        retiring: false,
        listening,
        exited: Promise.resolve(),
      };
    }
    const worker: Worker = {
      id,
      serial,
      generation,
      handle,
      state: "starting",
      startedAt: Date.now(),
      lastHeartbeat: Date.now(),
      retiring: false,
      listening,
      exited: new Promise((resolve) => (markExited = resolve)),
    };
    this.#workers.add(worker);
    const label = this.#label(worker);
    const fields = this.#fields(worker);
    const key = String(serial);
    const { kind, log } = this.#options;
    log("info", `${label} started`, fields);
    this.#observe({
      type: "spawn",
      key,
      worker: this.#options.name(id),
      kind,
      pid: handle.pid,
      at: worker.startedAt,
    });
    const { bus } = this.#options;
    if (bus !== undefined && handle.post !== undefined) bus.addChild(key, (message) => handle.post!(message));
    handle.onMessage((message) => {
      switch (message.multiserve) {
        case "publish":
        case "subscribers":
        case "count":
          bus?.fromChild(key, message);
          break;
        case "heartbeat":
          worker.lastHeartbeat = Date.now();
          if (message.stats) this.#observe({ type: "stats", key, stats: message.stats });
          break;
        case "event":
          // From a worker process's own pool: its keys are made unique under this worker's.
          this.#observe(
            "key" in message.event ? { ...message.event, key: `${key}/${message.event.key}` } : message.event,
          );
          break;
        case "listening":
          if (worker.state !== "starting") break;
          worker.state = "listening";
          worker.lastHeartbeat = Date.now();
          log("info", `${label} ready`, fields);
          this.#observe({ type: "state", key, state: "listening" });
          resolveListening();
          break;
        case "failed":
          worker.failure = { message: message.message, exitCode: message.exitCode };
          // Authoritative at once: the worker waits to be stopped, so the message is not
          // lost to its exit.
          if (worker.state === "starting") rejectListening(bootFailure(label, null, worker.failure));
          break;
        case "retire":
          if ("memory" in message) this.#recycleForMemory(worker, message.memory, message.limit);
          else this.#recycleForRequests(worker, message.requests);
          break;
        case "unserving":
          this.#replaceUnserving(worker, message.reason);
          break;
      }
    });
    handle.onExit((code, error) => {
      markExited();
      this.#workers.delete(worker);
      bus?.removeChild(key);
      this.#observe({ type: "exit", key });
      const how = describeExit(code, error);
      if (worker.state === "starting") {
        this.#observe({ type: "bootFailure" });
        rejectListening(bootFailure(label, code, worker.failure, error));
      } else if (worker.state === "stopping") {
        log(
          "info",
          `${label} exited (${how}${worker.endedBecause ? `; ${worker.endedBecause}` : ""})`,
          fields,
        );
        resolveListening(); // stopped before it listened: not a failure
      } else if (!this.#stopping) {
        this.#respawnAfterCrash(worker, worker.endedBecause ?? `exited unexpectedly (${how})`);
      }
    });
    return worker;
  }

  /** Replace a worker that died while serving; back off when crashes repeat. */
  #respawnAfterCrash(dead: Worker, why: string): void {
    const fields = this.#fields(dead);
    if (dead.retiring) {
      return this.#options.log(
        "warning",
        `${this.#label(dead)} ${why}; its replacement is already starting`,
        fields,
      );
    }
    this.#observe({ type: "restart", reason: dead.timedOut ? "timeout" : "crash" });
    const now = Date.now();
    this.#crashTimes = this.#crashTimes.filter((t) => now - t < CRASH_MEMORY_MS);
    const repeats = this.#crashTimes.length;
    this.#crashTimes.push(now);
    const delay = repeats === 0 ? 0 : Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (repeats - 1));
    this.#options.log(
      "warning",
      `${this.#label(dead)} ${why}; starting a new one${
        delay > 0 ? ` in ${delay} ms (crash ${repeats + 1} within a minute)` : ""
      }`,
      fields,
    );
    const timer = setTimeout(() => {
      this.#respawns.delete(timer);
      if (this.#stopping) return;
      this.#spawn(dead.id, dead.generation).listening.catch((e: MultiserveError) => this.#options.onFatal(e));
    }, delay);
    this.#respawns.add(timer);
  }

  /** A worker served its `maxRequests`. */
  #recycleForRequests(worker: Worker, requests: number): void {
    const why = `served ${requests} requests (maxRequests)`;
    void this.#recycle(worker, "recycle", why, `after ${requests} requests`);
  }

  /**
   * A worker over `maxWorkerMemory` (its figure and the limit, in bytes), as its heartbeat
   * found it. It asks once; were it to ask again while its replacement starts, that is ignored.
   */
  #recycleForMemory(worker: Worker, memory: number, limit: number): void {
    const used = `${mib(memory)} MiB`;
    const measure = this.#options.kind === "process" ? "RSS" : "JavaScript heap";
    void this.#recycle(
      worker,
      "memory",
      `uses ${used} (${measure}), over maxWorkerMemory ${mib(limit)} MiB`,
      `at ${used}`,
    );
  }

  /**
   * Recycle a worker (`why`, for the log line): start its replacement, and stop it once that
   * one listens, counted as restart `reason`, its exit line saying it was recycled `when`.
   */
  #recycle(worker: Worker, reason: RestartReason, why: string, when: string): Promise<boolean> {
    if (worker.state !== "listening" || worker.retiring || this.#stopping) return Promise.resolve(false);
    worker.retiring = true;
    const label = this.#label(worker);
    const fields = this.#fields(worker);
    this.#options.log("info", `${label} ${why}: starting its replacement`, fields);
    const next = this.#spawn(worker.id, worker.generation);
    return next.listening.then(
      () => (this.#retire(worker, `recycled ${when}`, reason), true),
      (error) => {
        // The old worker is still healthy: better it serves on than the place goes empty.
        const line = `${label} keeps serving: its replacement could not start: ${messageOf(error)}`;
        this.#options.log("error", line, fields);
        return false;
      },
    );
  }

  /**
   * A worker whose listener ended while it lives on (its heartbeat cannot tell): replaced as
   * a crashed one is, but its replacement starts first and the deaf one then drains what it
   * still has in flight. If the replacement cannot start, the place is given up as after a
   * crash: a worker that serves nothing is no reason to keep going.
   */
  #replaceUnserving(worker: Worker, reason: string): void {
    if (worker.state !== "listening" || worker.retiring || this.#stopping) return;
    worker.retiring = true;
    const label = this.#label(worker);
    const fields = this.#fields(worker);
    this.#options.log("error", `${label} stopped serving (${reason}); starting its replacement`, fields);
    const next = this.#spawn(worker.id, worker.generation);
    next.listening.then(
      () => this.#retire(worker, `replaced: it stopped serving (${reason})`, "unserving"),
      (error: MultiserveError) => {
        this.#retire(worker, "replaced: it stopped serving");
        this.#options.onFatal(error);
      },
    );
  }

  /**
   * Ask a worker to stop gracefully; `because` names why it is retired while the pool goes
   * on (a replacement takes over), none that the pool itself stops; `reason` counts it.
   */
  #retire(worker: Worker, because?: string, reason?: RestartReason): void {
    if (worker.state === "stopping") return;
    worker.state = "stopping";
    worker.endedBecause = because;
    this.#observe({ type: "state", key: String(worker.serial), state: "stopping" });
    if (reason !== undefined) this.#observe({ type: "restart", reason });
    worker.handle.stop(because !== undefined);
  }

  /** Wait for `workers` to exit; kill those still there after `graceMs` (the graceful timeout and a margin). */
  async #killAfterGrace(
    workers: Worker[],
    graceMs = this.#options.gracefulTimeout * 1_000 + KILL_MARGIN_MS,
    because = "killed: still running past the graceful timeout",
  ): Promise<void> {
    const exits = Promise.all(workers.map((w) => w.exited));
    if (await settlesWithin(exits, graceMs)) return;
    for (const worker of workers) {
      if (this.#workers.has(worker)) {
        worker.endedBecause = because;
        worker.handle.kill();
      }
    }
    await exits;
  }

  /**
   * Stop the new workers of a reload or scaling that failed. Those that listen drain like any
   * other; those still starting have nothing to drain, so they get `KILL_MARGIN_MS` to go:
   * one whose start hangs (an import that never settles) must not hold the next reload or
   * scaling, which wait their turn, for the whole graceful timeout.
   */
  async #abandon(workers: Worker[], because: string): Promise<void> {
    const starting = workers.filter((w) => w.state === "starting");
    const others = workers.filter((w) => w.state !== "starting");
    for (const worker of workers) this.#retire(worker, because);
    await Promise.all([
      this.#killAfterGrace(others),
      this.#killAfterGrace(starting, KILL_MARGIN_MS, "killed: still starting after it was stopped"),
    ]);
  }

  /**
   * Kill every worker that has not listened within `bootTimeout` (a start-up that awaits
   * what never comes), and every worker whose heartbeat is older than `timeout`: one that
   * serves is then replaced; one still starting (silent since it was spawned: an import
   * that blocks) has failed to boot; one draining would never finish.
   */
  #watch(): void {
    const { timeout, bootTimeout, log } = this.#options;
    const now = Date.now();
    for (const worker of this.#workers) {
      if (worker.timedOut || worker.failure) continue;
      const label = this.#label(worker);
      const booting = now - worker.startedAt;
      if (worker.state === "starting" && bootTimeout > 0 && booting > bootTimeout * 1_000) {
        const seconds = (booting / 1_000).toFixed(1);
        // Its event loop still answers (else the heartbeat check names it first): it can be ended.
        this.#end(worker, {
          message: `${label} did not listen within ${seconds} s of starting (bootTimeout ${bootTimeout} s)`,
          exitCode: EXIT.boot,
        }, () => worker.handle.kill());
        continue;
      }
      const silent = now - worker.lastHeartbeat;
      if (timeout === 0 || silent <= timeout * 1_000) continue;
      const seconds = (silent / 1_000).toFixed(1);
      const silence = `its event loop sent no heartbeat for ${seconds} s (timeout ${timeout} s)`;
      if (worker.state === "starting") {
        const failure = { message: `${label} hung while starting: ${silence}`, exitCode: EXIT.boot };
        this.#end(worker, failure, () => this.#kill(worker));
        continue;
      }
      if (worker.state === "stopping") {
        worker.endedBecause = `${worker.endedBecause ?? "stopped"}; killed: hung while draining`;
        log("warning", `${label} timed out while draining: ${silence}; killing it`, this.#fields(worker));
      } else {
        worker.endedBecause = `was killed after timing out (no heartbeat for ${seconds} s)`;
        log("warning", `${label} timed out: ${silence}; killing it`, this.#fields(worker));
      }
      this.#kill(worker);
    }
  }

  /** A worker that failed to boot: named, and killed (its exit then rejects its start). */
  #end(worker: Worker, failure: NonNullable<Worker["failure"]>, kill: () => void): void {
    worker.failure = failure;
    worker.timedOut = true;
    this.#options.log("error", `${failure.message}; killing it`, this.#fields(worker));
    kill();
  }

  /** Kill a worker whose event loop is blocked, or give up its process where it cannot be ended. */
  #kill(worker: Worker): void {
    worker.timedOut = true;
    if (worker.handle.unkillableWhenHung) {
      return this.#options.onFatal(
        new HungWorkerError(
          `${
            this.#label(worker)
          } is hung and cannot be ended on its own: ${worker.handle.unkillableWhenHung}; ending its process, to be replaced whole`,
        ),
      );
    }
    worker.handle.kill();
  }
}

/** Resolve when every worker listens; reject with the first failure. */
function allListening(workers: Worker[]): Promise<void> {
  return Promise.all(workers.map((w) => w.listening)).then(() => {});
}

function bootFailure(
  label: string,
  code: number | null,
  failure: Worker["failure"],
  error?: string,
): MultiserveError {
  if (failure) {
    // An option the worker's runtime cannot serve (found as it listens) is still a usage error.
    return failure.exitCode === EXIT.appLoad
      ? new AppLoadError(failure.message)
      : failure.exitCode === EXIT.usage
      ? new OptionError(failure.message)
      : new BootError(failure.message);
  }
  return new BootError(`${label} exited before listening (${describeExit(code, error)})`);
}

/** Bytes in MiB, to a tenth. */
function mib(bytes: number): string {
  return String(Math.round(bytes / 2 ** 20 * 10) / 10);
}

function describeExit(code: number | null, error: string | undefined): string {
  if (error) return error;
  return code === null ? "killed by a signal" : `exit code ${code}`;
}
