/**
 * Baseline: Deno.serve on its own. Args: port, app ("hello" | "cpu" | "bytes"), kind:
 * "request" makes the hello handler take its request (Deno builds no Request for a handler
 * that takes none). With BENCH_TLS_CERT and BENCH_TLS_KEY set, HTTPS with those files.
 */
import { bytes } from "./bytes.ts";
import { burn } from "./cpu.ts";

// Typed locally so tsc checks this file too.
const Deno = (globalThis as unknown as {
  Deno: {
    args: string[];
    env: { get(name: string): string | undefined };
    readTextFileSync(path: string): string;
    serve(
      options: { port: number; hostname: string; onListen(): void; cert?: string; key?: string },
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
const certFile = Deno.env.get("BENCH_TLS_CERT");
const keyFile = Deno.env.get("BENCH_TLS_KEY");
const tls = certFile && keyFile
  ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) }
  : {};
Deno.serve(
  { port: Number(port), hostname: "127.0.0.1", onListen: () => console.log("listening on"), ...tls },
  handler,
);
