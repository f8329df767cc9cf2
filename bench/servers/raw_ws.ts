/**
 * Baselines for WebSocket echo, each runtime's own way: Deno.serve + Deno.upgradeWebSocket,
 * Bun.serve's websocket handler, node:http + ws. Args: port.
 */
import { createServer } from "node:http";
import process from "node:process";
import { WebSocketServer } from "ws";

const port = Number(process.argv.at(-1));
const g = globalThis as unknown as {
  Deno?: {
    serve(o: { port: number; hostname: string; onListen(): void }, h: (r: Request) => Response): unknown;
    upgradeWebSocket(r: Request): { socket: WebSocket; response: Response };
  };
  Bun?: {
    serve(o: {
      port: number;
      hostname: string;
      fetch(r: Request, s: { upgrade(r: Request): boolean }): Response | undefined;
      websocket: { message(ws: { send(d: unknown): void }, m: unknown): void };
    }): unknown;
  };
};
if (g.Deno) {
  const Deno = g.Deno;
  Deno.serve({ port, hostname: "127.0.0.1", onListen: () => console.log("listening on") }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
} else if (g.Bun) {
  g.Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: (request, server) =>
      server.upgrade(request) ? undefined : new Response("ws only", { status: 426 }),
    websocket: { message: (ws, message) => ws.send(message) },
  });
  console.log("listening on");
} else {
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => ws.on("message", (data, binary) => ws.send(data, { binary })));
  const server = createServer((_request, response) => response.writeHead(426).end("ws only"));
  server.on(
    "upgrade",
    (request, socket, head) => wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws)),
  );
  server.listen(port, "127.0.0.1", () => console.log("listening on"));
}
