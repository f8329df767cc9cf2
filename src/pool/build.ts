/**
 * Which pool keeps a server's workers, and how each worker is started: the primary's pool
 * of processes or threads (or, where a hung thread can be ended only with its process, a
 * thread host), and a worker process's own pool of threads.
 *
 * @module
 */
import type { Adapter } from "../adapter.ts";
import { siblingModule } from "../host.ts";
import type { WorkerData } from "../protocol.ts";
import type { App } from "../types.ts";
import type { PoolOptions, WorkerPool } from "./pool.ts";
import { Supervisor } from "./supervisor.ts";
import { ThreadHost } from "./thread_host.ts";

/** The script a worker thread runs in module form. */
const WORKER_ENTRY = siblingModule("../worker_entry", import.meta.url).href;

/** What every worker of a server is told, but its id and threads. */
export type WorkerBase = Omit<WorkerData, "id" | "threads" | "host">;

/**
 * The primary's pool: `processes` processes each running `threads` threads, or without
 * processes `threads` threads; those run in one worker process where the runtime cannot
 * end a hung thread (`adapter.hostsThreads`).
 */
export function primaryPool(
  adapter: Adapter,
  app: App | URL,
  base: WorkerBase,
  { processes, threads }: { processes: number; threads: number },
  options: PoolOptions,
): WorkerPool {
  if (processes > 1) {
    return new Supervisor({
      ...options,
      count: processes,
      kind: "process",
      name: String,
      spawn: (id) => adapter.spawnProcess({ ...base, id: String(id), threads }),
    });
  }
  if (adapter.hostsThreads) {
    return new ThreadHost({
      ...options,
      threads,
      spawn: (count) => adapter.spawnProcess({ ...base, id: "1", threads: count, host: true }),
    });
  }
  return threadPool(adapter, app, { ...base, id: "", threads }, String, options);
}

/** `data.threads` threads, named by `name`, running the app of `app` or `data.module`. */
export function threadPool(
  adapter: Adapter,
  app: App | URL | undefined,
  data: WorkerData,
  name: (id: number) => string,
  options: PoolOptions,
): Supervisor {
  // Module form: our loader, which imports the module; else the entry module runs again.
  const url = app instanceof URL || app === undefined ? WORKER_ENTRY : adapter.mainModule();
  return new Supervisor({
    ...options,
    count: data.threads,
    kind: "thread",
    name,
    spawn: (id) => adapter.spawnThread(url, { ...data, id: name(id), threads: 0, host: false }),
  });
}
