/**
 * The servers the bench measures: what runs them (multiserve, the runtimes' own servers, the
 * peers), starting them pinned to a CPU, stopping them with all they started, an nginx in
 * front, and their memory.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { descendants, eventually, freePort, tempDir } from "../tests/_processes.ts";

export const root = fileURLToPath(new URL("..", import.meta.url));
export const bin = (name: string): string => `${root}node_modules/.bin/${name}`;

export type Runtime = "deno" | "bun" | "node";
/** The runtimes measured: all three, or those `BENCH_RUNTIMES` names ("node,bun"). */
export const RUNTIMES: Runtime[] = (["deno", "bun", "node"] as Runtime[]).filter((runtime) =>
  process.env.BENCH_RUNTIMES?.split(",").includes(runtime) ?? true
);

/** The command that runs `script` on `runtime`. */
export function command(runtime: Runtime, script: string, args: string[]): [string, string[]] {
  const path = `${root}${script}`;
  return runtime === "deno" ? [bin("deno"), ["run", "-A", path, ...args]] : [bin(runtime), [path, ...args]];
}

export const HAS_TASKSET = !spawnSync("taskset", ["--version"]).error;

/** `cmd` bound to one CPU (taskset execs it, so the pid stays the server's). */
export function pinned(cmd: [string, string[]], cpu: number | undefined): [string, string[]] {
  if (cpu === undefined || !HAS_TASKSET) return cmd;
  return ["taskset", ["-c", String(cpu), cmd[0], ...cmd[1]]];
}

export interface Running {
  child: ChildProcess;
  url: string;
  /** An nginx in front of a server, not a server. */
  isFront?: boolean;
  startMs: number;
  /** Everything it printed so far, stdout and stderr. */
  output: () => string;
}

