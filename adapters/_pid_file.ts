/**
 * The primary's pid file (gunicorn's `--pid`), through `node:fs` and `node:process`, which
 * all three runtimes have; see `Adapter.writePidFile`.
 *
 * @module
 */
import { fs, proc } from "./_builtins.ts";
import { BootError, OptionError } from "../src/errors.ts";

/** The pid the file at `path` names; undefined when there is none or it says no number. */
function pidIn(path: string): number | undefined {
  let text: string;
  try {
    text = fs().readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  return /^\d+\s*$/.test(text) ? Number(text) : undefined;
}

/** Is process `pid` running (signal 0 reaches it, or it is another user's)? */
function running(pid: number): boolean {
  try {
    proc().kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/**
 * Write `pid` to `path`: a file naming another running process is refused (gunicorn's
 * "Already running"), unless that is `replacing`, the primary an upgrade takes over from;
 * one a dead process left is replaced. Written beside the file, then renamed over it, so
 * that a reader never sees it half written.
 */
export function writePidFile(path: string, pid: number, replacing?: number): void {
  const previous = pidIn(path);
  if (previous !== undefined && previous !== pid && previous !== replacing && running(previous)) {
    throw new BootError(
      `the pid file ${path} names process ${previous}, which is running: another server? ` +
        "(if that process is not one, remove the file)",
    );
  }
  const temporary = `${path}.${pid}.tmp`;
  try {
    fs().writeFileSync(temporary, `${pid}\n`);
    fs().renameSync(temporary, path);
  } catch (error) {
    try {
      fs().unlinkSync(temporary);
    } catch { /* never written */ }
    throw new OptionError(`cannot write the pid file ${path}: ${(error as Error).message}`);
  }
}

/** Remove `path` if it names `pid`: a file that another server has written since stays. */
export function removePidFile(path: string, pid: number): void {
  if (pidIn(path) !== pid) return;
  try {
    fs().unlinkSync(path);
  } catch { /* gone already */ }
}
