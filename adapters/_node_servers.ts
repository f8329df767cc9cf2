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
  createServer as createH2cServer,
  type Http2SecureServer,
  type Http2Server,
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
  h2c: boolean,
  limits: ConnectionLimits,
  handler: (incoming: IncomingMessage, outgoing: ServerResponse) => void,
): Server | Http2SecureServer {
  if (tls === undefined) {
    const server = createServer(
      { ...options, ServerResponse: Http1Response as typeof ServerResponse },
      handler,
    );
    if (h2c) sniffPreface(server, options, limits, handler);
    return server;
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
    // HTTP/2's header limits, as HTTP/1's.
    ...http2Limits(limits),
  }, handler as unknown as Parameters<typeof createSecureServer>[1]);
  const open = keepSessions(server);
  server.on("secureConnection", (socket) => {
    open.sockets.add(socket);
    socket.once("close", () => open.sockets.delete(socket));
  });
  Object.assign(server, options, { [OPEN]: open });
  return server;
}

/** HTTP/2's settings from the limits, as HTTP/1's: pairs (with room for the pseudo-headers) and bytes. */
function http2Limits(limits: ConnectionLimits) {
  return {
    ...(limits.maxHeaderCount > 0 ? { maxHeaderListPairs: limits.maxHeaderCount + PSEUDO_HEADERS } : {}),
    ...(limits.maxHeaderSize > 0 ? { settings: { maxHeaderListSize: limits.maxHeaderSize } } : {}),
  };
}

/** The sessions of an HTTP/2 server, kept for closeGracefully() (it has no closeAllConnections()). */
function keepSessions(server: Http2SecureServer | Http2Server): OpenConnections {
  const open: OpenConnections = { sessions: new Set(), sockets: new Set(), draining: false };
  server.on("session", (session) => {
    open.sessions.add(session);
    session.once("close", () => open.sessions.delete(session));
    // A connection taken before the drain began can finish its TLS handshake after it: its
    // session is told GOAWAY as it opens, or its client would keep the worker to the deadline.
    if (open.draining) session.close();
  });
  return open;
}

/** What opens every HTTP/2 connection (RFC 9113 §3.4): the client's preface. */
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * h2c with prior knowledge beside HTTP/1.1 on `server`'s port: node:http2's plain server
 * speaks HTTP/2 alone, so each connection's first bytes are read here, and the connection
 * goes to a plain node:http2 server (with the same limits, responses and handler) when they
 * are HTTP/2's preface, else to `server`'s own HTTP/1.1 handling, the bytes put back. A
 * connection that sends nothing within the header timeout is closed, as HTTP/1.1's would be.
 */
function sniffPreface(
  server: Server,
  options: ServerOptions,
  limits: ConnectionLimits,
  handler: (incoming: IncomingMessage, outgoing: ServerResponse) => void,
): void {
  const h2 = createH2cServer({
    ...(options.IncomingMessage ? { Http1IncomingMessage: options.IncomingMessage } : {}),
    Http2ServerResponse: Http2Response as unknown as typeof Http2ServerResponse,
    ...http2Limits(limits),
  }, handler as unknown as Parameters<typeof createH2cServer>[1]);
  const open = keepSessions(h2);
  (server as { [OPEN]?: OpenConnections })[OPEN] = open;
  const http1 = server.listeners("connection") as ((socket: Socket) => void)[];
  server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    // Cut at the drain's deadline while undecided, and while HTTP/2's.
    open.sockets.add(socket);
    socket.once("close", () => open.sockets.delete(socket));
    let head: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), limits.headerTimeout * 1_000);
    const decide = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const length = Math.min(head.length, PREFACE.length);
      const preface = head.subarray(0, length).equals(PREFACE.subarray(0, length));
      if (preface && head.length < PREFACE.length) return; // more to come before deciding
      clearTimeout(timer);
      socket.off("data", decide);
      socket.off("close", closed);
      socket.pause();
      socket.unshift(head);
      // node:http2's session reads what is buffered itself; a resume would let it flow away.
      if (preface) return void h2.emit("connection", socket);
      // node:http's own from here (closeAllConnections() at the deadline).
      open.sockets.delete(socket);
      for (const listener of http1) listener.call(server, socket);
      socket.resume();
    };
    const closed = () => clearTimeout(timer);
    socket.on("data", decide);
    socket.once("close", closed);
  });
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
      // node:http's connections (h2c: those that were not HTTP/2), where it keeps them.
      if (typeof server.closeAllConnections === "function") server.closeAllConnections();
      if (open === undefined) return;
      for (const session of open.sessions) session.destroy();
      for (const socket of open.sockets) socket.destroy();
    }, timeoutMs);
  });
}
