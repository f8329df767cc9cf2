/**
 * What a pool tells the primary's registry (`src/observe/registry.ts`) as it goes: workers
 * starting, listening, stopping and exiting, why they were replaced, and the statistics
 * each worker reports with its heartbeat. A worker process that keeps threads of its own
 * passes its pool's events up the same way. Types only.
 *
 * @module
 */
import type { ProxyRefusal } from "../adapter.ts";
import type { LogEntry } from "../log.ts";

/** Why a worker was replaced (or, for `scale`, ended without one). */
export type RestartReason =
  | "crash"
  | "timeout"
  | "unserving"
  | "recycle"
  | "memory"
  | "kill"
  | "reload"
  | "scale";

/** Counted requests with one method and one status class since the last report. */
export type RequestTally = number[];

/**
 * What a worker reports with its heartbeat: the counts since its previous report, and
 * what it holds now.
 */
export interface StatsReport {
  /**
   * By `"<METHOD> <class>"` ("GET 2xx"): `[count, seconds, ...bucket counts]`, the bucket
   * counts one per bound of `DURATION_BUCKETS` and one past the last, not cumulative.
   */
  requests: Record<string, RequestTally>;
  /** Request body bytes (declared by Content-Length) since the previous report. */
  bytesIn: number;
  /** Response body bytes (declared by Content-Length) since the previous report. */
  bytesOut: number;
  /** Requests in flight now. */
  inFlight: number;
  /** WebSockets open now. */
  webSockets: number;
  /** Bytes of memory: a process's resident set, a thread's JavaScript heap. */
  memory: number;
  /** Topics (src/pubsub/): messages since the previous report, and subscriptions now. */
  pubsub?: PubSubReport;
  /** Connections refused before their PROXY header was read since the previous report, by reason (none: none). */
  proxyRefused?: Partial<Record<ProxyRefusal, number>>;
}

/** A worker's publish/subscribe counts: `published`, `delivered`, `dropped` since its previous report. */
export interface PubSubReport {
  published: number;
  delivered: number;
  /** Subscribers closed for falling behind. */
  dropped: number;
  /** Subscriptions (a socket on a topic) held now. */
  subscriptions: number;
}

/** One thing that happened in a pool. `key` tells one worker from every other, ever. */
export type PoolEvent =
  | { type: "spawn"; key: string; worker: string; kind: "process" | "thread"; pid?: number; at: number }
  | { type: "state"; key: string; state: "listening" | "stopping" }
  | { type: "exit"; key: string }
  | { type: "stats"; key: string; stats: StatsReport }
  | { type: "restart"; reason: RestartReason }
  | { type: "bootFailure" }
  | { type: "reload" }
  | { type: "log"; entry: LogEntry };

/**
 * Upper bounds, in seconds, of the request duration histogram: OpenTelemetry's advice for
 * `http.server.request.duration`.
 */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
