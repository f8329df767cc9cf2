/**
 * Starts real servers as child processes on the runtime running the tests, and talks
 * HTTP to them over fresh connections. Every wait is bounded and driven by events.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import { Agent, request as httpRequest } from "node:http";
import process from "node:process";
import { setTimeout as later } from "node:timers";
import { fileURLToPath } from "node:url";
import { detectRuntime } from "../src/runtime.ts";
import { descendants, eventually, tempDir } from "./_processes.ts";

export { tempDir };

// Shared with the bench, which must not import this module (its time limit below): re-exported
// so that the tests import everything from here.
export { alive, children, descendants, eventually, freePort } from "./_processes.ts";

export const runtime = detectRuntime();

/** Longer than any test file takes (the slowest, about 80 s), far shorter than CI's limit. */
const FILE_LIMIT_MS = 5 * 60_000;
// Deno's runner gives a test no time limit, and Node's runner waits for a file's process to
// end, which a client a failed test left running can keep alive for ever. A file still
// running after FILE_LIMIT_MS ends its process (Deno's: the run, naming the tests pending)
// instead of holding CI until its own limit. Not Node's --test-force-exit: with concurrency
// it drops the verdicts of a file's last tests (nodejs/node#64833). Bun's runner ends a file
// once its tests are done, and gives each a --timeout.
if (runtime !== "bun") {
  later(() => {
    console.error(`a test file has run for ${FILE_LIMIT_MS / 60_000} minutes: ending it`);
    for (const child of Child.living) child.killTree();
    process.exit(1);
  }, FILE_LIMIT_MS).unref();
}
export const root = fileURLToPath(new URL("..", import.meta.url));
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
export const modTs = fileURLToPath(new URL("../mod.ts", import.meta.url));
export const cliTs = fileURLToPath(new URL("../cli.ts", import.meta.url));

/**
 * Flags under which a worker loses no connection to a reload or a stop, times its clients
 * (header and keep-alive timeouts) and closes a connection after a refusal: on Deno, WebSockets
 * off, so that multiserve's own accept loop serves (WebSockets, on by default, need Deno.serve's
 * own handling, which has none of the three; docs/websockets.md). Nothing elsewhere.
 */
export const LOSSLESS = runtime === "deno" ? ["--max-web-sockets", "0"] : [];

/** How each worker shape is asked for, on the CLI and through serve(). */
export const MODES = [
  { name: "one isolate", args: [], options: {}, workers: 1 },
  { name: "threaded 2", args: ["--threads", "2"], options: { threaded: 2 }, workers: 2 },
  { name: "processes 2", args: ["--processes", "2"], options: { processes: 2 }, workers: 2 },
  {
    name: "processes 2 × threaded 2",
    args: ["-w", "2", "-t", "2"],
    options: { processes: 2, threaded: 2 },
    workers: 4,
  },
] as const;

/**
 * How many worker processes a mode starts on this runtime: one per process, and on Deno
 * one holding the threads when threaded without processes.
 */
export function expectedProcesses(mode: (typeof MODES)[number]): number {
  const processes = "processes" in mode.options ? mode.options.processes : 1;
  if (processes > 1) return processes;
  return "threaded" in mode.options && runtime === "deno" ? 1 : 0;
}

/** The command that runs `script` on this runtime. */
export function command(script: string, args: string[] = [], denoFlags = ["-A"]): [string, string[]] {
  const exec = process.execPath;
  if (runtime === "deno") return [exec, ["run", ...denoFlags, script, ...args]];
  return [exec, [script, ...args]];
}

/** The children's $XDG_RUNTIME_DIR: made for the file's first child. */
let childRuntimeDir: string | undefined;

