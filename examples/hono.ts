/**
 * A Hono app in module form. Serve it on every core with (after npm ci, in this repository):
 *
 *   npx deno run -A cli.ts --threads auto examples/hono.ts
 *   npx bun cli.ts --processes 2 --threads 2 examples/hono.ts
 *   npx node cli.ts --processes auto examples/hono.ts
 */
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("Hello from Hono"));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id") }));
app.post("/echo", async (c) => c.body(await c.req.arrayBuffer()));

export default app;
