/**
 * Lines to stdout or appended to a file, through `node:fs` and `node:process` (Bun and
 * Node); see `Adapter.openLog`.
 *
 * @module
 */
import { fs, proc } from "./_builtins.ts";
import type { LogWriter } from "../src/adapter.ts";
import { OptionError } from "../src/errors.ts";

/** Write to stdout (`"-"`) or append to the file at `target`, opened now. */
export function openLogWriter(target: string): LogWriter {
  if (target === "-") {
    // Through the stream: it copes with a pipe that is full (a raw write would get EAGAIN).
    return {
      write: (text) => new Promise((resolve) => proc().stdout.write(text, () => resolve())),
      close() {},
    };
  }
  let fd: number;
  try {
    fd = fs().openSync(target, "a");
  } catch (error) {
    throw new OptionError(`cannot open the access log ${target}: ${(error as Error).message}`);
  }
  return {
    write: (text) => new Promise((resolve) => fs().write(fd, text, () => resolve())),
    close: () => fs().closeSync(fd),
  };
}

/** Bytes of memory a worker uses: a process's resident set, a thread's JavaScript heap. */
export function memoryOf(kind: "process" | "thread"): number {
  const usage = proc().memoryUsage();
  return kind === "process" ? usage.rss : usage.heapUsed;
}
