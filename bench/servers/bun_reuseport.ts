/**
 * The peer on Bun: two Bun processes binding one port with `reusePort` (the kernel spreads
 * the connections), each `Bun.serve` on its own, as Bun's docs suggest for more than one core.
 * Args: port, app ("hello" | "cpu"). Runs on Bun.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { burn } from "./cpu.ts";

// Typed locally so tsc and Deno check this file too.
const Bun = (globalThis as unknown as {
  Bun: {
    serve(
      options: { port: number; hostname: string; reusePort: boolean; fetch(r: Request): Response },
    ): unknown;
  };
}).Bun;
const [port, app] = process.argv.slice(2);
const PROCESSES = 2;

if (process.env.BENCH_REUSEPORT_CHILD) {
  Bun.serve({
    port: Number(port),
    hostname: "127.0.0.1",
    reusePort: true,
    fetch: app === "cpu" ? () => new Response(`done ${burn()}`) : () => new Response("Hello, World!"),
  });
  console.log("up");
} else {
  let up = 0;
  const children = Array.from({ length: PROCESSES }, () => {
    const child = spawn(process.execPath, [...process.argv.slice(1)], {
      env: { ...process.env, BENCH_REUSEPORT_CHILD: "1" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout!.on("data", () => ++up === PROCESSES && console.log("listening on"));
    return child;
  });
  process.on("SIGTERM", () => {
    for (const child of children) child.kill("SIGTERM");
    process.exit(0);
  });
}
