/**
 * `/metrics`: the registry in Prometheus's text format (version 0.0.4), under
 * OpenTelemetry's names for an HTTP server where one fits (`http.server.request.duration`
 * becomes `http_server_request_duration_seconds`), `multiserve_` for the supervisor's own.
 *
 * @module
 */
import type { ServerStats } from "../types.ts";
import { DURATION_BUCKETS, type RequestTally } from "./events.ts";

/** The content type Prometheus expects of this text. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The exposition of `stats` and every request tally ever reported. */
export function metricsText(
  stats: ServerStats,
  tallies: ReadonlyMap<string, RequestTally>,
  byWorker: ReadonlyMap<string, number>,
  /** The workers count the response bytes they send (else the metric would not be true). */
  bytesSent = false,
  /** Topic messages in each worker's place. */
  pubsubByWorker: ReadonlyMap<string, { published: number; delivered: number; dropped: number }> = new Map(),
): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const sample = (name: string, labels: Record<string, string>, value: number) => {
    const text = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
    out.push(`${name}${text === "" ? "" : `{${text}}`} ${formatNumber(value)}`);
  };

  family(
    "http_server_request_duration_seconds",
    "histogram",
    "Time until the response was ready, by method and status class.",
  );
  const kinds = [...tallies.keys()].sort();
  for (const kind of kinds) {
    const tally = tallies.get(kind)!;
    const [method, statusClass] = kind.split(" ");
    const labels = { http_request_method: method, http_response_status_class: statusClass };
    let cumulative = 0;
    DURATION_BUCKETS.forEach((bound, i) => {
      cumulative += tally[2 + i];
      sample("http_server_request_duration_seconds_bucket", { ...labels, le: String(bound) }, cumulative);
    });
    sample("http_server_request_duration_seconds_bucket", { ...labels, le: "+Inf" }, tally[0]);
    sample("http_server_request_duration_seconds_sum", labels, tally[1]);
    sample("http_server_request_duration_seconds_count", labels, tally[0]);
  }
  const { totals, workers, rows } = stats;
  family("http_server_active_requests", "gauge", "Requests in flight in every worker.");
  sample("http_server_active_requests", {}, totals.inFlight);
  family(
    "http_server_request_body_bytes_total",
    "counter",
    "Request body bytes, as Content-Length declared them.",
  );
  sample("http_server_request_body_bytes_total", {}, totals.bytesIn);
  if (bytesSent) {
    family("http_server_response_body_bytes_total", "counter", "Response body bytes sent.");
    sample("http_server_response_body_bytes_total", {}, totals.bytesOut);
  }

  family(
    "multiserve_worker_requests_total",
    "counter",
    "Requests answered in each worker's place, by every worker that held it.",
  );
  for (const [worker, count] of [...byWorker].sort()) {
    sample("multiserve_worker_requests_total", { worker }, count);
  }
  // Rows sharing a place (a worker and its replacement, both alive for a moment) add up.
  const inFlight = new Map<string, number>();
  const memory = new Map<string, number>();
  for (const row of rows) {
    inFlight.set(row.worker, (inFlight.get(row.worker) ?? 0) + row.inFlight);
    const place = `${row.kind} ${row.worker}`;
    memory.set(place, (memory.get(place) ?? 0) + row.memory);
  }
  family("multiserve_worker_active_requests", "gauge", "Requests in flight in each worker.");
  for (const [worker, count] of inFlight) sample("multiserve_worker_active_requests", { worker }, count);
  family(
    "multiserve_worker_memory_bytes",
    "gauge",
    "Memory of each worker: a process's resident set, a thread's heap.",
  );
  for (const [place, bytes] of memory) {
    const [kind, worker] = place.split(" ");
    sample("multiserve_worker_memory_bytes", { worker, kind }, bytes);
  }

  family("multiserve_workers_configured", "gauge", "Serving workers asked for (processes x threads).");
  sample("multiserve_workers_configured", {}, workers.configured);
  family("multiserve_workers_alive", "gauge", "Serving workers listening now.");
  sample("multiserve_workers_alive", {}, workers.alive);
  family("multiserve_worker_restarts_total", "counter", "Workers replaced (for scale: ended) by reason.");
  for (const [reason, count] of Object.entries(totals.restarts)) {
    sample("multiserve_worker_restarts_total", { reason }, count);
  }
  family("multiserve_worker_boot_failures_total", "counter", "Workers that failed to start.");
  sample("multiserve_worker_boot_failures_total", {}, totals.bootFailures);
  family("multiserve_reloads_total", "counter", "Rolling reloads begun.");
  sample("multiserve_reloads_total", {}, totals.reloads);
  family(
    "multiserve_proxy_protocol_refused_total",
    "counter",
    "Connections closed unanswered before their PROXY protocol header was read, by reason.",
  );
  for (const [reason, count] of Object.entries(totals.proxyProtocolRefused)) {
    sample("multiserve_proxy_protocol_refused_total", { reason }, count);
  }
  family("multiserve_websockets_open", "gauge", "WebSockets open in every worker.");
  sample("multiserve_websockets_open", {}, totals.webSockets);
  const places = [...pubsubByWorker].sort(([a], [b]) => a.localeCompare(b));
  for (
    const [what, help] of [
      ["published", "Topic messages published in each worker's place (by its sockets and handlers)."],
      ["delivered", "Topic messages handed to a subscriber in each worker's place."],
      ["dropped", "Subscribers closed with 1013 for falling behind, in each worker's place."],
    ] as const
  ) {
    family(`multiserve_pubsub_${what}_total`, "counter", help);
    for (const [worker, counts] of places) {
      sample(`multiserve_pubsub_${what}_total`, { worker }, counts[what]);
    }
  }
  family("multiserve_pubsub_subscriptions", "gauge", "Subscriptions (a socket on a topic) in each worker.");
  const subscriptions = new Map<string, number>();
  for (const row of rows) {
    // A process that keeps threads serves nothing itself: its threads have the sockets.
    if (rows.some((other) => other.worker.startsWith(`${row.worker}.`))) continue;
    subscriptions.set(row.worker, (subscriptions.get(row.worker) ?? 0) + row.subscriptions);
  }
  for (const [worker, count] of subscriptions) sample("multiserve_pubsub_subscriptions", { worker }, count);
  if (totals.pubsub.connected !== undefined) {
    family(
      "multiserve_pubsub_connected",
      "gauge",
      "1 while the link to Redis (topics across hosts) is up, else 0.",
    );
    sample("multiserve_pubsub_connected", {}, totals.pubsub.connected ? 1 : 0);
  }
  family("multiserve_ready", "gauge", "1 while every worker listens and no stop has begun, else 0.");
  sample("multiserve_ready", {}, stats.ready ? 1 : 0);
  family("process_resident_memory_bytes", "gauge", "Resident memory of the primary process.");
  sample("process_resident_memory_bytes", {}, totals.memory);
  return out.join("\n") + "\n";
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e9) / 1e9);
}
