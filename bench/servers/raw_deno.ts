/** Baseline: Deno.serve on its own. Args: port, app ("hello" | "cpu"). */
import { burn } from "./cpu.ts";

// Typed locally so tsc checks this file too.
const Deno = (globalThis as unknown as {
  Deno: {
    args: string[];
    serve(options: { port: number; hostname: string; onListen(): void }, handler: () => Response): unknown;
  };
}).Deno;
const [port, app] = Deno.args;
const handler = app === "cpu" ? () => new Response(`done ${burn()}`) : () => new Response("Hello, World!");
Deno.serve(
  { port: Number(port), hostname: "127.0.0.1", onListen: () => console.log("listening on") },
  handler,
);
