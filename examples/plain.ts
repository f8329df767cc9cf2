/**
 * A plain fetch handler in function form: `serve()` called from your own entry module.
 * Top-level code runs in every worker; `workerId()` tells the primary (undefined) apart.
 *
 *   npx deno run -A examples/plain.ts   |   npx bun examples/plain.ts   |   npx node examples/plain.ts
 */
import { serve, workerId } from "../mod.ts";

const server = serve(
  (request) => new Response(`Hello from worker ${workerId()}: ${new URL(request.url).pathname}\n`),
  { threaded: 2, processes: 2, port: 8000 },
);

if (workerId() === undefined) {
  await server.ready;
  console.log(`Try: curl ${server.url}`);
}
