/**
 * The peer srvx, one process, on whichever runtime runs this file (its adapter for that
 * runtime). Args: port, app ("hello" | "cpu"). Answers with srvx's `FastResponse`, as srvx
 * advises for speed (on Node a Response it can write without building a whole one; on Deno
 * and Bun the global Response).
 */
import process from "node:process";
import { FastResponse, serve } from "srvx";
import { burn } from "./cpu.ts";

const [port, app] = process.argv.slice(2);
const server = serve({
  port: Number(port),
  hostname: "127.0.0.1",
  silent: true,
  fetch: app === "cpu" ? () => new FastResponse(`done ${burn()}`) : () => new FastResponse("Hello, World!"),
});
await server.ready();
console.log("listening on");
