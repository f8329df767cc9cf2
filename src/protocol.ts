/**
 * The messages a supervisor and its workers exchange, over a thread's message port or a
 * child process's IPC channel. Tagged with `multiserve` so user messages never collide.
 *
 * @module
 */

/** Worker → supervisor. */
export type WorkerMessage =
  | { multiserve: "listening"; port: number }
  | { multiserve: "failed"; message: string; exitCode: number };

/** Supervisor → worker: stop accepting, finish in-flight requests, exit. */
export interface StopMessage {
  multiserve: "stop";
}

/** What a supervisor tells a worker about its place and its socket. */
export interface WorkerData {
  /** "2" for the second worker, "2.1" for thread 1 of process 2. */
  id: string;
  hostname: string;
  port: number;
  /** Threads this worker runs itself (processes only; 0 = its main thread serves). */
  threads: number;
  gracefulTimeout: number;
  /** Module form: the URL of the module whose default export is the app. */
  module?: string;
}

/** Is this one of our worker messages? */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  const tag = (value as { multiserve?: unknown } | null)?.multiserve;
  return tag === "listening" || tag === "failed";
}

/** Is this our stop message? */
export function isStopMessage(value: unknown): value is StopMessage {
  return (value as { multiserve?: unknown } | null)?.multiserve === "stop";
}
