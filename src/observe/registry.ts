/**
 * The primary's view of its workers, for `server.stats()` and the admin endpoint: it follows
 * the pool's events, keeps a row per worker alive, and adds up what every worker ever run
 * reported. Totals are kept apart from the rows, so a worker that exits or is replaced has
 * its last report folded in and no counter ever goes down.
 *
 * @module
 */
import type { ProxyRefusal } from "../adapter.ts";
import type { LogEntry } from "../log.ts";
import type { ServerStats, WorkerStats } from "../types.ts";
import type { PoolEvent, RequestTally, RestartReason, StatsReport } from "./events.ts";

/** Lifecycle lines kept for the status page. */
const EVENTS_KEPT = 50;
/** Seconds of per-second request counts kept per worker. */
const HISTORY = 60;
/** Seconds the shown rate averages over. */
const RATE_WINDOW = 5;

interface Row {
  key: string;
  worker: string;
  kind: "process" | "thread";
  pid: number | undefined;
  state: WorkerStats["state"];
  startedAt: number;
  requests: number;
  inFlight: number;
  webSockets: number;
  memory: number;
  subscriptions: number;
  lastReport: number;
  /** Requests at the last sample, and per second since. */
  sampled: number;
  history: number[];
}

/** What the registry is told about the server around it. */
export interface RegistryOptions {
  runtime: string;
  version: string;
  pid: number;
  /** Serving isolates asked for now (processes × threads). */
  configured: () => number;
  /** The primary's own memory. */
  memory: () => number;
}

