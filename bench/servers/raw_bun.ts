/**
 * Baseline: Bun.serve on its own. Args: port, app ("hello" | "cpu" | "bytes"). With
 * BENCH_TLS_CERT and BENCH_TLS_KEY set, HTTPS with those files, and HTTP/2 by ALPN beside
 * HTTP/1.1 (Bun's `http2` option), as serve() offers it.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { bytes } from "./bytes.ts";
import { burn } from "./cpu.ts";

// Typed locally so tsc and Deno check this file too.
const Bun = (globalThis as unknown as {
  Bun: {
    serve(
      options: {
        port: number;
        hostname: string;
        fetch(r: Request): Response | Promise<Response>;
        tls?: { cert: string; key: string };
        http2?: boolean;
      },
    ): unknown;
  };
}).Bun;
const [port, app] = process.argv.slice(2);
const fetch = app === "cpu"
  ? () => new Response(`done ${burn()}`)
  : app === "bytes"
  ? bytes
  : () => new Response("Hello, World!");
const { BENCH_TLS_CERT: certFile, BENCH_TLS_KEY: keyFile } = process.env;
const tls = certFile && keyFile
  ? { tls: { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") }, http2: true }
  : {};
Bun.serve({ port: Number(port), hostname: "127.0.0.1", fetch, ...tls });
console.log("listening on");
