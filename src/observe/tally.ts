/**
 * A worker's request statistics, kept cheaply on the request path and handed to its
 * supervisor with each heartbeat as the counts since the previous one (`StatsReport`).
 *
 * @module
 */
import type { ProxyRefusal } from "../adapter.ts";
import { DURATION_BUCKETS, type RequestTally, type StatsReport } from "./events.ts";

/** The methods counted by name (OpenTelemetry's list); any other counts as `_OTHER`. */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"];

export class Tally {
  /** Method → status class (0 for 1xx … 4 for 5xx) → tally, since the last report. */
  #requests = new Map<string, (RequestTally | undefined)[]>();
  #bytesIn = 0;
  #bytesOut = 0;
  /** Connections refused before their PROXY header was read, by reason; undefined: none since the last report. */
  #proxyRefused: Partial<Record<ProxyRefusal, number>> | undefined = undefined;
  /** Requests in flight now. */
  inFlight = 0;

  /** One connection closed before its PROXY header was read (off the request path). */
  proxyRefused(reason: ProxyRefusal): void {
    const counts = this.#proxyRefused ??= {};
    counts[reason] = (counts[reason] ?? 0) + 1;
  }

  /** One request answered with `status` after `seconds`, with bodies of these sizes. */
  record(method: string, status: number, seconds: number, bytesIn: number, bytesOut: number): void {
    const name = METHODS.has(method) ? method : "_OTHER";
    let byClass = this.#requests.get(name);
    if (byClass === undefined) this.#requests.set(name, byClass = []);
    const index = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    const tally = byClass[index] ??= new Array(2 + DURATION_BUCKETS.length + 1).fill(0);
    tally[0]++;
    tally[1] += seconds;
    let bucket = 0;
    while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]) bucket++;
    tally[2 + bucket]++;
    this.#bytesIn += bytesIn;
    this.#bytesOut += bytesOut;
  }

  /** What was counted since the last report, and what is held now; the counts start again. */
  report(webSockets: number, memory: number): StatsReport {
    const requests: Record<string, RequestTally> = {};
    for (const [method, byClass] of this.#requests) {
      byClass.forEach((tally, index) => {
        if (tally !== undefined) requests[`${method} ${CLASSES[index]}`] = tally;
      });
    }
    const report: StatsReport = {
      requests,
      bytesIn: this.#bytesIn,
      bytesOut: this.#bytesOut,
      inFlight: this.inFlight,
      webSockets,
      memory,
    };
    if (this.#proxyRefused !== undefined) report.proxyRefused = this.#proxyRefused;
    this.#proxyRefused = undefined;
    this.#requests = new Map();
    this.#bytesIn = this.#bytesOut = 0;
    return report;
  }
}
