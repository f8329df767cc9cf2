/**
 * Errors that end a server before it serves, each with its own process exit code, the
 * way gunicorn tells a usage mistake from a worker that could not boot.
 *
 * @module
 */

/** Exit codes of the CLI and of a primary that gives up. */
export const EXIT = {
  /** Stopped on request (a signal, `close()`), also before every worker listened. */
  stopped: 0,
  /** A bad option or flag: nothing was started. */
  usage: 2,
  /** A worker could not start serving (port in use, permission, listen error). */
  boot: 3,
  /** The app module could not be loaded (missing, threw at import, no default export). */
  appLoad: 4,
  /** A thread hung and the runtime could not end it (Deno): its worker process ends, to be replaced. */
  hung: 5,
  /**
   * Serving alone (one isolate), its listener stopped accepting while the process lived on:
   * it exits so that its process manager restarts it (workers are replaced instead).
   */
  unserving: 6,
} as const;

/** Base class: a failure with a message meant for the user and an exit code. */
export class MultiserveError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** An option or CLI flag has a value it cannot take. The message names the option. */
export class OptionError extends MultiserveError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** A worker failed before it listened. */
export class BootError extends MultiserveError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.boot, options);
  }
}

/** The app module is missing, threw while loading, or exports no app. */
export class AppLoadError extends MultiserveError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.appLoad, options);
  }
}

/** The server was stopped (a signal, `close()`) before every worker listened: not a failure. */
export class StoppedError extends MultiserveError {
  constructor(message = "stopped before every worker was listening") {
    super(message, EXIT.stopped);
  }
}

/**
 * A worker's event loop stopped answering and the runtime cannot end it: only ending the
 * process frees its socket.
 */
export class HungWorkerError extends MultiserveError {
  constructor(message: string) {
    super(message, EXIT.hung);
  }
}

/** The message of any thrown value, without a stack trace. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
