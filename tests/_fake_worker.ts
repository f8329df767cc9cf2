/**
 * A fake `WorkerHandle` and the pool options to drive the supervisor and the thread host
 * in-process: each fake worker does what its script says (listen, fail, hang, ignore a
 * stop), and every event lands in one log the tests read.
 *
 * @module
 */
import type { WorkerHandle } from "../src/adapter.ts";
import type { MultiserveError } from "../src/errors.ts";
import type { PoolOptions } from "../src/pool/pool.ts";
import type { CommandMessage, WorkerMessage } from "../src/protocol.ts";

/** How a fake worker behaves. */
export interface Script {
  /** On start: "listen" at once, "fail" with an exit code, "exit" with a code, or "hang" (never listens). */
  boot?: "listen" | "fail" | "exit" | "hang";
  /** Exit code for "fail" and "exit". */
  code?: number;
  /** Send heartbeats every this many ms (0 = never: a blocked event loop). */
  beatEveryMs?: number;
  /** On stop: exit at once (the default), or ignore it (a hung worker). */
  onStop?: "exit" | "ignore";
}

let pids = 1000;

export class FakeWorker implements WorkerHandle {
  readonly pid = ++pids;
  stopped = false;
  /** The last stop asked for a restart (a replacement takes over). */
  restart: boolean | undefined;
  killed = false;
  readonly commands: CommandMessage[] = [];
  readonly #messages: ((message: WorkerMessage) => void)[] = [];
  readonly #exits: ((code: number | null, error?: string) => void)[] = [];
  #exited = false;
  #beat: ReturnType<typeof setInterval> | undefined;
  readonly #script: Script;

  constructor(script: Script) {
    this.#script = script;
    // Booting takes a turn of the event loop, as a real one takes a while.
    setTimeout(() => this.#boot(), 1);
    if ((script.beatEveryMs ?? 20) > 0) {
      this.#beat = setInterval(() => this.send({ multiserve: "heartbeat" }), script.beatEveryMs ?? 20);
    }
  }

  #boot(): void {
    if (this.#exited || this.stopped) return;
    const { boot = "listen", code = 3 } = this.#script;
    if (boot === "listen") this.send({ multiserve: "listening", port: 8000 });
    else if (boot === "fail") {
      this.send({ multiserve: "failed", message: `worker ${this.pid} cannot start`, exitCode: code });
    } else if (boot === "exit") this.exit(code);
  }

  stop(restart: boolean): void {
    this.stopped = true;
    this.restart = restart;
    if (this.#script.onStop !== "ignore") setTimeout(() => this.exit(0), 1);
  }

  kill(): void {
    this.killed = true;
    setTimeout(() => this.exit(null), 1);
  }

  command(message: CommandMessage): void {
    this.commands.push(message);
  }

  onMessage(listener: (message: WorkerMessage) => void): void {
    this.#messages.push(listener);
  }

  onExit(listener: (code: number | null, error?: string) => void): void {
    this.#exits.push(listener);
  }

  /** The worker says something to its supervisor. */
  send(message: WorkerMessage): void {
    if (this.#exited) return;
    for (const listener of this.#messages) listener(message);
  }

  /** The worker ends (a crash, when nobody asked). */
  exit(code: number | null, error?: string): void {
    if (this.#exited) return;
    this.#exited = true;
    clearInterval(this.#beat);
    for (const listener of this.#exits) listener(code, error);
  }

  /** A worker whose boot hangs listens now (its start-up was slow, not stuck). */
  listen(): void {
    if (!this.stopped) this.send({ multiserve: "listening", port: 8000 });
  }

  /** Stop beating: its event loop is blocked. */
  block(): void {
    clearInterval(this.#beat);
  }

  get exited(): boolean {
    return this.#exited;
  }
}

/** Pool options whose lines and fatal errors are collected. */
export function poolOptions(overrides: Partial<PoolOptions> = {}): PoolOptions & {
  lines: string[];
  fatal: MultiserveError[];
} {
  const lines: string[] = [];
  const fatal: MultiserveError[] = [];
  return {
    gracefulTimeout: 5,
    timeout: 0,
    bootTimeout: 0,
    onFatal: (error) => fatal.push(error),
    log: (_level, line) => lines.push(line),
    ...overrides,
    lines,
    fatal,
  };
}

/** Wait until `check` holds (polling every 5 ms), or fail after `ms`. */
export async function until(check: () => boolean, what: string, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
