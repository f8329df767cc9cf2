/**
 * What PROXY protocol support would cost on Bun, where Bun.serve owns the accept: a front
 * socket (Bun.listen) reads each connection's PROXY v2 header, then relays every byte both
 * ways to an internal Bun.serve on a loopback port, and the client is looked up by the
 * relaying connection's port (`server.requestIP()`). Hello world, as raw_bun.ts serves it.
 * Args: port. A measurement, not a server to deploy: no backpressure, v2 headers only, whole
 * in the first read.
 */
import process from "node:process";

interface RelaySocket {
  data: { upstream?: RelaySocket; pending: Uint8Array[]; header: boolean; client?: string };
  write(bytes: Uint8Array): number;
  end(): void;
  readonly localPort: number;
}
// Typed locally so tsc and Deno check this file too.
const Bun = (globalThis as unknown as {
  Bun: {
    serve(options: {
      port: number;
      hostname: string;
      fetch(r: Request, server: { requestIP(r: Request): { port: number } | null }): Response;
    }): { port: number };
    listen(options: {
      hostname: string;
      port: number;
      socket: {
        open(socket: RelaySocket): void;
        data(socket: RelaySocket, bytes: Uint8Array): void;
        close(socket: RelaySocket): void;
      };
    }): unknown;
    connect(options: {
      hostname: string;
      port: number;
      socket: {
        data(socket: RelaySocket, bytes: Uint8Array): void;
        close(socket: RelaySocket): void;
      };
    }): Promise<RelaySocket>;
  };
}).Bun;

const [port] = process.argv.slice(2);
/** The relaying connection's local port → the client its PROXY header named. */
const clients = new Map<number, string>();
const inner = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: (request, server) => {
    // What the request info would do for remoteAddr: the client behind this relaying connection.
    void clients.get(server.requestIP(request)?.port ?? 0);
    return new Response("Hello, World!");
  },
});
Bun.listen({
  hostname: "127.0.0.1",
  port: Number(port),
  socket: {
    open(socket) {
      socket.data = { pending: [], header: true };
    },
    data(socket, bytes) {
      const state = socket.data;
      if (state.header) {
        state.header = false;
        const length = 16 + ((bytes[14] << 8) | bytes[15]);
        state.client = bytes.subarray(16, 20).join(".");
        bytes = bytes.subarray(length);
        Bun.connect({
          hostname: "127.0.0.1",
          port: inner.port,
          socket: {
            data: (_upstream, answer) => void socket.write(answer),
            close: () => socket.end(),
          },
        }).then((upstream) => {
          clients.set(upstream.localPort, state.client!);
          state.upstream = upstream;
          for (const chunk of state.pending) upstream.write(chunk);
          state.pending = [];
        });
      }
      if (bytes.length === 0) return;
      if (state.upstream) state.upstream.write(bytes);
      else state.pending.push(bytes.slice());
    },
    close(socket) {
      const upstream = socket.data.upstream;
      if (upstream === undefined) return;
      clients.delete(upstream.localPort);
      upstream.end();
    },
  },
});
console.log("listening on");
