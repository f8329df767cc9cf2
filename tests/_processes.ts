/**
 * Processes and ports, for the test harness and the bench alike: a free loopback port, the
 * process tree from Linux's /proc, bounded polling, temporary directories removed at the
 * end. Nothing happens at import (unlike
 * tests/_harness.ts, whose file time limit must not reach the bench), and nothing here
 * starts or ends a process.
 *
 * One rule for zombies: they count as gone. A zombie has exited; it holds no memory, takes no
 * more CPU and ignores every signal, so neither a test waiting for an exit nor the bench
 * killing a tree or picking a worker to kill should see it.
 *
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { detectRuntime } from "../src/runtime.ts";

/**
 * The fields of /proc/`pid`/stat after the parenthesised name (which may hold spaces and
 * parentheses): [0] state, [1] ppid, …, [11] utime, [12] stime. Undefined once it is gone.
 */
export function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // exited while we looked
  }
}

/** Living processes (zombies left out) by parent pid. */
function processTree(): Map<number, number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields === undefined || fields[0] === "Z") continue;
    const ppid = Number(fields[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  return parents;
}

/** Pids of the living direct children of `pid`. */
export function children(pid: number): number[] {
  return processTree().get(pid) ?? [];
}

/** Pids of every living descendant of `pid`, parents before their children (Linux /proc). */
export function descendants(pid: number): number[] {
  const parents = processTree();
  const found: number[] = [];
  const visit = (p: number) => {
    for (const child of parents.get(p) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/** Is a process with this pid still alive (and not a zombie)? */
export function alive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== "Z";
}

/** A loopback port nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Poll until `check` holds, every `everyMs`, or fail after `ms`. (The bench polls every 5 ms
 * where the wait is what it measures: a worker's replacement, a reload.)
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
  everyMs = 25,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The directories tempDir() made, removed when this process ends. */
const tempDirs = new Set<string>();

/**
 * A new directory under the system's temporary directory, named `prefix` and six random
 * characters, removed with all it holds when this process ends (a test file, pass or fail,
 * or a run of the bench), so that neither leaves anything in /tmp.
 */
export function tempDir(prefix: string): string {
  if (tempDirs.size === 0) {
    // Node's and Bun's test runners (and the bench, on Node) emit the process's "exit" (Bun
    // once, after every file it ran); `deno test` does not, but ends each file with the
    // "unload" event. Not node:test's after(): in a module that files share, Bun runs it
    // once, for one file only.
    process.once("exit", removeTempDirs);
    if (detectRuntime() === "deno") globalThis.addEventListener("unload", removeTempDirs, { once: true });
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

function removeTempDirs(): void {
  for (const dir of tempDirs) {
    // A server a failed test left running may still write there; cleaning up never fails.
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch { /* left behind */ }
  }
  tempDirs.clear();
}
