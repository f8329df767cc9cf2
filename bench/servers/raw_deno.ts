/**
 * Baseline: Deno.serve on its own. Args: port, app ("hello" | "cpu" | "bytes"), kind:
 * "request" makes the hello handler take its request (Deno builds no Request for a handler
 * that takes none).
 */
import { bytes } from "./bytes.ts";
import { burn } from "./cpu.ts";

// Typed locally so tsc checks this file too.
const Deno = (globalThis as unknown as {
  Deno: {
    args: string[];
    serve(
      options: { port: number; hostname: string; onListen(): void },
      handler: (request: Request) => Response | Promise<Response>,
    ): unknown;
  };
}).Deno;
const [port, app, kind] = Deno.args;
const handler = app === "cpu"
  ? () => new Response(`done ${burn()}`)
  : app === "bytes"
  ? bytes
  : kind === "request"
  ? (_request: Request) => new Response("Hello, World!")
  : () => new Response("Hello, World!");
Deno.serve(
  { port: Number(port), hostname: "127.0.0.1", onListen: () => console.log("listening on") },
  handler,
);
