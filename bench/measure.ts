/**
 * What the sections measure with: wrk (pinned to its own CPU where the servers have theirs),
 * rates in interleaved rounds and their medians, the server's CPU time per request.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import process from "node:process";
import { descendants, freePort, statFields } from "../tests/_processes.ts";
import {
  haproxyFront,
  nginxFront,
  pinned,
  type Running,
  start,
  stop,
  type Target,
  treeRssMiB,
} from "./servers.ts";

export const WARMUP_SECONDS = 1;

/** wrk's threads and connections. */
export interface Load {
  threads: number;
  connections: number;
}

export const LOAD = {
  hello: { threads: 1, connections: 32 },
  cpu: { threads: 1, connections: 8 },
};

/**
 * What a browser behind a local nginx sends, as wrk arguments: the guard walks these fields
 * (Deno, Bun), and the trusted proxy's X-Forwarded-For sets remoteAddr, on every request.
 */
export const BROWSER_HEADERS = [
  "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "Accept-Language: en-GB,en;q=0.7",
  "Accept-Encoding: gzip, deflate, br, zstd",
  "Cookie: session=4f2a9c1e7b; theme=dark; consent=yes",
  "Referer: https://example.test/articles/",
  "Cache-Control: no-cache",
  "Sec-Fetch-Mode: navigate",
  "X-Forwarded-For: 203.0.113.7",
  "X-Forwarded-Proto: http",
].flatMap((header) => ["-H", header]);

/** Leave with a hint when wrk is missing, before any section starts. */
export function requireWrk(): void {
  if (spawnSync("wrk", ["--version"]).error) {
    console.error(
      "npm run bench needs wrk, the HTTP load generator. Install it: apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS).",
    );
    process.exit(1);
  }
}

export interface WrkResult {
  rps: number;
  errors: number;
  requests: number;
}

/** Run wrk, on CPU `cpu` when given (and taskset exists); `scriptArgs` go to its Lua script. */
export function wrk(
  url: string,
  threads: number,
  connections: number,
  seconds: number,
  cpu?: number,
  extra: string[] = [],
  scriptArgs: string[] = [],
): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const tail = scriptArgs.length === 0 ? [] : ["--", ...scriptArgs];
    const [exe, args] = pinned(
      ["wrk", [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, ...extra, url, ...tail]],
      cpu,
    );
    const child = spawn(exe, args, { stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    child.on("exit", () => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (!rps) return reject(new Error(`wrk gave no rate:\n${out}`));
      const errors = [
        /Non-2xx or 3xx responses: (\d+)/,
        /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
      ]
        .flatMap((re) => re.exec(out)?.slice(1).map(Number) ?? [])
        .reduce((a, b) => a + b, 0);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      resolve({ rps: Number(rps[1]), errors, requests });
    });
  });
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The median of each round's ratio: paired, since each round's servers ran side by side. */
export const pairedRatio = (rounds: number[], base: number[]): number =>
  median(rounds.map((x, i) => x / base[i]));

export interface Rates {
  rps: number;
  rounds: number[];
  errors: number;
}

function medians(
  targets: Target[],
  samples: Map<string, number[]>,
  errors: Map<string, number>,
): Map<string, Rates> {
  return new Map(
    targets.map((t) => {
      const rounds = samples.get(t.label)!;
      return [t.label, { rps: median(rounds), rounds, errors: errors.get(t.label)! }];
    }),
  );
}

/** Start, warm up, measure for `seconds`, stop. */
async function measure(target: Target, load: Load, seconds: number, wrkArgs: string[] = []) {
  const port = await freePort();
  const running = await start(target.cmd(port), port, target.env);
  try {
    await wrk(running.url, load.threads, load.connections, WARMUP_SECONDS, undefined, wrkArgs);
    const result = await wrk(running.url, load.threads, load.connections, seconds, undefined, wrkArgs);
    return { ...result, startMs: running.startMs, rssMiB: treeRssMiB(running.child.pid!) };
  } finally {
    await stop(running);
  }
}

/**
 * One-isolate overhead, with as little noise as this machine allows: servers on CPU 0, wrk
 * on CPU 1; every round starts each server afresh, then alternates short bursts between
 * them, so drift and start-to-start variance hit all alike. Median over rounds of the mean.
 */
