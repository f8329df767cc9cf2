/**
 * Node's servers, made and closed: node:http's, or over TLS node:http2's with HTTP/1.1 beside
 * it (node:https's with HTTP/2 off); who decides which requests upgrade (on a Node older than
 * 22.21 and 24.9, a request class); and the graceful close, GOAWAY to HTTP/2 sessions included.
 *
 * @module
 */
import {
  createServer,
  IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from "node:http";
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from "node:http2";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { ConnectionLimits, TlsPem } from "../src/adapter.ts";
import { Http1Response, Http2Response } from "./_node_responses.ts";

/**
 * The server: node:http's, or over TLS node:http2's, which speaks HTTP/2 to a client that
 * asks for it by ALPN and HTTP/1.1 to the rest (`allowHTTP1`), as Deno does. Its HTTP/1.1
 * connections go through node:http's own connection handling, which reads the HTTP/1
 * options (timeouts, header size, upgrades) from the server object: they are set there.
 * With `http2` false, node:https's (node:http2's would offer `h2` whatever it is told), whose
 * ALPN offers HTTP/1.1 alone.
 */
export function serverOf(
  options: ServerOptions,
  tls: TlsPem | undefined,
  http2: boolean,
  limits: ConnectionLimits,
  handler: (incoming: IncomingMessage, outgoing: ServerResponse) => void,
): Server | Http2SecureServer {
  if (tls === undefined) {
    return createServer({ ...options, ServerResponse: Http1Response as typeof ServerResponse }, handler);
  }
  if (!http2) {
    return createHttpsServer(
      { ...tls, ...options, ServerResponse: Http1Response as typeof ServerResponse },
      handler,
    );
  }
  const server = createSecureServer({
    ...tls,
    allowHTTP1: true,
    ...(options.IncomingMessage ? { Http1IncomingMessage: options.IncomingMessage } : {}),
    // Typed as the classes they extend: @types/node's generics cannot see the two are alike.
    Http1ServerResponse: Http1Response as typeof ServerResponse,
    Http2ServerResponse: Http2Response as unknown as typeof Http2ServerResponse,
    // HTTP/2's header limits, as HTTP/1's: pairs (with room for the four pseudo-headers) and bytes.
    ...(limits.maxHeaderCount > 0 ? { maxHeaderListPairs: limits.maxHeaderCount + PSEUDO_HEADERS } : {}),
    ...(limits.maxHeaderSize > 0 ? { settings: { maxHeaderListSize: limits.maxHeaderSize } } : {}),
  }, handler as unknown as Parameters<typeof createSecureServer>[1]);
  // It has no closeAllConnections(): what closeGracefully() must tell and cut, kept here.
  const open: OpenConnections = { sessions: new Set(), sockets: new Set(), draining: false };
  server.on("session", (session) => {
    open.sessions.add(session);
    session.once("close", () => open.sessions.delete(session));
    // A connection taken before the drain began can finish its TLS handshake after it: its
    // session is told GOAWAY as it opens, or its client would keep the worker to the deadline.
    if (open.draining) session.close();
  });
  server.on("secureConnection", (socket) => {
    open.sockets.add(socket);
    socket.once("close", () => open.sockets.delete(socket));
  });
  Object.assign(server, options, { [OPEN]: open });
  return server;
}

/** Does Node take `shouldUpgradeCallback` (22.21, 24.9)? Its servers then have one. */
export const nodeDecidesUpgrades =
  typeof (createServer() as { shouldUpgradeCallback?: unknown }).shouldUpgradeCallback === "function";

/** Is this upgrade request one to upgrade: a WebSocket, while WebSockets are on? */
export function upgrades(incoming: IncomingMessage, limits: ConnectionLimits): boolean {
  return limits.maxWebSockets > 0 && incoming.headers.upgrade?.toLowerCase() === "websocket";
}

/**
 * `shouldUpgradeCallback` for a Node without it, which hands every request with an Upgrade
 * header to the upgrade listeners: there @hono/node-server's would leave any but a WebSocket
 * unanswered (its connection, taken from the HTTP server, then holds a graceful stop for
 * ever), and accept WebSockets that are off. Node reads the request's `upgrade` after
 * setting its headers, and serves it as a plain request when false, as it does when no one
 * listens for upgrades: this class answers with `decide`. CONNECT stays an upgrade, as Node
 * keeps it with the callback (no one listens: its connection is closed).
 */
export function upgradeDecidedBy(decide: (incoming: IncomingMessage) => boolean): typeof IncomingMessage {
  const asked = Symbol("multiserve.upgrade");
  type Asking = IncomingMessage & { [asked]?: boolean };
  return class extends IncomingMessage {
    // Kept under a symbol, not in a field: Node's constructor sets `upgrade` before this
    // class's fields would exist, and a field would hide the accessor.
    get upgrade(): boolean {
      const value = (this as Asking)[asked] === true;
      return value && (this.method === "CONNECT" || decide(this));
    }
    set upgrade(value: boolean) {
      (this as Asking)[asked] = value;
    }
  };
}

/** `:method`, `:scheme`, `:path` and `:authority`. */
export const PSEUDO_HEADERS = 4;
/** The HTTP/2 sessions and TLS sockets a node:http2 server has open. */
interface OpenConnections {
  sessions: Set<ServerHttp2Session>;
  sockets: Set<Socket>;
  /** closeGracefully() has begun: a session that opens now is told GOAWAY at once. */
  draining: boolean;
}
const OPEN = Symbol("multiserve.open");

/**
 * Stop accepting, let in-flight requests end, cut what is left after `timeoutMs`. HTTP/2
 * sessions are told GOAWAY at once, and so is one that opens later on a connection taken
 * before (their clients open no new streams, and reconnect for the next request); they are
 * destroyed at the deadline with the HTTP/1.1 connections.
 */
export function closeGracefully(server: ReturnType<typeof createServer>, timeoutMs: number): Promise<void> {
  const open = (server as { [OPEN]?: OpenConnections })[OPEN];
  return new Promise((resolve) => {
    server.close(() => {
      clearInterval(idle);
      clearTimeout(deadline);
      resolve();
    });
    if (open !== undefined) open.draining = true;
    for (const session of open?.sessions ?? []) session.close();
    // Keep-alive connections go idle after their response: close them as they do.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      if (open === undefined) return server.closeAllConnections();
      for (const session of open.sessions) session.destroy();
      for (const socket of open.sockets) socket.destroy();
    }, timeoutMs);
  });
}
