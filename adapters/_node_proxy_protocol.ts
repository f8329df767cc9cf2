/**
 * The PROXY protocol on Node: each connection's header read off the raw socket before
 * node:http's (or the TLS server's) own connection handling sees it, the rest given back
 * (`unshift`), and the client it names made the socket's peer.
 *
 * @module
 */
import type { Server as NetServer, Socket } from "node:net";
import { Server as TlsServer, type TLSSocket } from "node:tls";
import type { ProxyProtocolOptions } from "../src/adapter.ts";
import { readProxyHeader } from "../src/http/proxy_protocol.ts";
import type { RemoteAddr } from "../src/types.ts";

/** Where a raw socket keeps the client its header named, for the TLS socket made over it. */
const SOURCE = Symbol("multiserve.proxySource");
type Proxied = Socket & { [SOURCE]?: RemoteAddr };

/**
 * Make `socket` name `client` as its peer: `remoteAddress`, `remotePort` and `remoteFamily`
 * (which node:http, Hono's getConnInfo and the adapter read) all come from the peer a
 * socket keeps once looked up (`_peername`, in node:net since its first versions), so one
 * write there names it; redefining the three properties cost each connection a new shape.
 */
function nameClient(socket: Socket, { hostname, port }: RemoteAddr): void {
  (socket as Socket & { _peername?: unknown })._peername = {
    address: hostname,
    family: hostname.includes(":") ? "IPv6" : "IPv4",
    port,
  };
}

/**
 * Put the PROXY header reading in front of `server`'s own connection handling: its
 * `connection` listeners (node:http's parser, or the TLS server's handshake) get a socket
 * only once its header was read whole, from a trusted peer, in time; the rest is closed with
 * nothing sent, as HAProxy's `accept-proxy` does. A connection sending nothing at all before
 * it closes is not counted (a port probe).
 */
export function readProxyHeaders(
  server: NetServer,
  { trust, timeoutMs, onRefused }: ProxyProtocolOptions,
): void {
  const handlers = server.listeners("connection") as ((socket: Socket) => void)[];
  // Over TLS, requests see the TLS socket, which asks its own handle for the peer: it is
  // told the client as its handshake ends, before the HTTP servers' own listeners run.
  if (server instanceof TlsServer) {
    server.prependListener("secureConnection", (secure: TLSSocket) => {
      const source = (secure as TLSSocket & { _parent?: Proxied })._parent?.[SOURCE];
      if (source !== undefined) nameClient(secure, source);
    });
  }
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    const peer = socket.remoteAddress;
    // A unix socket's peer (no address) is trusted, as for X-Forwarded-For: its file
    // permissions admit only local processes.
    if (peer !== undefined && !trust(peer)) {
      onRefused("untrusted");
      socket.destroy();
      return;
    }
    let read: Buffer | undefined;
    const refuse = (reason: "malformed" | "timeout") => {
      done();
      onRefused(reason);
      socket.destroy();
    };
    const timer = setTimeout(() => refuse("timeout"), timeoutMs);
    const onEnd = () => {
      done();
      if (read !== undefined) onRefused("malformed");
      socket.destroy();
    };
    const onError = () => {
      done();
      socket.destroy();
    };
    // Paused mode ('readable', read()): nothing is emitted that no one listens to, and once
    // the listener is gone the stream is neither flowing nor paused, as a fresh socket is.
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        read = read === undefined ? chunk : Buffer.concat([read, chunk]);
        const header = readProxyHeader(read);
        if (header.kind === "more") continue;
        if (header.kind === "bad") return refuse("malformed");
        done();
        if (header.source !== undefined) {
          (socket as Proxied)[SOURCE] = header.source;
          nameClient(socket, header.source);
        }
        if (read.length > header.length) socket.unshift(read.subarray(header.length));
        for (const handler of handlers) handler.call(server, socket);
        return;
      }
    };
    function done() {
      clearTimeout(timer);
      socket.off("readable", onReadable);
      socket.off("end", onEnd);
      socket.off("error", onError);
    }
    socket.on("readable", onReadable);
    socket.on("end", onEnd);
    socket.on("error", onError);
  });
}
