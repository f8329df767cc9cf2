/**
 * The upper bound of topic fan-out on one process: Bun's own `server.publish`, with the
 * protocol of pubsub_app.ts (`/ws` subscribes to "bench"; `/ws?role=pub` publishes). Arg: port.
 */
import process from "node:process";

/** A socket of Bun's, as this file uses it (typed here so that tsc and Deno check this file too). */
interface Socket {
  data: { publisher: boolean };
  subscribe(topic: string): void;
  publish(topic: string, data: string | Uint8Array): number;
}
const Bun = (globalThis as unknown as {
  Bun: {
    serve(options: {
      port: number;
      hostname: string;
      fetch(
        request: Request,
        server: { upgrade(r: Request, o: { data: unknown }): boolean },
      ): Response | undefined;
      websocket: { open(ws: Socket): void; message(ws: Socket, message: string | Uint8Array): void };
    }): unknown;
  };
}).Bun;

const port = Number(process.argv[2]);
Bun.serve({
  port,
  hostname: "127.0.0.1",
  fetch(request, server) {
    const publisher = new URL(request.url).searchParams.get("role") === "pub";
    if (server.upgrade(request, { data: { publisher } })) return undefined;
    return new Response("WebSocket only", { status: 426 });
  },
  websocket: {
    open(ws) {
      if (!ws.data.publisher) ws.subscribe("bench");
    },
    message(ws, message) {
      ws.publish("bench", message);
    },
  },
});
console.log(`listening on ${port}`);