export class Registry {
  readonly #options: RegistryOptions;
  readonly #startedAt = Date.now();
  readonly #rows = new Map<string, Row>();
  /** "GET 2xx" → the tally of every request of that kind ever reported. */
  readonly #requests = new Map<string, RequestTally>();
  /** Worker id → requests answered in that place, by every worker that held it. */
  readonly #byWorker = new Map<string, number>();
  /** `${kind} ${worker}` → workers started in that place. */
  readonly #starts = new Map<string, number>();
  readonly #restarts: Record<RestartReason, number> = {
    crash: 0,
    timeout: 0,
    unserving: 0,
    recycle: 0,
    memory: 0,
    kill: 0,
    reload: 0,
    scale: 0,
  };
  readonly #events: LogEntry[] = [];
  #bytesIn = 0;
  #bytesOut = 0;
  /** Topic messages of every worker ever run. */
  readonly #pubsub = { published: 0, delivered: 0, dropped: 0 };
  /** Worker id → its place's topic messages, by every worker that held it. */
  readonly #pubsubByWorker = new Map<string, { published: number; delivered: number; dropped: number }>();
  /** The Redis link's state when `pubsub` is set (src/pubsub/redis.ts), else undefined. */
  pubsubConnected: boolean | undefined;
  readonly #proxyRefused = { untrusted: 0, malformed: 0, timeout: 0 };
  #bootFailures = 0;
  #reloads = 0;
  #totalSampled = 0;
  #totalHistory: number[] = [];
  #sampler: ReturnType<typeof setInterval> | undefined;
  /** Every worker listens and no stop has begun. */
  started = false;
  stopping = false;
  url: string | undefined;

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#sampler = setInterval(() => this.#sample(), 1_000);
    // A timer of the registry must not keep a stopped server's process alive.
    (this.#sampler as { unref?: () => void }).unref?.();
  }

  /** Stop sampling. */
  close(): void {
    clearInterval(this.#sampler);
  }

  /** `/readyz`: every worker listens, and no stop has begun. */
  get ready(): boolean {
    return this.started && !this.stopping && this.#alive() >= this.#options.configured();
  }

  readonly observe = (event: PoolEvent): void => {
    switch (event.type) {
      case "spawn": {
        const place = `${event.kind} ${event.worker}`;
        this.#starts.set(place, (this.#starts.get(place) ?? 0) + 1);
        this.#rows.set(event.key, {
          key: event.key,
          worker: event.worker,
          kind: event.kind,
          // A thread's pid is its process's: the worker process above it, or the primary.
          pid: event.pid ?? this.#rows.get(parentKey(event.key))?.pid ?? this.#options.pid,
          state: "starting",
          startedAt: event.at,
          requests: 0,
          inFlight: 0,
          webSockets: 0,
          memory: 0,
          subscriptions: 0,
          lastReport: event.at,
          sampled: 0,
          history: [],
        });
        break;
      }
      case "state": {
        const row = this.#rows.get(event.key);
        if (row) row.state = event.state;
        break;
      }
      case "exit":
        for (const key of this.#rows.keys()) {
          if (key === event.key || key.startsWith(`${event.key}/`)) this.#rows.delete(key);
        }
        break;
      case "stats":
        this.#fold(event.key, event.stats);
        break;
      case "restart":
        this.#restarts[event.reason]++;
        break;
      case "bootFailure":
        this.#bootFailures++;
        break;
      case "reload":
        this.#reloads++;
        break;
      case "log":
        this.addEvent(event.entry);
        break;
    }
  };

  /** Keep a lifecycle line for the status page. */
  readonly addEvent = (entry: LogEntry): void => {
    this.#events.push(entry);
    if (this.#events.length > EVENTS_KEPT) this.#events.shift();
  };

  /** Every kind of request counted, with its tally: for `/metrics`. */
  get requestTallies(): ReadonlyMap<string, RequestTally> {
    return this.#requests;
  }

  /** Topic messages in each worker's place. */
  get pubsubByWorker(): ReadonlyMap<string, { published: number; delivered: number; dropped: number }> {
    return this.#pubsubByWorker;
  }

  /** Requests answered in each worker's place. */
  get requestsByWorker(): ReadonlyMap<string, number> {
    return this.#byWorker;
  }

  status(): ServerStats {
    const now = Date.now();
    const rows = [...this.#rows.values()].sort((a, b) =>
      compareIds(a.worker, b.worker) || a.kind.localeCompare(b.kind)
    );
    let requests = 0;
    for (const tally of this.#requests.values()) requests += tally[0];
    const stats = rows.map((row): WorkerStats => ({
      worker: row.worker,
      kind: row.kind,
      pid: row.pid,
      state: row.state,
      age: (now - row.startedAt) / 1_000,
      requests: row.requests,
      rate: rateOf(row.history),
      history: [...row.history],
      inFlight: row.inFlight,
      webSockets: row.webSockets,
      memory: row.memory,
      subscriptions: row.subscriptions,
      restarts: Math.max(0, (this.#starts.get(`${row.kind} ${row.worker}`) ?? 1) - 1),
      heartbeatAge: (now - row.lastReport) / 1_000,
    }));
    const { runtime, version, pid, configured, memory } = this.#options;
    return {
      runtime,
      version,
      pid,
      uptime: (now - this.#startedAt) / 1_000,
      url: this.url,
      ready: this.ready,
      workers: { configured: configured(), alive: this.#alive() },
      totals: {
        requests,
        rate: rateOf(this.#totalHistory),
        inFlight: rows.reduce((sum, row) => sum + row.inFlight, 0),
        webSockets: rows.reduce((sum, row) => sum + row.webSockets, 0),
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        restarts: { ...this.#restarts },
        bootFailures: this.#bootFailures,
        reloads: this.#reloads,
        proxyProtocolRefused: { ...this.#proxyRefused },
        pubsub: {
          ...this.#pubsub,
          subscriptions: rows.reduce((sum, row) => sum + row.subscriptions, 0),
          ...(this.pubsubConnected === undefined ? {} : { connected: this.pubsubConnected }),
        },
        memory: memory(),
      },
      rows: stats,
      events: [...this.#events],
    };
  }

  /** Add a worker's report to its row and to the totals. */
  #fold(key: string, stats: StatsReport): void {
    const row = this.#rows.get(key);
    let answered = 0;
    for (const [kind, tally] of Object.entries(stats.requests)) {
      answered += tally[0];
      const total = this.#requests.get(kind);
      if (total === undefined) this.#requests.set(kind, [...tally]);
      else for (let i = 0; i < tally.length; i++) total[i] += tally[i];
    }
    this.#bytesIn += stats.bytesIn;
    this.#bytesOut += stats.bytesOut;
    for (const [reason, count] of Object.entries(stats.proxyRefused ?? {})) {
      this.#proxyRefused[reason as ProxyRefusal] += count;
    }
    const { pubsub } = stats;
    if (pubsub !== undefined) {
      this.#pubsub.published += pubsub.published;
      this.#pubsub.delivered += pubsub.delivered;
      this.#pubsub.dropped += pubsub.dropped;
    }
    if (row === undefined) return;
    if (pubsub !== undefined) {
      row.subscriptions = pubsub.subscriptions;
      let place = this.#pubsubByWorker.get(row.worker);
      if (place === undefined) {
        this.#pubsubByWorker.set(row.worker, place = { published: 0, delivered: 0, dropped: 0 });
      }
      place.published += pubsub.published;
      place.delivered += pubsub.delivered;
      place.dropped += pubsub.dropped;
    }
    this.#byWorker.set(row.worker, (this.#byWorker.get(row.worker) ?? 0) + answered);
    row.requests += answered;
    row.inFlight = stats.inFlight;
    row.webSockets = stats.webSockets;
    row.memory = stats.memory;
    row.lastReport = Date.now();
  }

  /** Once a second: each worker's requests in the past second. */
  #sample(): void {
    for (const row of this.#rows.values()) {
      pushCapped(row.history, row.requests - row.sampled);
      row.sampled = row.requests;
    }
    let total = 0;
    for (const tally of this.#requests.values()) total += tally[0];
    pushCapped(this.#totalHistory, total - this.#totalSampled);
    this.#totalSampled = total;
  }

  /** Serving isolates listening: rows in state "listening" that keep no threads of their own. */
  #alive(): number {
    const keys = [...this.#rows.keys()];
    let alive = 0;
    for (const row of this.#rows.values()) {
      const hasChildren = keys.some((key) => key.startsWith(`${row.key}/`));
      if (row.state === "listening" && !hasChildren) alive++;
    }
    return alive;
  }
}

/** The key of the worker process whose pool a relayed key came from. */
function parentKey(key: string): string {
  return key.slice(0, Math.max(0, key.lastIndexOf("/")));
}

function pushCapped(list: number[], value: number): void {
  list.push(value);
  if (list.length > HISTORY) list.shift();
}

function rateOf(history: number[]): number {
  const recent = history.slice(-RATE_WINDOW);
  return recent.length === 0 ? 0 : recent.reduce((a, b) => a + b, 0) / recent.length;
}

/** "2" before "10", "2" before "2.1". */
function compareIds(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0 && !Number.isNaN(d)) return d;
  }
  return a.localeCompare(b);
}