export async function compareIsolates(
  targets: Target[],
  load: Load,
  rounds: number,
  seconds: number,
  wrkArgs: string[] = [],
): Promise<Map<string, Rates>> {
  const BURSTS = 4;
  const burstSeconds = Math.max(1, Math.round(seconds / 2));
  const samples = new Map<string, number[]>(targets.map((t) => [t.label, []]));
  const errors = new Map<string, number>(targets.map((t) => [t.label, 0]));
  for (let round = 0; round < rounds; round++) {
    const running: Running[] = [];
    try {
      for (const target of targets) {
        const port = await freePort();
        const server = await start(pinned(target.cmd(port), 0), port, target.env);
        running.push(server);
        if (target.behindNginx || target.behindHaproxy) {
          const front = target.behindNginx
            ? await nginxFront(port)
            : await haproxyFront(port, target.behindHaproxy!);
          running.push(front);
          server.url = front.url; // load goes through the front; both are stopped after the round
        }
      }
      const served = running.filter((r) => !r.isFront);
      // One wrk run against the i-th server, as every round's bursts make it.
      const burst = (i: number, secs: number) =>
        wrk(served[i].url, load.threads, load.connections, secs, 1, wrkArgs, targets[i].scriptArgs);
      for (const i of served.keys()) await burst(i, WARMUP_SECONDS);
      const sums = targets.map(() => 0);
      for (let n = 0; n < BURSTS; n++) {
        for (const i of served.keys()) {
          const result = await burst(i, burstSeconds);
          sums[i] += result.rps / BURSTS;
          errors.set(targets[i].label, errors.get(targets[i].label)! + result.errors);
        }
      }
      for (const [i, target] of targets.entries()) {
        samples.get(target.label)!.push(sums[i]);
        console.error(`  round ${round + 1}, ${target.label}: ${sums[i].toFixed(0)} req/s`);
      }
    } finally {
      for (const r of running) await stop(r);
    }
  }
  return medians(targets, samples, errors);
}

/** Measure targets in interleaved rounds (A B A B …) so drift hits all alike; keep the median. */
export async function compare(
  targets: Target[],
  load: Load,
  rounds: number,
  seconds: number,
  wrkArgs: string[] = [],
): Promise<Map<string, Rates>> {
  const samples = new Map<string, number[]>(targets.map((t) => [t.label, []]));
  const errors = new Map<string, number>(targets.map((t) => [t.label, 0]));
  for (let round = 0; round < rounds; round++) {
    for (const target of targets) {
      const result = await measure(target, load, seconds, wrkArgs);
      samples.get(target.label)!.push(result.rps);
      errors.set(target.label, errors.get(target.label)! + result.errors);
      console.error(
        `  ${target.label}: ${result.rps.toFixed(0)} req/s${
          result.errors ? `, ${result.errors} errors` : ""
        }`,
      );
    }
  }
  return medians(targets, samples, errors);
}

const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);

/** User and system CPU ticks of a process and its descendants. */
function cpuTicks(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) {
    const fields = statFields(p);
    if (fields !== undefined) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
}

/**
 * Server CPU time per request, in µs: the server (and its children) pinned to CPU 0, wrk to
 * CPU 1, CPU ticks read from /proc before and after. Steadier here than requests per second,
 * since it does not count the time the server waits for the machine.
 */
export async function cpuPerRequest(target: Target, wrkArgs: string[], seconds: number): Promise<number> {
  const port = await freePort();
  const running = await start(pinned(target.cmd(port), 0), port, target.env);
  try {
    await wrk(running.url, LOAD.hello.threads, LOAD.hello.connections, WARMUP_SECONDS, 1, wrkArgs);
    const before = cpuTicks(running.child.pid!);
    const { requests } = await wrk(
      running.url,
      LOAD.hello.threads,
      LOAD.hello.connections,
      seconds,
      1,
      wrkArgs,
    );
    const ticks = cpuTicks(running.child.pid!) - before;
    return (ticks / CLOCK_TICKS) * 1e6 / Math.max(1, requests);
  } finally {
    await stop(running);
  }
}
