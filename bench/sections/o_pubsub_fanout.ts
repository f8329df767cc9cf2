/**
 * (o) Topic fan-out: one publisher to many subscribers, spread over 2 processes by serve()
 * (every message crosses the primary to reach the other process), and over 2 hosts (two
 * servers of one process each, linked through Debian's redis-server, half the subscribers on
 * each); beside Bun's own `server.publish` in one process as the upper bound, and crossws
 * with its cluster sync driver in 2 `node:cluster` processes as the peer. Messages delivered
 * per second, the share delivered, and the time from publish to delivery (p50, p99). The
 * client shares the two CPUs with the servers.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { freePort } from "../../tests/_processes.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { bin, command, multiserve, root, RUNTIMES, start, stop, type Target } from "../servers.ts";

export const letter = "o";
export const title =
  "topic fan-out: 1 publisher to 1,000 subscribers over 2 processes and 2 hosts (Redis), beside Bun's server.publish and crossws";

/** Debian's redis-server, when installed: the 2-host rows need it. */
const REDIS = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).stdout.trim();

/** A redis-server on a free port, nothing saved; resolves once it accepts connections. */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(REDIS, [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { url: `redis://127.0.0.1:${port}`, child };
}

const SUBSCRIBERS = 1000;
const RATES = [100, 1000];

interface Fanout {
  deliveredPerSecond: number;
  share: number;
  p50: number;
  p99: number;
}

function load(url: string, rate: number, seconds: number, otherUrl?: string): Promise<Fanout> {
  return new Promise((resolve, reject) => {
    const args = [`${root}bench/pubsub_load.ts`, url, String(SUBSCRIBERS), String(rate), String(seconds)];
    if (otherUrl !== undefined) args.push(otherUrl);
    const child = spawn(bin("node"), args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    child.on("exit", (code) => {
      try {
        if (code !== 0) throw new Error(out);
        resolve(JSON.parse(out.trim().split("\n").at(-1)!));
      } catch (error) {
        reject(new Error(`pubsub load failed: ${(error as Error).message}`));
      }
    });
  });
}

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const targets: (Target & { hosts?: 2 })[] = [
    ...RUNTIMES.map((runtime) => multiserve(runtime, "pubsub", ["-w", "2"], "serve(), processes 2")),
    ...(REDIS === "" ? [] : RUNTIMES.map((runtime) => ({
      ...multiserve(runtime, "pubsub", ["-w", "1"], "serve(), 2 hosts × 1 process, through Redis"),
      hosts: 2 as const,
    }))),
    {
      label: "Bun.serve server.publish, 1 process",
      runtime: "bun",
      cmd: (port) => command("bun", "bench/servers/raw_bun_pubsub.ts", [String(port)]),
    },
    {
      label: "crossws, cluster sync driver, 2 processes",
      runtime: "node",
      cmd: (port) => command("node", "bench/servers/crossws_cluster.ts", [String(port)]),
    },
  ];
  for (const target of targets) {
    for (const rate of RATES) {
      const redis = target.hosts === 2 ? await startRedis() : undefined;
      const env = redis === undefined ? target.env : { ...target.env, MULTISERVE_PUBSUB: redis.url };
      const ports = [await freePort(), ...(redis === undefined ? [] : [await freePort()])];
      const running = [];
      try {
        for (const port of ports) running.push(await start(target.cmd(port), port, env));
        const [url, otherUrl] = ports.map((port) => `http://127.0.0.1:${port}/`);
        const r = await load(url, rate, seconds, otherUrl);
        results[`o.${target.runtime}.${target.label}.${rate}`] = r;
        console.error(`  ${target.runtime} ${target.label}, ${rate}/s: ${JSON.stringify(r)}`);
        rows.push({
          section: `(o) fan-out to ${SUBSCRIBERS}, ${rate} msg/s`,
          runtime: target.runtime,
          what: target.label,
          value: `${fmt(r.deliveredPerSecond)} deliveries/s, ${(r.share * 100).toFixed(1)}% delivered`,
          ratio: `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`,
          target: target.hosts === 2 ? "p99 < 10 ms" : "p99 < 5 ms",
        });
      } finally {
        for (const server of running) await stop(server);
        redis?.child.kill("SIGKILL");
      }
    }
  }
  return rows;
}
