/**
 * The access log: a line per request in `combined`, `common` or `json` format, written by
 * the worker that served it. Lines are gathered and written a batch per turn of the event
 * loop, one write at a time (a slow disk or a full pipe holds the next batch back rather
 * than queueing writes), in pieces small enough that workers sharing one stdout pipe never
 * interleave inside a line. Stopping flushes what is left.
 *
 * @module
 */
import type { LogWriter } from "../adapter.ts";

/** What a line says about one request. */
export interface AccessEntry {
  remote: string;
  /** Empty when the request line could not be read. */
  method: string;
  /** Path and query, as the request line had them. */
  target: string;
  /** "HTTP/1.1", "HTTP/2.0" (or "HTTP/1.0"): as the request came, where the runtime says. */
  protocol: string;
  status: number;
  /**
   * Response body bytes: sent, where the adapter counts them (Node), else as its
   * Content-Length declares them; undefined when neither is known.
   */
  bytes: number | undefined;
  ms: number;
  referer: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export type AccessLogFormat = "combined" | "common" | "json";

/**
 * Largest piece written at once to a shared stdout, in UTF-16 units: at most 3 bytes each
 * in UTF-8, so within a pipe's 4096-byte `PIPE_BUF`, which Linux writes whole.
 */
const STDOUT_PIECE = 1365;

export class AccessLog {
  readonly #writer: LogWriter;
  readonly #format: (entry: AccessEntry) => string;
  readonly #piece: number;
  #lines: string[] = [];
  #scheduled = false;
  /** The write in progress, if any. */
  #writing: Promise<void> | undefined;

  constructor(
    writer: LogWriter,
    format: AccessLogFormat,
    toStdout: boolean,
    who: { worker: string; pid: number },
  ) {
    this.#writer = writer;
    this.#piece = toStdout ? STDOUT_PIECE : 1 << 20;
    this.#format = format === "json"
      ? (entry) => jsonLine(entry, who)
      : format === "common"
      ? (entry) => commonLine(entry)
      : (entry) => `${commonLine(entry)} ${quoted(entry.referer)} ${quoted(entry.userAgent)}`;
  }

  add(entry: AccessEntry): void {
    this.#lines.push(this.#format(entry));
    if (this.#scheduled || this.#writing) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      void this.#drain();
    }, 0);
  }

  /** Write every line gathered so far, then close the file. */
  async close(): Promise<void> {
    await this.#writing;
    await this.#drain();
    this.#writer.close();
  }

  /** Write the gathered lines, a piece at a time, until none are left. */
  #drain(): Promise<void> {
    if (this.#writing) return this.#writing;
    const run = async () => {
      while (this.#lines.length > 0) {
        const lines = this.#lines;
        this.#lines = [];
        for (const piece of pieces(lines, this.#piece)) await this.#writer.write(piece);
      }
      this.#writing = undefined;
    };
    return this.#writing = run();
  }
}

/** `lines`, each ended by a newline, joined into pieces of at most `size` (a longer line alone). */
function pieces(lines: string[], size: number): string[] {
  const out: string[] = [];
  let piece = "";
  for (const line of lines) {
    if (piece !== "" && piece.length + line.length + 1 > size) {
      out.push(piece);
      piece = "";
    }
    piece += `${line}\n`;
  }
  if (piece !== "") out.push(piece);
  return out;
}

/** Apache's common log format: `host ident user [time] "request" status bytes`. */
function commonLine(e: AccessEntry): string {
  // A request line that could not be read shows as "-", as in nginx's log.
  const request = e.method === "" ? "-" : escaped(`${e.method} ${e.target} ${e.protocol}`);
  return `${e.remote || "-"} - - [${clfTime()}] "${request}" ${e.status} ${e.bytes ?? "-"}`;
}

function jsonLine(e: AccessEntry, who: { worker: string; pid: number }): string {
  return JSON.stringify({
    time: new Date().toISOString(),
    worker: who.worker,
    pid: who.pid,
    remote: e.remote,
    method: e.method,
    target: e.target,
    protocol: e.protocol,
    status: e.status,
    bytes: e.bytes ?? null,
    ms: Math.round(e.ms * 1000) / 1000,
    referer: e.referer,
    userAgent: e.userAgent,
    requestId: e.requestId,
  });
}

function quoted(value: string | null): string {
  return value === null ? '"-"' : `"${escaped(value)}"`;
}

// deno-lint-ignore no-control-regex
const UNSAFE = /["\\\x00-\x1f\x7f]/;
// deno-lint-ignore no-control-regex
const UNSAFE_ALL = /["\\\x00-\x1f\x7f]/g;

/** A value inside quotes, escaped as nginx does (`\"`, `\\`, `\xHH`), so a line stays one line. */
function escaped(value: string): string {
  if (!UNSAFE.test(value)) return value;
  return value.replace(
    UNSAFE_ALL,
    (c) => c === '"' || c === "\\" ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
let clfSecond = -1;
let clfText = "";

/** Now as `25/Nov/2026:07:46:02 +0000`, made once per second. */
function clfTime(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second === clfSecond) return clfText;
  const d = new Date(now);
  const two = (n: number) => String(n).padStart(2, "0");
  clfSecond = second;
  clfText = `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${
    two(d.getUTCHours())
  }:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
  return clfText;
}
