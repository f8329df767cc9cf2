/**
 * Deno serving with connection timeouts. `Deno.serve` has none: a client that connects and
 * never finishes its request head (slowloris), or an idle keep-alive connection, stays
 * open for good. So, where Deno offers it, we accept connections ourselves and hand each to
 * Deno's HTTP server for one connection (`serveHttpOnConnection`, the internal API its own
 * `node:http` is built on), which lets us time every connection and close it gracefully.
 *
 * @module
 */
import type { ConnectionLimits, ProxyProtocolOptions } from "../src/adapter.ts";
import { PROXY_FIRST_READ, readProxyHeader } from "../src/http/proxy_protocol.ts";
import type { DenoListener, DenoServeInfo } from "./_deno_api.ts";

/** How long a draining server waits for the first request of a connection it just accepted. */
const FRESH_GRACE_MS = 1_000;

/** What Deno's HTTP server on one connection returns. */
interface ConnectionServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** Deno's internal entry point, as its node:http uses it. */
export type ServeOnConnection = (
  connection: unknown,
  signal: AbortSignal | undefined,
  handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => ConnectionServer;

/** Deno's `serveHttpOnConnection`, or undefined in a Deno without it. */
export function serveOnConnection(deno: object): ServeOnConnection | undefined {
  const symbol = (deno as { internal?: symbol }).internal;
  const internals = symbol === undefined ? undefined : (deno as Record<symbol, unknown>)[symbol];
  const serve = (internals as { serveHttpOnConnection?: unknown } | undefined)?.serveHttpOnConnection;
  return typeof serve === "function" ? serve as ServeOnConnection : undefined;
}

/** The handler of one request, told whether its connection speaks HTTP/2. */
export type ConnectionHandler = (
  request: Request,
  info: DenoServeInfo,
  http2: boolean,
) => Response | Promise<Response>;

/** An accepted connection as Deno gives it: over TLS, with its handshake. */
interface DenoConn {
  readonly remoteAddr: { hostname?: string; port?: number };
  read(into: Uint8Array): Promise<number | null>;
  close(): void;
  handshake?: () => Promise<{ alpnProtocol: string | null }>;
}

/**
 * The client the PROXY header at the start of `socket` names (undefined: LOCAL or UNKNOWN),
 * or why there is none. A Deno connection cannot be given back what was read from it, and
 * Deno's HTTP server must get every byte after the header: so no read asks for more than the
 * header still holds for sure (12 bytes first, then what the header says it needs; a v1
 * line's tail a byte at a time).
 */
async function proxyHeaderOf(
  socket: DenoConn,
): Promise<{ source: DenoServeInfo["remoteAddr"] | undefined } | "malformed" | "closed"> {
  let read = new Uint8Array(0);
  let need = PROXY_FIRST_READ;
  for (;;) {
    const more = new Uint8Array(need);
    let got = 0;
    while (got < need) {
      const n = await socket.read(more.subarray(got));
      if (n === null) return read.length + got === 0 ? "closed" : "malformed";
      got += n;
    }
    const joined = new Uint8Array(read.length + need);
    joined.set(read);
    joined.set(more, read.length);
    read = joined;
    const header = readProxyHeader(read);
    if (header.kind === "bad") return "malformed";
    if (header.kind === "header") return { source: header.source };
    need = header.need;
  }
}

/** One accepted connection and its clock. */
interface Connection {
  socket: DenoConn;
  /** Deno's server on it; undefined while its TLS handshake goes on. */
  server: ConnectionServer | undefined;
  /** Requests whose response is not yet fully sent. */
  active: number;
  /** Responses fully sent. */
  served: number;
  /** When (ms since the epoch) the connection is closed unless a request arrives; 0 = never. */
  deadline: number;
  /** A response said `Connection: close`. */
  closeAfter: boolean;
}

/** `response`, noting on `connection` whether it asks to close the connection. */
function noteClose(connection: Connection, response: Response): Response {
  if (response.headers.get("connection") === "close") connection.closeAfter = true;
  return response;
}

/**
 * Serve `handler` on the connections `listener` accepts. A connection must finish its first
 * request head within `headerTimeout`, and after each response the next one within
 * `keepAliveTimeout`; else it is closed. Returns the graceful close, which resolves when
 * every connection has closed or `timeoutMs` has passed, and why accepting ended if it did
 * without that close.
 */
export function serveConnections(
  listener: DenoListener,
  serveOn: ServeOnConnection,
  handler: ConnectionHandler,
  onError: (error: unknown) => Response,
  limits: ConnectionLimits,
  proxy?: ProxyProtocolOptions,
): { close(timeoutMs: number): Promise<void>; readonly ended: string | undefined } {
  const connections = new Set<Connection>();
  let closing = false;
  let acceptEnded = false;
  let allClosed: (() => void) | undefined;

  const shutdown = (connection: Connection) => {
    connection.deadline = 0;
    if (connection.server === undefined) connection.socket.close(); // still in its TLS handshake
    else connection.server.shutdown().catch(() => {});
  };
  const forget = (connection: Connection) => {
    connections.delete(connection);
    if (connections.size === 0) allClosed?.();
  };
  // One clock for all connections, not a timer per request: a sweep every quarter of the
  // shorter timeout (at most each second) closes those past their deadline.
  const tick = Math.min(1_000, Math.max(50, Math.min(limits.headerTimeout, limits.keepAliveTimeout) * 250));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const connection of connections) {
      if (connection.deadline !== 0 && now >= connection.deadline) shutdown(connection);
    }
  }, tick);
  const serve = (
    connection: Connection,
    http2: boolean,
    client?: DenoServeInfo["remoteAddr"],
  ) => {
    const ended = () => {
      connection.active--;
      connection.served++;
      if (connection.active > 0) return;
      // Deno's server does not end a connection whose response says `Connection: close`
      // (refusals, draining): we do. Draining ends idle ones too.
      if (closing || connection.closeAfter) shutdown(connection);
      else connection.deadline = Date.now() + limits.keepAliveTimeout * 1_000;
    };
    const server = connection.server = serveOn(
      connection.socket,
      undefined,
      (request, info) => {
        connection.deadline = 0;
        connection.active++;
        info.completed.then(ended, ended);
        // The client a PROXY header named, in place of the peer Deno saw.
        const response = handler(
          request,
          client === undefined ? info : { remoteAddr: client, completed: info.completed },
          http2,
        );
        return response instanceof Promise
          ? response.then((ready) => noteClose(connection, ready))
          : noteClose(connection, response);
      },
      onError,
      () => {},
    );
    server.finished.catch(() => {}).then(() => forget(connection));
  };
  const track = (socket: DenoConn) => {
    const connection: Connection = {
      socket,
      server: undefined,
      active: 0,
      served: 0,
      // The TLS handshake, then the first request head, within headerTimeout.
      deadline: Date.now() + limits.headerTimeout * 1_000,
      closeAfter: false,
    };
    connections.add(connection);
    if (proxy !== undefined) return afterProxyHeader(connection);
    if (socket.handshake === undefined) return serve(connection, false);
    // Over TLS, ALPN may choose HTTP/2: the handshake comes first, so that each request can
    // be told (Deno's server would otherwise do it, and two at once fail with "Busy").
    socket.handshake().then(
      ({ alpnProtocol }) => {
        if (connection.deadline === 0) return forget(connection); // closed meanwhile
        serve(connection, alpnProtocol === "h2");
      },
      () => {
        // A client that failed its handshake: nothing was served.
        try {
          socket.close();
        } catch { /* closed already */ }
        forget(connection);
      },
    );
  };

  // Plain TCP only: over TLS the header would come before the handshake, which Deno's TLS
  // listener does as it accepts (the adapter refuses that).
  const afterProxyHeader = (connection: Connection) => {
    const { socket } = connection;
    const peer = socket.remoteAddr.hostname;
    const refuse = (reason: "untrusted" | "malformed" | "timeout" | "closed") => {
      if (reason !== "closed") proxy!.onRefused(reason);
      connection.deadline = 0;
      try {
        socket.close();
      } catch { /* closed already */ }
      forget(connection);
    };
    if (peer !== undefined && !proxy!.trust(peer)) return refuse("untrusted");
    // Its own clock (not the sweeper's), so that running out is told apart from a drain.
    connection.deadline = 0;
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      socket.close();
    }, proxy!.timeoutMs);
    proxyHeaderOf(socket).then(
      (header) => {
        clearTimeout(timer);
        if (typeof header === "string") return refuse(header);
        // Draining meanwhile: its first request gets the moment a fresh connection gets.
        connection.deadline = Date.now() + (closing ? FRESH_GRACE_MS : limits.headerTimeout * 1_000);
        serve(connection, false, header.source);
      },
      () => {
        clearTimeout(timer);
        refuse(late ? "timeout" : "closed");
      },
    );
  };

  const accepting = (async () => {
    // However accepting ends (the listening socket closed under us), the worker must hear.
    try {
      await acceptAll();
    } finally {
      acceptEnded = true;
    }
  })();
  async function acceptAll(): Promise<void> {
    while (!closing) {
      let socket: DenoConn;
      try {
        socket = await listener.accept() as DenoConn;
      } catch (error) {
        if (closing || (error as Error)?.name === "BadResource") return;
        // Out of file descriptors, say: keep accepting once some are free.
        console.error(`multiserve: accepting a connection failed: ${(error as Error)?.message}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      track(socket);
    }
  }

  const close = async (timeoutMs: number) => {
    closing = true;
    try {
      listener.close();
    } catch { /* closed already, under us: accepting has ended, which is what this is for */ }
    // An accept already under way may still hand us a connection: take it in before
    // counting what is left, or the isolate could end under it.
    await accepting;
    // Idle keep-alive connections close now. One that has not shown a request yet gets a
    // moment to (its answer then closes it): shutting it at once would drop a request
    // already on its way, which Deno.serve's own shutdown does (denoland/deno#31959).
    for (const connection of connections) {
      if (connection.active > 0) continue;
      if (connection.served > 0) shutdown(connection);
      else connection.deadline = Date.now() + Math.min(FRESH_GRACE_MS, timeoutMs);
    }
    if (connections.size > 0) {
      const settled = new Promise<void>((resolve) => (allClosed = resolve));
      let deadline: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([settled, new Promise((resolve) => (deadline = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(deadline);
    }
    clearInterval(sweeper);
    // Whatever is left past the deadline ends with the isolate, which comes next.
  };
  return {
    close,
    get ended() {
      return acceptEnded && !closing ? "its listening socket stopped accepting" : undefined;
    },
  };
}