/** A child process whose output is collected. */
export class Child {
  /** Those not yet exited, for the file's time limit to end. */
  static readonly living = new Set<Child>();
  readonly process: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: string | null }>;

  /**
   * `denoFlags` replace `-A` on Deno. A `script` ending in `/sh`, or any with `program`,
   * runs as is (no runtime),
   * and `wrap` prefixes the command (e.g. `unshare --net --`).
   */
  constructor(
    script: string,
    args: string[],
    env: Record<string, string> = {},
    denoFlags?: string[],
    { wrap = [] as string[], program: asIs = false } = {},
  ) {
    const [exec, argv] = script.endsWith("/sh") || asIs ? [script, args] : command(script, args, denoFlags);
    const [program, ...rest] = [...wrap, exec, ...argv];
    this.process = spawn(program, rest, {
      cwd: root,
      env: {
        ...process.env,
        PORT: "",
        HOST: "",
        WEB_CONCURRENCY: "",
        // A supervising server's default control socket goes there, unless the test says
        // where: a server a test ends with SIGKILL cannot remove its socket, and in the shared
        // /tmp/multiserve-UID/ they would pile up run after run.
        XDG_RUNTIME_DIR: childRuntimeDir ??= tempDir("multiserve-run-"),
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.process.stdout!.on("data", (chunk) => (this.stdout += chunk));
    this.process.stderr!.on("data", (chunk) => (this.stderr += chunk));
    Child.living.add(this);
    this.exited = new Promise((resolve) =>
      this.process.on("exit", (code, signal) => {
        Child.living.delete(this);
        resolve({ code, signal });
      })
    );
  }

  /** Where the output ends now: pass to `waitFor` to see only what comes next. */
  mark(): { stdout: number; stderr: number } {
    return { stdout: this.stdout.length, stderr: this.stderr.length };
  }

  /** How many times `pattern` (global) matched stderr so far. */
  count(pattern: RegExp): number {
    return this.stderr.match(pattern)?.length ?? 0;
  }

  get pid(): number {
    return this.process.pid!;
  }

  /**
   * Wait until `pattern` shows in stdout or stderr, looking only at output after the first
   * `from` characters of each; fail if the process exits or time runs out.
   */
  async waitFor(pattern: RegExp, ms = 20_000, from = { stdout: 0, stderr: 0 }): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    let exited = false;
    this.exited.then(() => (exited = true));
    while (Date.now() < deadline) {
      const match = this.stdout.slice(from.stdout).match(pattern) ??
        this.stderr.slice(from.stderr).match(pattern);
      if (match) return match;
      if (exited) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `${
        exited ? "process exited" : "timed out"
      } before ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
    );
  }

  /** Wait for exit, killing the process if it takes longer than `ms`. */
  async exit(ms = 20_000): Promise<{ code: number | null; signal: string | null }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(r, ms, "late")));
    const result = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (result === "late") {
      this.killTree();
      throw new Error(`process did not exit within ${ms} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
    }
    return result;
  }

  /**
   * Send `signal` by pid. (Deno's `ChildProcess.kill()` then reports the signal as the
   * cause of any exit, hiding the exit code the server chose.)
   */
  signal(signal: "SIGTERM" | "SIGINT" | "SIGHUP" | "SIGTTIN" | "SIGTTOU" | "SIGUSR2"): void {
    process.kill(this.pid, signal);
  }

  /** SIGKILL this process and every descendant: cleanup after a failed test. */
  killTree(): void {
    for (const pid of [...descendants(this.pid), this.pid]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
  }
}

/** Start a server and wait until it says where it listens. */
export async function startServer(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  denoFlags?: string[],
): Promise<{ child: Child; url: string }> {
  const child = new Child(script, args, env, denoFlags);
  try {
    const match = await child.waitFor(/listening on (https?:\/\/\S+)/);
    return { child, url: match[1] };
  } catch (error) {
    child.killTree();
    throw error;
  }
}

/**
 * SIGHUP `child`, then wait until its reload is done and `old` workers of the old generation
 * have exited (they take connections while they give notice: count from their exit).
 */
export async function reloadAndDrain(child: Child, old = 2): Promise<void> {
  const mark = child.mark();
  child.signal("SIGHUP");
  await child.waitFor(/reload done/, 20_000, mark);
  await eventually(
    () => child.count(/exited \(exit code 0; reloaded\)/g) >= old,
    "the old workers' exit",
    20_000,
  );
}

/** Start the CLI on a free port in `mode`, serving fixture `app`. */
export function startApp(
  mode: { args: readonly string[] },
  app = "app.ts",
): Promise<{ child: Child; url: string }> {
  return startServer(modTs, ["-p", "0", ...mode.args, fixture(app)]);
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
  text: string;
  chunks: number;
}

/** One HTTP request on a new connection (no agent, so no connection reuse). */
export function fetchFresh(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: Uint8Array;
    agent?: Agent;
    /** Connect from this address (a proxy's client other than itself). */
    localAddress?: string;
    /** Connect to this unix socket; the URL then gives the Host and the path. */
    socketPath?: string;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: init.method ?? "GET",
        headers: init.headers,
        agent: init.agent ?? false,
        localAddress: init.localAddress,
        socketPath: init.socketPath,
      },
      (res) => {
        const parts: Uint8Array[] = [];
        res.on("data", (chunk: Uint8Array) => parts.push(chunk));
        res.on("end", () => {
          const body = new Uint8Array(Buffer.concat(parts));
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body,
            text: new TextDecoder().decode(body),
            chunks: parts.length,
          });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer from ${url} within 15 s`)));
    req.on("error", reject);
    req.end(init.body);
  });
}

/** The isolate token of one fresh-connection request to the fixture app. */
export async function token(url: string): Promise<string> {
  const reply = await fetchFresh(`${url}token`);
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text).token;
}

/** Ask for tokens until `count` different isolates have answered (or `tries` run out). */
export async function distinctTokens(url: string, count: number, tries = 300): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < tries && seen.size < count; i++) seen.add(await token(url));
  return seen;
}

/**
 * Steady load: `concurrency` loops of requests, counting every outcome. Each request opens
 * a new connection, or with `keepAlive` each loop reuses one while the server allows.
 */
export function loadLoop(url: string, concurrency = 4, { keepAlive = false } = {}): {
  stop(): Promise<{ ok: number; failures: string[]; tokens: string[] }>;
  done(): number;
} {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const tokens: string[] = [];
  const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: concurrency }) : undefined;
  const loop = async () => {
    while (running) {
      try {
        const reply = await fetchFresh(`${url}token`, { agent });
        if (reply.status === 200) {
          ok++;
          tokens.push(JSON.parse(reply.text).token);
        } else failures.push(`status ${reply.status}: ${reply.text}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    done: () => ok,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      agent?.destroy();
      return { ok, failures, tokens };
    },
  };
}
