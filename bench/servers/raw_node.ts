/**
 * Baselines on Node. Args: port, app ("hello" | "cpu" | "bytes"), kind:
 * "http" (node:http alone), "bridge" (node:http + @hono/node-server, what serve() uses),
 * "cluster" (hand-written node:cluster, 2 workers, with the bridge); under pm2 (BENCH_PM2 set),
 * BENCH_PORT and BENCH_APP, the bridge in each instance. With BENCH_TLS_CERT and
 * BENCH_TLS_KEY set, the bridge serves HTTPS with those files: node:https, or with BENCH_H2
 * set node:http2's secure server, HTTP/2 by ALPN beside HTTP/1.1 (as serve() offers it).
 */
import { getRequestListener } from "@hono/node-server";
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createSecureServer } from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import process from "node:process";
import { bytes } from "./bytes.ts";
import { burn } from "./cpu.ts";

// Under pm2 (cluster mode) the arguments come by environment: pm2 runs the file itself.
const [port, app, kind] = process.env.BENCH_PM2 === undefined
  ? process.argv.slice(2)
  : [process.env.BENCH_PORT, process.env.BENCH_APP, "pm2"];
const body = () => (app === "cpu" ? `done ${burn()}` : "Hello, World!");
const listen = (server: ReturnType<typeof createServer>) =>
  server.listen(Number(port), "127.0.0.1", () => {
    if (!cluster.isWorker || kind === "pm2") console.log("listening on");
    else process.send!("up");
  });

if (kind === "cluster" && cluster.isPrimary) {
  let up = 0;
  for (let i = 0; i < 2; i++) {
    cluster.fork().on("message", () => ++up === 2 && console.log("listening on"));
  }
} else if (kind === "http") {
  listen(createServer((_req, res) => res.end(body())));
} else if (app === "bytes") {
  listen(createServer(getRequestListener(bytes)));
} else if (process.env.BENCH_TLS_CERT && process.env.BENCH_TLS_KEY) {
  const tls = {
    cert: readFileSync(process.env.BENCH_TLS_CERT, "utf8"),
    key: readFileSync(process.env.BENCH_TLS_KEY, "utf8"),
  };
  const listener = getRequestListener(() => new Response(body()));
  const server = process.env.BENCH_H2
    ? createSecureServer({ ...tls, allowHTTP1: true }, listener)
    : createHttpsServer(tls, listener);
  listen(server as unknown as ReturnType<typeof createServer>);
} else {
  listen(createServer(getRequestListener(() => new Response(body()))));
}
