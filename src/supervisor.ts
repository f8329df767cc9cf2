/**
 * The arbiter: starts N workers, waits until every one listens, replaces any that dies,
 * and stops them all gracefully. It serves nothing itself and knows workers only through
 * the abstract `WorkerHandle`, so one supervisor runs threads and processes on every runtime.
 *
 * @module
 */
import type { WorkerHandle } from "./adapter.ts";
import { settlesWithin } from "./deadline.ts";
import { AppLoadError, BootError, EXIT, messageOf, type MultiserveError } from "./errors.ts";

/** Extra time past the graceful timeout before a worker that has not exited is killed. */
const KILL_MARGIN_MS = 2_000;

interface Slot {
  id: number;
  handle: WorkerHandle;
  state: "starting" | "listening" | "stopping";
  failure?: { message: string; exitCode: number };
  exited: Promise<void>;
}

export interface SupervisorOptions {
  /** How many workers to keep running. */
  count: number;
  /** Start worker number `id` (1-based). */
  spawn: (id: number) => WorkerHandle;
  /** How messages name worker `id`, e.g. "process 2", "thread 2.1". */
  name: (id: number) => string;
  gracefulTimeout: number;
  /** A worker that had been serving died and its replacement could not start: give up. */
  onFatal: (error: MultiserveError) => void;
}

export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #slots = new Map<number, Slot>();
  #stopping = false;

  constructor(options: SupervisorOptions) {
    this.#options = options;
  }

  /** Start every worker; resolve when all listen, or stop them all and reject on the first failure. */
  async start(): Promise<void> {
    const boots = [];
    for (let id = 1; id <= this.#options.count; id++) boots.push(this.#boot(id));
    // Promise.all reports the first failure; the others are then moot, not unhandled.
    for (const boot of boots) boot.catch(() => {});
    try {
      await Promise.all(boots);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Ask every worker to stop, wait for them, kill those past the graceful timeout. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const slots = [...this.#slots.values()];
    for (const slot of slots) {
      slot.state = "stopping";
      slot.handle.stop();
    }
    await settlesWithin(
      Promise.all(slots.map((s) => s.exited)),
      this.#options.gracefulTimeout + KILL_MARGIN_MS,
    );
    for (const slot of this.#slots.values()) slot.handle.kill();
    await Promise.all(slots.map((s) => s.exited));
  }

  /** Start worker `id`; resolves once it listens, rejects if it dies or fails first. */
  #boot(id: number): Promise<void> {
    const name = this.#options.name(id);
    return new Promise((resolve, reject) => {
      let handle: WorkerHandle;
      try {
        handle = this.#options.spawn(id);
      } catch (error) {
        return reject(new BootError(`cannot start ${name}: ${messageOf(error)}`, { cause: error }));
      }
      let exited!: () => void;
      const slot: Slot = {
        id,
        handle,
        state: "starting",
        exited: new Promise((r) => (exited = r)),
      };
      this.#slots.set(id, slot);
      handle.onMessage((message) => {
        if (message.multiserve === "listening" && slot.state === "starting") {
          slot.state = "listening";
          resolve();
        } else if (message.multiserve === "failed") {
          slot.failure = { message: message.message, exitCode: message.exitCode };
          // Authoritative at once: the worker waits to be stopped, so the message is not
          // lost to its exit.
          if (slot.state === "starting") reject(bootFailure(name, null, slot.failure, undefined));
        }
      });
      handle.onExit((code, error) => {
        exited();
        if (this.#slots.get(id) === slot) this.#slots.delete(id);
        if (slot.state === "starting") {
          reject(bootFailure(name, code, slot.failure, error));
        } else if (slot.state === "stopping") {
          resolve(); // stopped before it listened: not a failure
        } else if (slot.state === "listening" && !this.#stopping) {
          console.error(
            `multiserve: ${name} exited unexpectedly (${describeExit(code, error)}); starting a new one`,
          );
          this.#boot(id).catch((e: MultiserveError) => this.#options.onFatal(e));
        }
      });
    });
  }
}

function bootFailure(
  name: string,
  code: number | null,
  failure: Slot["failure"],
  error: string | undefined,
): MultiserveError {
  if (failure) {
    return failure.exitCode === EXIT.appLoad
      ? new AppLoadError(failure.message)
      : new BootError(failure.message);
  }
  return new BootError(`${name} exited before listening (${describeExit(code, error)})`);
}

function describeExit(code: number | null, error: string | undefined): string {
  if (error) return error;
  return code === null ? "killed by a signal" : `exit code ${code}`;
}
