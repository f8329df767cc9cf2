/**
 * systemd's `Type=notify` protocol (sd_notify), spoken by the primary when systemd gave it
 * `NOTIFY_SOCKET`: `READY=1` (with `MAINPID`) once every worker listens, `RELOADING=1` (with
 * `MONOTONIC_USEC`, which `Type=notify-reload` needs) as a reload begins and `READY=1` when
 * it ends, `STOPPING=1` as a stop begins, `STATUS=` with the workers listening whenever
 * that changes, and `WATCHDOG=1` at half of `WATCHDOG_USEC` while the server serves. The
 * messages follow the phases of `PoolControl` (pool/control.ts), and go one at a time, in
 * order, through the adapter's `NotifySocket`.
 *
 * @module
 */
import type { Adapter, NotifySocket } from "./adapter.ts";
import { messageOf } from "./errors.ts";
import { forgetEnv, readEnv } from "./host.ts";
import type { Logger } from "./log.ts";
import type { PoolEvent } from "./observe/events.ts";
import type { Phase } from "./pool/control.ts";

/** Workers listening now, and asked for. */
export interface WorkerCount {
  alive: number;
  configured: number;
}

export interface NotifierOptions {
  socket: NotifySocket;
  /** `NOTIFY_SOCKET`, to hand a new primary on upgrade. */
  address?: string;
  /** The primary's pid: `MAINPID`. */
  pid: number;
  /** µs within which systemd wants `WATCHDOG=1` (`WATCHDOG_USEC`); undefined: no watchdog. */
  watchdogUsec?: number;
  workers: () => WorkerCount;
  log: Logger;
  /** How long a worker event waits for the next before `STATUS` is sent (ms). */
  statusDelayMs?: number;
}

/** `STATUS` waits this long for more worker events, so a start or reload sends few. */
const STATUS_DELAY_MS = 100;

/** How long a stop waits for the messages still going (the last is `STOPPING=1`). */
const FLUSH_LIMIT_MS = 2_000;

const LABELS: Record<Phase, string> = {
  booting: "starting",
  serving: "serving",
  reloading: "reloading",
  scaling: "scaling",
  upgrading: "upgrading",
  stopping: "stopping",
};

export class SystemdNotifier {
  readonly #options: NotifierOptions;
  #phase: Phase = "booting";
  /** READY=1 has been sent: the watchdog counts from then. */
  #ready = false;
  /** RELOADING=1 has been sent, and no READY=1 since. */
  #reloading = false;
  #lastStatus: string | undefined;
  #statusTimer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** The messages go one after another. */
  #sending: Promise<void> = Promise.resolve();
  #failures = 0;
  #closed = false;
  /** The main pid went to a new primary (upgrade): this one says no more. */
  #handedOver = false;

