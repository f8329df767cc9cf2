/**
 * (o) Topic fan-out: one publisher to many subscribers, spread over 2 processes by serve()
 * (every message crosses the primary to reach the other process), beside Bun's own
 * `server.publish` in one process as the upper bound. Messages delivered per second, the
 * share delivered, and the time from publish to delivery (p50, p99). The client shares the
 * two CPUs with the servers.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { freePort } from "../../tests/_processes.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { bin, command, multiserve, root, RUNTIMES, start, stop, type Target } from "../servers.ts";

export const letter = "o";
export const title =
  "topic fan-out: 1 publisher to 1,000 subscribers over 2 processes, and Bun's server.publish";

const SUBSCRIBERS = 1000;
const RATES = [100, 1000];

interface Fanout {
  deliveredPerSecond: number;
  share: number;
  p50: number;
  p99: number;
}

function load(url: string, rate: number, seconds: number): Promise<Fanout> {
  return new Promise((resolve, reject) => {
    const args = [`${root}bench/pubsub_load.ts`, url, String(SUBSCRIBERS), String(rate), String(seconds)];
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
  const targets: Target[] = [
    ...RUNTIMES.map((runtime) => multiserve(runtime, "pubsub", ["-w", "2"], "serve(), processes 2")),
    {
      label: "Bun.serve server.publish, 1 process",
      runtime: "bun",
      cmd: (port) => command("bun", "bench/servers/raw_bun_pubsub.ts", [String(port)]),
    },
  ];
  for (const target of targets) {
    for (const rate of RATES) {
      const port = await freePort();
      const running = await start(target.cmd(port), port, target.env);
      try {
        const r = await load(`http://127.0.0.1:${port}/`, rate, seconds);
        results[`o.${target.runtime}.${target.label}.${rate}`] = r;
        console.error(`  ${target.runtime} ${target.label}, ${rate}/s: ${JSON.stringify(r)}`);
        rows.push({
          section: `(o) fan-out to ${SUBSCRIBERS}, ${rate} msg/s`,
          runtime: target.runtime,
          what: target.label,
          value: `${fmt(r.deliveredPerSecond)} deliveries/s, ${(r.share * 100).toFixed(1)}% delivered`,
          ratio: `p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`,
          target: "p99 < 5 ms",
        });
      } finally {
        await stop(running);
      }
    }
  }
  return rows;
}
