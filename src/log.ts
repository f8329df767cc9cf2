/**
 * Where multiserve's own lines go (gunicorn's error log): stderr, one line per event,
 * prefixed `multiserve:`, or one JSON object per line with `logFormat: "json"` (then the
 * start-up line too, which as text goes to stdout). Lifecycle
 * events of the primary, its pools and its workers all pass through here, each at a level
 * that `logLevel` filters. The primary's admin endpoint keeps the recent ones.
 *
 * @module
 */
import { pid } from "./host.ts";

/** How much a line matters; `critical` is the reason a server stops on its own. */
export type Level = "debug" | "info" | "warning" | "error" | "critical";

/** What `logLevel` can ask for: a level and everything above it, or `quiet`. */
export type LogLevel = "debug" | "info" | "warning" | "error" | "quiet";

/** Who a line is about, for the JSON format and the status page. */
export interface LogFields {
  /** The worker's id ("2", "2.1"). */
  worker?: string;
  pid?: number;
}

/** One line, as the status page shows it. */
export interface LogEntry extends LogFields {
  /** Milliseconds since the epoch. */
  time: number;
  level: Level;
  message: string;
}

/** Where the lines of one process (primary or worker) go, and how many of them. */
export type Logger = (level: Level, line: string, fields?: LogFields) => void;

const RANK: Record<Level | "quiet", number> = {
  debug: 0,
  info: 1,
  warning: 2,
  error: 3,
  quiet: 4,
  critical: 4,
};

let threshold = RANK.info;
let json = false;
/** This process's worker id, for its own lines. */
let ownWorker: string | undefined;
const listeners = new Set<(entry: LogEntry) => void>();

/**
 * Apply `logLevel` and `logFormat` to every line this isolate writes from now on; `worker`
 * names the worker it is, for its own lines.
 */
export function configureLog(
  options: { logLevel: LogLevel; logFormat: "text" | "json" },
  worker?: string,
): void {
  threshold = RANK[options.logLevel];
  json = options.logFormat === "json";
  ownWorker = worker;
}

/** Call `listener` with every line from `info` up, written or not; returns how to stop. */
export function onLogEntry(listener: (entry: LogEntry) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Write one line at `level` (and any error after it, with its stack). */
export function logAt(level: Level, line: string, fields?: LogFields, ...details: unknown[]): void {
  if (RANK[level] >= RANK.info && listeners.size > 0) {
    const entry = { time: Date.now(), level, message: line, ...fields };
    for (const listener of listeners) listener(entry);
  }
  if (RANK[level] < threshold) return;
  if (!json) return console.error(`multiserve: ${line}`, ...details);
  console.error(jsonLine(level, line, fields, details));
}

/** An info line. */
export function log(line: string, ...details: unknown[]): void {
  logAt("info", line, undefined, ...details);
}

/**
 * The line a primary prints once it serves, at `info`: on stdout as text, where a person
 * reads it; as JSON, on stderr with every other line of ours, so that a collector reads one
 * stream of JSON and stdout stays the access log's (`-`) and the app's.
 */
export function announce(line: string): void {
  if (RANK.info < threshold) return;
  if (json) console.error(jsonLine("info", line, undefined, []));
  else console.log(`multiserve: ${line}`);
}

/** The default logger of this process. */
export const logger: Logger = (level, line, fields) => logAt(level, line, fields);

function jsonLine(level: Level, message: string, fields: LogFields | undefined, details: unknown[]): string {
  const error = details.find((detail) => detail instanceof Error) as Error | undefined;
  return JSON.stringify({
    time: new Date().toISOString(),
    level,
    message,
    pid: fields?.pid ?? pid(),
    ...(fields?.worker ?? ownWorker) === undefined ? {} : { worker: fields?.worker ?? ownWorker },
    ...(error === undefined ? {} : { error: error.stack ?? String(error) }),
  });
}
