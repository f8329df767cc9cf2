/** Baseline: Bun.serve on its own. Args: port, app ("hello" | "cpu" | "bytes"). */
import process from "node:process";
import { bytes } from "./bytes.ts";
import { burn } from "./cpu.ts";

// Typed locally so tsc and Deno check this file too.
const Bun = (globalThis as unknown as {
  Bun: {
    serve(
      options: { port: number; hostname: string; fetch(r: Request): Response | Promise<Response> },
    ): unknown;
  };
}).Bun;
const [port, app] = process.argv.slice(2);
const fetch = app === "cpu"
  ? () => new Response(`done ${burn()}`)
  : app === "bytes"
  ? bytes
  : () => new Response("Hello, World!");
Bun.serve({ port: Number(port), hostname: "127.0.0.1", fetch });
console.log("listening on");