  constructor(options: NotifierOptions) {
    this.#options = options;
    const { watchdogUsec } = options;
    if (watchdogUsec !== undefined) {
      this.#watchdog = setInterval(() => this.#ping(), Math.max(1, watchdogUsec / 2_000));
      unref(this.#watchdog);
    }
  }

  /**
   * What a new primary needs to notify in this one's place: `NOTIFY_SOCKET`, and
   * `WATCHDOG_USEC` when the watchdog is on (without `WATCHDOG_PID`: it is the new one's).
   */
  environment(): Record<string, string> {
    const { address, watchdogUsec } = this.#options;
    if (address === undefined) return {};
    return {
      NOTIFY_SOCKET: address,
      ...(watchdogUsec === undefined ? {} : { WATCHDOG_USEC: String(watchdogUsec) }),
    };
  }

  /**
   * An upgrade: make `pid` the main pid (`MAINPID=`, from this process, the main one, which
   * `NotifyAccess=main` listens to), then say nothing more: no `STOPPING=1` as this one
   * drains (systemd would stop the unit), no watchdog (the new primary's now). Resolves once
   * sent; rejects when it could not be, saying why.
   */
  async handOver(pid: number): Promise<void> {
    let failure: unknown;
    const message = `MAINPID=${pid}`;
    await (this.#sending = this.#sending.then(() => this.#options.socket.send(message)).catch((error) => {
      failure = error;
    }));
    if (failure !== undefined) throw failure;
    this.#handedOver = true;
    clearInterval(this.#watchdog);
    clearTimeout(this.#statusTimer);
  }

  /** The pool's phase changed (`PoolControl`'s `onPhase`). */
  phase(phase: Phase): void {
    if (this.#closed || this.#handedOver || phase === this.#phase) return;
    this.#phase = phase;
    const lines: string[] = [];
    if (phase === "serving" && !this.#ready) {
      this.#ready = true;
      lines.push("READY=1", `MAINPID=${this.#options.pid}`);
    } else if (phase === "serving" && this.#reloading) {
      lines.push("READY=1");
    } else if (phase === "reloading") {
      lines.push("RELOADING=1");
      const now = this.#options.socket.monotonicMicros();
      if (now !== undefined) lines.push(`MONOTONIC_USEC=${now}`);
    } else if (phase === "stopping") {
      lines.push("STOPPING=1");
    }
    this.#reloading = phase === "reloading";
    clearTimeout(this.#statusTimer);
    this.#statusTimer = undefined;
    const status = this.#status();
    if (status !== this.#lastStatus) lines.push(`STATUS=${status}`);
    this.#lastStatus = status;
    if (lines.length > 0) this.#send(lines);
  }

  /** What the pool told the registry: a worker that starts, listens or exits changes `STATUS`. */
  readonly observe = (event: PoolEvent): void => {
    if (this.#closed || this.#handedOver || this.#statusTimer !== undefined) return;
    if (event.type !== "spawn" && event.type !== "state" && event.type !== "exit") return;
    this.#statusTimer = setTimeout(() => {
      this.#statusTimer = undefined;
      const status = this.#status();
      if (status === this.#lastStatus) return;
      this.#lastStatus = status;
      this.#send([`STATUS=${status}`]);
    }, this.#options.statusDelayMs ?? STATUS_DELAY_MS);
    unref(this.#statusTimer);
  };

  /** Send what is still going (within a bound), then stop: no watchdog, no more messages. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    clearTimeout(this.#statusTimer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#sending,
      new Promise((resolve) => (timer = setTimeout(resolve, FLUSH_LIMIT_MS))),
    ]);
    clearTimeout(timer);
    this.#options.socket.close();
  }

  #status(): string {
    // During a reload or a replacement more may listen than are configured: both are said.
    const { alive, configured } = this.#options.workers();
    return `${LABELS[this.#phase]}: ${alive} worker${
      alive === 1 ? "" : "s"
    } listening (${configured} configured)`;
  }

  /**
   * `WATCHDOG=1` from this event loop, once systemd counts (after READY=1), while a worker
   * serves, or while the stop drains: a pool with none serving (every worker crashing, the
   * replacements backing off) goes silent, for systemd to restart.
   */
  #ping(): void {
    if (this.#closed || this.#handedOver || !this.#ready) return;
    if (this.#phase !== "stopping" && this.#options.workers().alive < 1) return;
    this.#send(["WATCHDOG=1"]);
  }

  #send(lines: string[]): void {
    const message = lines.join("\n");
    this.#sending = this.#sending.then(() => this.#options.socket.send(message)).then(
      () => {
        this.#failures = 0;
      },
      (error) => {
        // Said once per run of failures, not once per watchdog tick.
        if (this.#failures++ === 0) {
          this.#options.log("warning", `systemd: a notification was not sent: ${messageOf(error)}`);
        }
      },
    );
  }
}

/** What systemd's environment says of notifications. */
export interface NotifyEnvironment {
  address: string | undefined;
  watchdogUsec: number;
  watchdogPid: string | undefined;
}

/**
 * Read and then remove `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, as sd_notify's
 * `unset_environment` does, so that worker processes (which never notify) do not inherit them.
 */
export function takeNotifyEnvironment(): NotifyEnvironment {
  const env = {
    address: readEnv("NOTIFY_SOCKET"),
    watchdogUsec: Number(readEnv("WATCHDOG_USEC")),
    watchdogPid: readEnv("WATCHDOG_PID"),
  };
  for (const name of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) forgetEnv(name);
  return env;
}

/**
 * The notifier systemd asks for (`NOTIFY_SOCKET`, from `env`, by default taken from the
 * environment now: `takeNotifyEnvironment()`), or undefined.
 */
export async function systemdNotifier(
  adapter: Adapter,
  options: Omit<NotifierOptions, "socket" | "watchdogUsec" | "address">,
  env: NotifyEnvironment = takeNotifyEnvironment(),
): Promise<SystemdNotifier | undefined> {
  const { address, watchdogUsec, watchdogPid } = env;
  if (!address) return undefined;
  const socket = await adapter.notifySocket(address, options.pid);
  if (typeof socket === "string") {
    options.log("warning", `systemd: NOTIFY_SOCKET is set, but no notification can be sent: ${socket}`);
    return undefined;
  }
  // The watchdog is this process's when WATCHDOG_PID is unset or names it (sd_watchdog_enabled).
  const watchdog = Number.isInteger(watchdogUsec) && watchdogUsec > 0 &&
    (!watchdogPid || Number(watchdogPid) === options.pid);
  options.log(
    "info",
    `systemd: notifying ${address} by ${socket.via}${
      watchdog ? `; WATCHDOG=1 every ${watchdogUsec / 2_000_000} s` : ""
    }`,
  );
  return new SystemdNotifier({
    ...options,
    socket,
    address,
    watchdogUsec: watchdog ? watchdogUsec : undefined,
  });
}

function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}
