/**
 * Lines to stdout or appended to a file, through `node:fs` and `node:process` (Bun and
 * Node); see `Adapter.openLog`.
 *
 * @module
 */
import { closeSync, openSync, write } from "node:fs";
import process from "node:process";
import type { LogWriter } from "../src/adapter.ts";
import { OptionError } from "../src/errors.ts";

/** Write to stdout (`"-"`) or append to the file at `target`, opened now. */
export function openLogWriter(target: string): LogWriter {
  if (target === "-") {
    // Through the stream: it copes with a pipe that is full (a raw write would get EAGAIN).
    return {
      write: (text) => new Promise((resolve) => process.stdout.write(text, () => resolve())),
      close() {},
    };
  }
  let fd: number;
  try {
    fd = openSync(target, "a");
  } catch (error) {
    throw new OptionError(`cannot open the access log ${target}: ${(error as Error).message}`);
  }
  return {
    write: (text) => new Promise((resolve) => write(fd, text, () => resolve())),
    close: () => closeSync(fd),
  };
}

/** Bytes of memory a worker uses: a process's resident set, a thread's JavaScript heap. */
export function memoryOf(kind: "process" | "thread"): number {
  const usage = process.memoryUsage();
  return kind === "process" ? usage.rss : usage.heapUsed;
}
