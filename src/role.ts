/**
 * Is this isolate a worker, and which? Known synchronously the moment a module runs, so
 * code after `serve()` can tell the primary from a worker. A supervisor hands a worker its
 * data in the environment (processes, and Node/Bun threads) or in the Worker's name (Deno
 * threads, whose environment is the process's).
 *
 * @module
 */
import type { WorkerData } from "./protocol.ts";
import { forgetEnv, readEnv } from "./host.ts";

/** The environment variable that carries a worker's data. */
export const WORKER_ENV = "MULTISERVE_WORKER";
/** Prefix of a Deno worker thread's name; the rest is its data. */
export const THREAD_NAME_PREFIX = "multiserve:";

/** A worker's data and whether it is a process or a thread. */
export interface AssignedWorker extends WorkerData {
  kind: "process" | "thread";
}

let assigned: AssignedWorker | null | undefined;

/** This isolate's worker data, or undefined in the primary. */
export function assignedWorker(): AssignedWorker | undefined {
  if (assigned === undefined) {
    const name = (globalThis as { name?: unknown }).name;
    if (typeof name === "string" && name.startsWith(THREAD_NAME_PREFIX)) {
      assigned = JSON.parse(name.slice(THREAD_NAME_PREFIX.length));
    } else {
      const env = readEnv(WORKER_ENV);
      assigned = env ? JSON.parse(env) : null;
      // Programs this worker starts are not our workers: do not let them inherit the role.
      if (env) forgetEnv(WORKER_ENV);
    }
  }
  return assigned ?? undefined;
}

/** The serialized data to hand a new worker. */
export function encodeWorker(kind: AssignedWorker["kind"], data: WorkerData): string {
  return JSON.stringify({ ...data, kind } satisfies AssignedWorker);
}
