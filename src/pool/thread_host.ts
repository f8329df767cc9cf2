/**
 * Threads kept in one worker process, for a runtime that cannot end a hung thread but can
 * end its process (Deno: `terminate()` leaves a busy Worker running with its socket,
 * denoland/deno#35657). The primary supervises that one process (respawning it when it
 * dies, or ends itself because a thread hung) and forwards reloads and scaling to it; the
 * process supervises the threads exactly as the primary would.
 *
 * @module
 */
import type { WorkerHandle } from "../adapter.ts";
import type { CommandMessage } from "../protocol.ts";
import type { PoolOptions, WorkerPool } from "./pool.ts";
import { Supervisor } from "./supervisor.ts";

export interface ThreadHostOptions extends PoolOptions {
  /** Threads to run at first. */
  threads: number;
  /** Start a host process that runs `threads` threads. */
  spawn: (threads: number) => WorkerHandle;
}

type Command = { command: "reload" } | { command: "scale"; count: number };

export class ThreadHost implements WorkerPool {
  readonly #supervisor: Supervisor;
  readonly #log: PoolOptions["log"];
  #threads: number;
  /** The host process that listens now; undefined while one is being replaced. */
  #host: WorkerHandle | undefined;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  /** Commands run one at a time, so that scaling by a function sees the count it changes. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ThreadHostOptions) {
    this.#threads = options.threads;
    this.#log = options.log;
    this.#supervisor = new Supervisor({
      ...options,
      count: 1,
      kind: "process",
      name: String,
      // A replacement runs as many threads as the host it replaces had at the end.
      spawn: () => this.#watch(options.spawn(this.#threads)),
    });
  }

  get count(): number {
    return this.#threads;
  }

  start(): Promise<void> {
    this.#log(
      "debug",
      "the threads run in one worker process: a hung thread is ended by replacing that process",
    );
    return this.#supervisor.start();
  }

  stop(): Promise<void> {
    return this.#supervisor.stop();
  }

  kill(): void {
    this.#supervisor.kill();
  }

  reload(): Promise<void> {
    return this.#serially(() => ({ command: "reload" }));
  }

  scale(count: number | ((current: number) => number)): Promise<void> {
    return this.#serially(() => ({
      command: "scale",
      count: Math.max(1, Math.floor(typeof count === "function" ? count(this.#threads) : count)),
    }));
  }

  #serially(next: () => Command): Promise<void> {
    const run = this.#queue.then(() => this.#send(next()));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Send the listening host a command and wait for its answer. */
  #send(command: Command): Promise<void> {
    const host = this.#host;
    if (host?.command === undefined) {
      return Promise.reject(new Error("the thread host process is being replaced; try again in a moment"));
    }
    const seq = ++this.#seq;
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      host.command!({ multiserve: "command", seq, ...command } as CommandMessage);
    });
  }

  /** Follow a host process: when it listens, its answers, its end. */
  #watch(handle: WorkerHandle): WorkerHandle {
    handle.onMessage((message) => {
      if (message.multiserve === "listening") this.#host = handle;
      if (message.multiserve !== "done") return;
      const waiting = this.#pending.get(message.seq);
      this.#pending.delete(message.seq);
      this.#threads = message.workers;
      if (message.error === undefined) waiting?.resolve();
      else waiting?.reject(new Error(message.error));
    });
    handle.onExit(() => {
      if (this.#host !== handle) return;
      this.#host = undefined;
      for (const waiting of this.#pending.values()) {
        waiting.reject(new Error("the thread host process exited before it finished"));
      }
      this.#pending.clear();
    });
    return handle;
  }
}
