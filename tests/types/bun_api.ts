/**
 * Holds the slice of Bun's API in `adapters/_bun_api.ts` to Bun's own types (`bun-types`, at
 * the version of the `bun` devDependency), member by member. Type-checked on its own
 * (`tsconfig.bun.json`, part of `npm run typecheck`), since Bun's globals clash with Node's
 * and Deno's; nothing runs it.
 *
 * - A value: the same type in both.
 * - A method the adapter calls: every call the slice allows, Bun's types allow, and Bun's
 *   result is what the slice says. (The slice may take less: `send` takes the typed arrays
 *   and DataViews an app sends, where Bun's types take any of its own `BufferSource`.)
 * - A handler Bun calls: everything Bun's types say it passes, the slice's handler takes.
 *
 * @module
 */
import type * as ffi from "bun:ffi";
import type {
  BunApi,
  BunFfi,
  BunLibc,
  BunServer,
  BunSocket,
  BunWebSocketHandler,
} from "../../adapters/_bun_api.ts";

/** The same type, structurally: each assignable to the other. */
type Equal<A, B> = [A] extends [B] ? [B] extends [A] ? true : false : false;
type Fn = (...args: never[]) => unknown;
/** Calling `Slice` is calling `Real`: its arguments fit Real's, Real's result fits its own. */
type Calls<Slice extends Fn, Real extends Fn> = [Parameters<Slice>] extends [Parameters<Real>]
  ? [ReturnType<Real>] extends [ReturnType<Slice>] ? true : false
  : false;
/** Bun calling `Real` may call `Slice`: what Bun passes, the slice takes. */
type Called<Slice extends Fn, Real extends Fn> = [Parameters<Real>] extends [Parameters<Slice>] ? true
  : false;
function holds<_ extends true>(): void {}

type Server = Bun.Server<unknown>;
type Socket = Bun.ServerWebSocket<unknown>;
type Handler = Bun.WebSocketHandler<unknown>;

holds<Equal<BunServer["port"], Server["port"]>>();
holds<Calls<BunServer["requestIP"], Server["requestIP"]>>();
holds<Calls<BunServer["timeout"], Server["timeout"]>>();
holds<Calls<BunServer["upgrade"], Server["upgrade"]>>();
holds<Calls<BunServer["stop"], Server["stop"]>>();
holds<Calls<BunServer["closeIdleConnections"], Server["closeIdleConnections"]>>();
// The server Bun.serve returns is one the slice describes.
holds<[Server] extends [BunServer] ? true : false>();

holds<Equal<BunSocket["data"], Socket["data"]>>();
holds<Calls<BunSocket["send"], Socket["send"]>>();
holds<Calls<BunSocket["close"], Socket["close"]>>();
holds<Calls<BunSocket["terminate"], Socket["terminate"]>>();
holds<Calls<BunSocket["getBufferedAmount"], Socket["getBufferedAmount"]>>();
holds<[Socket] extends [BunSocket] ? true : false>();

holds<Called<NonNullable<BunWebSocketHandler["open"]>, NonNullable<Handler["open"]>>>();
holds<Called<NonNullable<BunWebSocketHandler["message"]>, NonNullable<Handler["message"]>>>();
holds<Called<NonNullable<BunWebSocketHandler["close"]>, NonNullable<Handler["close"]>>>();
holds<Equal<BunWebSocketHandler["maxPayloadLength"], Handler["maxPayloadLength"]>>();
holds<Equal<BunWebSocketHandler["idleTimeout"], Handler["idleTimeout"]>>();
holds<Equal<BunWebSocketHandler["sendPings"], Handler["sendPings"]>>();

holds<Equal<BunApi["version"], typeof Bun.version>>();
holds<Equal<BunApi["main"], typeof Bun.main>>();
holds<Equal<BunApi["isMainThread"], typeof Bun.isMainThread>>();
// The options the adapter passes, Bun.serve takes: on a port or a unix socket, with
// WebSockets or without. Where Bun's types forbid what Bun 1.4.5 does, the difference is
// taken out before comparing, and said here:
// - after an upgrade the adapter's fetch answers undefined, and Bun answers the request itself
//   (the example in Bun's own docs returns nothing there);
// - `idleTimeout` on a unix socket: Bun's types allow it on a port only, but Bun keeps it
//   there too (checked: an idle keep-alive connection closed after about 4 s with
//   idleTimeout 2, on a unix socket as on TCP).
// `http2` is Bun's on a port only, and the adapter passes it on a port only (with TLS, which
// a unix socket never has).
type Options = Parameters<BunApi["serve"]>[0];
type Answering = (request: Request, server: BunServer) => Response | Promise<Response>;
holds<Equal<Awaited<ReturnType<Options["fetch"]>>, Awaited<ReturnType<Answering>> | undefined>>();
type AsTyped<O> = Omit<O, "fetch" | "unix" | "hostname" | "port" | "reusePort" | "websocket"> & {
  fetch: Answering;
};
type Takes<O> = [O] extends [Parameters<typeof Bun.serve>[0]] ? true : false;
type OnPort = Pick<Options, "hostname" | "port" | "reusePort">;
type OnUnix = { unix: string };
holds<Takes<AsTyped<Options> & OnPort & { websocket: BunWebSocketHandler }>>();
holds<Takes<AsTyped<Options> & OnPort>>();
holds<Takes<Omit<AsTyped<Options>, "idleTimeout" | "http2"> & OnUnix & { websocket: BunWebSocketHandler }>>();
holds<Takes<Omit<AsTyped<Options>, "idleTimeout" | "http2"> & OnUnix>>();
holds<[ReturnType<typeof Bun.serve>] extends [ReturnType<BunApi["serve"]>] ? true : false>();

// bun:ffi (experimental in Bun): the libc table the adapter opens gives the calls its slice
// makes, and read.i32 reads errno as the slice says.
type Libc = BunFfi["dlopen"] extends (path: string, symbols: infer S) => unknown ? S : never;
type RealLibc = ReturnType<typeof ffi.dlopen<Libc>>["symbols"];
holds<Calls<BunLibc["socket"], RealLibc["socket"]>>();
holds<Calls<BunLibc["sendto"], RealLibc["sendto"]>>();
holds<Calls<BunLibc["close"], RealLibc["close"]>>();
holds<Calls<BunLibc["clock_gettime"], RealLibc["clock_gettime"]>>();
holds<Calls<BunLibc["__errno_location"], RealLibc["__errno_location"]>>();
holds<[Parameters<BunFfi["dlopen"]>] extends [Parameters<typeof ffi.dlopen<Libc>>] ? true : false>();
holds<Calls<BunFfi["read"]["i32"], typeof ffi.read.i32>>();
