/**
 * A Hono app in module form. Serve it on every core with:
 *
 *   deno run -A mod.ts --threads auto examples/hono.ts
 *   bun mod.ts --processes 2 --threads 2 examples/hono.ts
 *   node mod.ts --processes auto examples/hono.ts
 */
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("Hello from Hono"));
app.get("/users/:id", (c) => c.json({ id: c.req.param("id") }));
app.post("/echo", async (c) => c.body(await c.req.arrayBuffer()));

export default app;
