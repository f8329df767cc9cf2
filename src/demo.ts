/**
 * The built-in demo app, served when the CLI is given no module. Its page asks the server
 * many times over fresh connections and shows which workers answered.
 *
 * @module
 */
import { pid } from "./host.ts";
import { detectRuntime } from "./runtime.ts";
import { workerId } from "./serve.ts";

/** Different in every isolate: top-level code runs once per worker. */
const isolate = crypto.randomUUID().slice(0, 8);

function whoami() {
  return { worker: workerId() ?? "main", pid: pid(), isolate, runtime: detectRuntime() };
}

const page = (me: ReturnType<typeof whoami>) =>
  `<!doctype html>
<meta charset="utf-8"><title>multiserve demo</title>
<style>body{font:16px system-ui;margin:2rem auto;max-width:40rem}td,th{padding:.2rem .8rem;text-align:left}</style>
<h1>multiserve demo</h1>
<p>This page came from worker <b>${me.worker}</b> (pid ${me.pid}, isolate ${me.isolate}) on ${me.runtime}.</p>
<p>Below, 40 requests each on a new connection, counted by the worker that answered:</p>
<table id="t"><tr><th>worker</th><th>pid</th><th>isolate</th><th>answers</th></tr></table>
<script type="module">
const seen = new Map();
await Promise.all(Array.from({ length: 40 }, async () => {
  const me = await (await fetch("/whoami", { cache: "no-store" })).json();
  const key = me.worker + " " + me.pid + " " + me.isolate;
  seen.set(key, (seen.get(key) ?? 0) + 1);
}));
for (const [key, n] of [...seen].sort()) {
  const row = document.getElementById("t").insertRow();
  for (const cell of [...key.split(" "), n]) row.insertCell().textContent = cell;
}
</script>`;

export default {
  fetch(request: Request): Response {
    const { pathname } = new URL(request.url);
    if (pathname === "/whoami") {
      // "close" puts the next request on a new connection, which the kernel may give to another worker.
      return Response.json(whoami(), { headers: { connection: "close" } });
    }
    if (pathname === "/") {
      return new Response(page(whoami()), { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    return new Response("Not Found", { status: 404 });
  },
};
