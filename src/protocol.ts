/**
 * The messages a supervisor and its workers exchange, over a thread's message port or a
 * child process's IPC channel. Tagged with `multiserve` so user messages never collide.
 *
 * @module
 */
import type { Address } from "./addresses.ts";
import type { PoolEvent, StatsReport } from "./observe/events.ts";
import type { WorkerConfig } from "./settings.ts";

/** Worker → supervisor. */
export type WorkerMessage =
  /** Serving: the supervisor counts it as up. */
  | { multiserve: "listening"; port: number }
  /** Cannot serve (the app did not load, the port could not be bound): do not respawn. */
  | { multiserve: "failed"; message: string; exitCode: number }
  /**
   * Still alive: sent from the worker's event loop, so a blocked loop goes silent. With
   * `stats` on, it carries what the worker counted since its previous one.
   */
  | { multiserve: "heartbeat"; stats?: StatsReport }
  /** What happened in the pool of a worker process that keeps threads: passed up as is. */
  | { multiserve: "event"; event: PoolEvent }
  /** Served its `maxRequests`: start my replacement, then stop me. */
  | { multiserve: "retire"; requests: number }
  /** Uses `memory` bytes, over `maxWorkerMemory` (`limit` bytes): the same, once. */
  | { multiserve: "retire"; memory: number; limit: number }
  /**
   * Alive but serving no more: its listener ended without being asked to (`reason` says
   * how). The supervisor replaces it as it replaces a crashed one.
   */
  | { multiserve: "unserving"; reason: string }
  /** A thread host carried out command `seq`; it now runs `workers` threads. */
  | { multiserve: "done"; seq: number; workers: number; error?: string }
  /** Publish/subscribe across workers (src/pubsub/bus.ts), upwards. */
  | BusMessage;

/**
 * Publish/subscribe between isolates, both ways along the tree of supervisors and workers
 * (src/pubsub/bus.ts):
 * - "publish": a message for every subscriber of `topic`, text or binary (base64: process
 *   channels carry JSON);
 * - "subscribers": upwards, the subscribers a worker (with its threads) now has, for the
 *   topics whose count changed;
 * - "count" and "counted": a worker asks the primary how many subscribers a topic has in all.
 */
export type BusMessage =
  | { multiserve: "publish"; topic: string; text?: string; base64?: string }
  | { multiserve: "subscribers"; counts: Record<string, number> }
  | { multiserve: "count"; seq: number; topic: string }
  | { multiserve: "counted"; seq: number; count: number };

/** Is this a publish/subscribe message? */
export function isBusMessage(value: unknown): value is BusMessage {
  const tag = (value as { multiserve?: unknown } | null)?.multiserve;
  return tag === "publish" || tag === "subscribers" || tag === "count" || tag === "counted";
}

/**
 * Supervisor → worker: stop accepting, finish in-flight requests, exit. `restart`: a
 * replacement takes over (reload, recycling, scaling down), so WebSocket clients are told
 * to reconnect (1012) rather than that the service is going away (1001).
 */
export interface StopMessage {
  multiserve: "stop";
  restart: boolean;
}

/**
 * Supervisor → thread host: reload its threads, or scale them to `count`. Answered with a
 * "done" message carrying the same `seq`.
 */
export type CommandMessage =
  | { multiserve: "command"; seq: number; command: "reload" }
  | { multiserve: "command"; seq: number; command: "scale"; count: number };

/** What a supervisor tells a worker about its place, its socket and its options. */
export interface WorkerData {
  /** "2" for the second worker, "2.1" for thread 1 of process 2. */
  id: string;
  /** Where to listen, as the primary resolved it (with the ports it reserved where the options say 0). */
  addresses: Address[];
  /** Threads this worker runs itself (processes only; 0 = its main thread serves). */
  threads: number;
  /** The primary's resolved options. */
  config: WorkerConfig;
  /** Module form: the URL of the module whose default export is the app. */
  module?: string;
  /**
   * This process runs the primary's threads on its behalf (see `Adapter.hostsThreads`): its
   * threads are named as the primary's own would be, and it takes `CommandMessage`s.
   */
  host?: boolean;
}

/** Is this one of our worker messages? */
export function isWorkerMessage(value: unknown): value is WorkerMessage {
  const tag = (value as { multiserve?: unknown } | null)?.multiserve;
  return tag === "listening" || tag === "failed" || tag === "heartbeat" || tag === "retire" ||
    tag === "unserving" || tag === "done" || tag === "event" || tag === "publish" || tag === "subscribers" ||
    tag === "count";
}

/** Is this a command for a thread host? */
export function isCommandMessage(value: unknown): value is CommandMessage {
  return (value as { multiserve?: unknown } | null)?.multiserve === "command";
}

/** Is this our stop message? */
export function isStopMessage(value: unknown): value is StopMessage {
  return (value as { multiserve?: unknown } | null)?.multiserve === "stop";
}

/**
 * How often a worker sends its heartbeat, and its supervisor checks them, for a liveness
 * `timeout` in seconds: four times per timeout, between every 50 ms and every second.
 */
export function heartbeatEveryMs(timeout: number): number {
  // No liveness timeout: heartbeats then only carry statistics, once a second.
  if (timeout === 0) return 1_000;
  return Math.min(1_000, Math.max(50, (timeout * 1_000) / 4));
}