/** Start a server; resolve once it prints "listening on" (all its workers listen). */
export async function start(
  cmd: [string, string[]],
  port: number,
  env: Record<string, string> = {},
): Promise<Running> {
  const began = performance.now();
  const child = spawn(cmd[0], cmd[1], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return await new Promise<Running>((resolve, reject) => {
    const timer = setTimeout(() => fail("did not start within 30 s"), 30_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      killTree(child.pid!);
      reject(new Error(`${cmd.join(" ")}: ${why}\n${output}`));
    };
    const onData = (chunk: Buffer) => {
      output += chunk;
      if (/listening on/i.test(output)) {
        clearTimeout(timer);
        resolve({
          child,
          url: `${env.BENCH_TLS_CERT ? "https" : "http"}://127.0.0.1:${port}/`,
          startMs: performance.now() - began,
          output: () => output,
        });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => fail(`exited with ${code}`));
  });
}

/** Resident memory of a process and all its descendants, in MiB. */
export function treeRssMiB(pid: number): number {
  let kib = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      kib += Number(match?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return kib / 1024;
}

export function killTree(pid: number): void {
  for (const p of [...descendants(pid), pid]) {
    try {
      process.kill(p, "SIGKILL");
    } catch { /* gone */ }
  }
}

export async function stop(running: Running): Promise<void> {
  running.child.removeAllListeners("exit"); // the start-up failure handler
  const exited = new Promise((r) => running.child.once("exit", r));
  process.kill(running.child.pid!, "SIGTERM");
  const late = setTimeout(() => killTree(running.child.pid!), 10_000);
  await exited;
  clearTimeout(late);
  killTree(running.child.pid!); // anything a peer left behind
}

/** A server to measure: how to start it on a port. */
export interface Target {
  label: string;
  runtime: Runtime;
  cmd: (port: number) => [string, string[]];
  env?: Record<string, string>;
  /** Measured through an nginx of its own in front (section (n)). */
  behindNginx?: boolean;
  /** Measured through an HAProxy of its own in TCP mode, sending a PROXY v2 header or not (section (p)). */
  behindHaproxy?: "plain" | "send-proxy-v2";
  /** Arguments for the Lua script of wrk's arguments (section (p): which PROXY header to send). */
  scriptArgs?: string[];
}

/**
 * multiserve's command line as the repository runs it: `cli.ts`, and on Node `npm start`'s
 * `scripts/start.js`, which turns the compile cache on before any `.ts` file loads. `node
 * mod.ts` loads Node's type stripper into the process first, and a server in that process
 * (one isolate) keeps it in its heap: 0.92–0.93× the requests per second of the compiled
 * package or `scripts/start.js` on (a)'s hello, three interleaved runs of 2026-12-02.
 */
export const multiserveEntry = (runtime: Runtime): string =>
  runtime === "node" ? "scripts/start.js" : "cli.ts";

/** multiserve's command line serving bench/servers/`app`_app.ts with `flags`. */
export const multiserve = (runtime: Runtime, app: string, flags: string[], label: string): Target => ({
  label,
  runtime,
  cmd: (port) =>
    command(runtime, multiserveEntry(runtime), ["-p", String(port), ...flags, `bench/servers/${app}_app.ts`]),
});

/** The runtime's own server (bench/servers/raw_*.ts) serving `app`, as `kind` says. */
export const raw = (runtime: Runtime, app: string, label: string, kind = "bridge"): Target => ({
  label,
  runtime,
  cmd: (port) =>
    command(runtime, `bench/servers/raw_${runtime === "bun" ? "bun" : runtime}.ts`, [
      String(port),
      app,
      kind,
    ]),
});

/** The peer on Deno: `deno serve --parallel` with `jobs` isolates. */
export const denoServeParallel = (app: string, jobs: number, label: string): Target => ({
  label,
  runtime: "deno",
  env: { DENO_JOBS: String(jobs) },
  cmd: (
    port,
  ) => [bin("deno"), [
    "serve",
    "-A",
    "--parallel",
    "--port",
    String(port),
    `${root}bench/servers/${app}_app.ts`,
  ]],
});

/** The label of a runtime's own server, the baseline of (a) and (g). */
export const rawBaseline = (runtime: Runtime): string =>
  runtime === "node" ? "node:http + @hono/node-server" : runtime === "deno" ? "Deno.serve" : "Bun.serve";

/** Where nginx is, or "" when it is not installed (section (n) is then left out). */
export const NGINX = spawnSync("sh", ["-c", "command -v nginx || ls /usr/sbin/nginx"], { encoding: "utf8" })
  .stdout
  .trim();

/** Where HAProxy is, or "" when it is not installed (section (p) is then left out). */
export const HAPROXY = spawnSync("sh", ["-c", "command -v haproxy || ls /usr/sbin/haproxy"], {
  encoding: "utf8",
}).stdout.trim().split("\n")[0];

/**
 * Debian's HAProxy in TCP mode in front of the server on `upstreamPort`, pinned with the
 * servers (CPU 0), one thread, as docs/deploying.md's snippet has it: each client connection
 * relayed on a connection of its own, which begins with a PROXY v2 header when `send` says so.
 */
export async function haproxyFront(upstreamPort: number, send: "plain" | "send-proxy-v2"): Promise<Running> {
  const dir = tempDir("multiserve-bench-haproxy-");
  const port = await freePort();
  writeFileSync(
    `${dir}/haproxy.cfg`,
    `global
  maxconn 4096
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend front
  bind 127.0.0.1:${port}
  default_backend app
backend app
  server app 127.0.0.1:${upstreamPort}${send === "plain" ? "" : " send-proxy-v2"}
`,
  );
  return await startFront("haproxy", [HAPROXY, ["-f", `${dir}/haproxy.cfg`, "-db"]], port, upstreamPort);
}

/**
 * Debian's nginx in front of the server on `upstreamPort`, pinned with the servers (CPU 0), as
 * docs/deploying.md's site has it: upstream keep-alive, and the client and scheme forwarded as after
 * TLS termination (X-Forwarded-Proto: https), which multiserve believes from loopback.
 */
export async function nginxFront(upstreamPort: number): Promise<Running> {
  const dir = tempDir("multiserve-bench-nginx-");
  const port = await freePort();
  writeFileSync(
    `${dir}/nginx.conf`,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
`,
  );
  const cmd: [string, string[]] = [NGINX, ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"]];
  return await startFront("nginx", cmd, port, upstreamPort);
}

/** Start a front (`name`, by `cmd`) pinned with the servers, once it answers 200 on `port`. */
async function startFront(
  name: string,
  cmd: [string, string[]],
  port: number,
  upstreamPort: number,
): Promise<Running> {
  const [exe, args] = pinned(cmd, 0);
  const child = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (c) => (output += c));
  child.stderr!.on("data", (c) => (output += c));
  const url = `http://127.0.0.1:${port}/`;
  const answers = () =>
    new Promise<boolean>((resolve) => {
      const req = httpRequest(url, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on("error", () => resolve(false));
      req.end();
    });
  try {
    await eventually(answers, name, 5_000, 50);
  } catch {
    killTree(child.pid!);
    throw new Error(`${name} in front of port ${upstreamPort} did not answer 200 within 5 s\n${output}`);
  }
  return { child, url, startMs: 0, output: () => output, isFront: true };
}
