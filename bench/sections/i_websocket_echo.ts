/**
 * (i) WebSocket echo with 50 clients (bench/ws_load.ts, as wrk has no WebSockets): serve() in
 * one isolate against the runtime's own WebSocket server, both pinned, and serve() in 2
 * processes against 1 isolate.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { freePort } from "../../tests/_processes.ts";
import { median } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { bin, command, multiserve, pinned, root, RUNTIMES, start, stop, type Target } from "../servers.ts";

export const letter = "i";
export const title = "WebSocket echo, 50 clients: serve() against the runtime's own server, and 2 workers";

/** Round trips per second of bench/ws_load.ts against `url`, run on CPU `cpu` when given. */
function wsLoad(url: string, clients: number, seconds: number, cpu?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const [exe, args] = pinned([bin("node"), [
      `${root}bench/ws_load.ts`,
      url,
      String(clients),
      String(seconds),
    ]], cpu);
    const child = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    child.on(
      "exit",
      (code) => code === 0 ? resolve(Number(out.trim())) : reject(new Error(`ws load failed: ${out}`)),
    );
  });
}

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    // On Deno WebSockets are opt-in (they cost its connection timeouts).
    const on = runtime === "deno" ? ["--max-web-sockets", "1000"] : [];
    const targets: Target[] = [
      { label: "raw", runtime, cmd: (port) => command(runtime, "bench/servers/raw_ws.ts", [String(port)]) },
      multiserve(runtime, "ws", on, "serve(), 1 isolate"),
      multiserve(runtime, "ws", [...on, "-w", "2"], "serve(), processes 2"),
    ];
    const samples = new Map<string, number[]>(targets.map((t) => [t.label, []]));
    for (let round = 0; round < 3; round++) {
      for (const target of targets) {
        const port = await freePort();
        // Two processes take both CPUs, so neither they nor the client are pinned.
        const pinnedCpu = target.label === "serve(), processes 2" ? undefined : 0;
        const running = await start(pinned(target.cmd(port), pinnedCpu), port, target.env);
        try {
          const trips = await wsLoad(`ws://127.0.0.1:${port}/`, 50, seconds, pinnedCpu === 0 ? 1 : undefined);
          samples.get(target.label)!.push(trips);
          console.error(`  round ${round + 1}, ${runtime} ${target.label}: ${trips} round trips/s`);
        } finally {
          await stop(running);
        }
      }
    }
    results[`i.${runtime}`] = Object.fromEntries(samples);
    const own = samples.get("raw")!;
    const one = samples.get("serve(), 1 isolate")!;
    const two = samples.get("serve(), processes 2")!;
    const ownName = runtime === "deno"
      ? "Deno.serve + Deno.upgradeWebSocket"
      : runtime === "bun"
      ? "Bun.serve websocket"
      : "node:http + ws";
    rows.push(
      {
        section: "(i) WebSocket echo, 50 clients",
        runtime,
        what: ownName,
        value: `${fmt(median(own))} trips/s`,
        ratio: "1.00×",
      },
      {
        section: "(i) WebSocket echo, 50 clients",
        runtime,
        what: "serve(), 1 isolate, upgradeWebSocket()",
        value: `${fmt(median(one))} trips/s`,
        ratio: `${median(one.map((x, i) => x / own[i])).toFixed(2)}× ${ownName}`,
        target: "≥ 0.9",
      },
      {
        section: "(i) WebSocket echo, 50 clients",
        runtime,
        what: "serve(), processes 2 (client unpinned, on the same 2 cores)",
        value: `${fmt(median(two))} trips/s`,
        ratio: `${median(two.map((x, i) => x / one[i])).toFixed(2)}× 1 isolate`,
      },
    );
  }
  return rows;
}
