/**
 * The peer srvx, one process, on whichever runtime runs this file (its adapter for that
 * runtime). Args: port, app ("hello" | "cpu").
 */
import process from "node:process";
import { serve } from "srvx";
import { burn } from "./cpu.ts";

const [port, app] = process.argv.slice(2);
const server = serve({
  port: Number(port),
  hostname: "127.0.0.1",
  silent: true,
  fetch: app === "cpu" ? () => new Response(`done ${burn()}`) : () => new Response("Hello, World!"),
});
await server.ready();
console.log("listening on");
