/**
 * Response header fields that belong to a connection, not to a response (RFC 9110 §7.6.1),
 * kept off where Node would fail on them. An app sets them (Hono's `streamSSE()` says
 * `Transfer-Encoding: chunked`), or copies them from an upstream's response:
 *
 * - over HTTP/2, Node throws ERR_HTTP2_INVALID_CONNECTION_HEADERS for any of them, out of
 *   the bridge's `writeHead`, where nothing catches it: every one is dropped;
 * - over HTTP/1.1, Node frames the body itself, and an app's `Transfer-Encoding` beside the
 *   Content-Length the bridge adds breaks the response: it is dropped. (`Connection: close`
 *   and `Upgrade`, which mean something to an HTTP/1.1 client, stay.)
 *
 * Both are response classes Node's servers take as options, so that only `writeHead` pays.
 * They also count the body bytes they send, for the access log and `/metrics`, once the
 * recording stage asks (`whenSent`); unasked, a write pays one comparison. And which
 * responses are @hono/node-server's light ones, for the app boundary.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type OutgoingHttpHeaders, ServerResponse } from "node:http";
import { Http2ServerResponse } from "node:http2";

/** The fields an HTTP/2 response must not carry (what Node refuses). */
const CONNECTION_FIELDS = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

type Fields = OutgoingHttpHeaders | readonly string[] | undefined;

/** `fields` without those `drop` names (lower-case name, value); the same object when none. */
function without(fields: Fields, drop: (name: string, value: unknown) => boolean): Fields {
  if (fields === undefined || Array.isArray(fields)) return fields; // raw arrays: never from the bridge
  let kept: OutgoingHttpHeaders | undefined;
  for (const name in fields as OutgoingHttpHeaders) {
    if (!drop(name.toLowerCase(), (fields as OutgoingHttpHeaders)[name])) continue;
    kept ??= { ...fields as OutgoingHttpHeaders };
    delete kept[name];
  }
  return kept ?? fields;
}

/** Over HTTP/2: every connection-specific field, `TE` but "trailers", and those `Connection` names. */
function forHttp2(fields: Fields): Fields {
  const named = connectionNamed(fields);
  return without(
    fields,
    (name, value) =>
      CONNECTION_FIELDS.has(name) || (name === "te" && value !== "trailers") || named?.has(name) === true,
  );
}

/** The fields a `Connection` field names (besides the usual keep-alive and close). */
function connectionNamed(fields: Fields): Set<string> | undefined {
  if (fields === undefined || Array.isArray(fields)) return undefined;
  for (const name in fields as OutgoingHttpHeaders) {
    if (name.length !== 10 || name.toLowerCase() !== "connection") continue;
    const value = String((fields as OutgoingHttpHeaders)[name]);
    return new Set(value.split(",").map((token) => token.trim().toLowerCase()));
  }
  return undefined;
}

/** Told, once, the body bytes a response sent: when it ends, or its connection closes first. */
export type OnSent = (bytes: number) => void;

/** A chunk's bytes, as `write` and `end` take it (a callback in its place is no chunk). */
function sizeOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === "string") {
    return Buffer.byteLength(chunk, typeof encoding === "string" ? encoding as BufferEncoding : "utf8");
  }
  return (chunk as ArrayBufferView | null)?.byteLength ?? 0;
}

/**
 * What both response classes add to count what they send: the body bytes handed to `write`
 * and `end`, counted only once someone asked (`onSent`, set before the bridge writes), told
 * at `close`, which Node emits after the response ends and also when the connection goes
 * first. A body Node does not send (HEAD, 204, 304) counts 0.
 */
interface Counting {
  onSent?: OnSent;
  sent: number;
  /** In `end`, which may hand its chunk to `write` (HTTP/2's does): counted once. */
  ending: boolean;
}

function counted(response: Counting, chunk: unknown, encoding: unknown): void {
  if (response.onSent === undefined || response.ending || typeof chunk === "function") return;
  response.sent += sizeOf(chunk, encoding);
}

function told(response: Counting, method: string | undefined, status: number): void {
  const onSent = response.onSent!;
  response.onSent = undefined;
  onSent(method === "HEAD" || status === 204 || status === 304 ? 0 : response.sent);
}

/** HTTP/1.1 responses: an app's `Transfer-Encoding` is Node's to decide; bytes counted. */
export class Http1Response extends ServerResponse implements Counting {
  onSent?: OnSent;
  sent = 0;
  ending = false;
  // deno-lint-ignore no-explicit-any
  override writeHead(status: number, ...rest: any[]): this {
    const last = rest.length - 1;
    if (last >= 0 && typeof rest[last] === "object") {
      rest[last] = without(rest[last], (name) => name === "transfer-encoding");
    }
    return super.writeHead(status, ...rest);
  }
  // deno-lint-ignore no-explicit-any
  override write(chunk: any, ...rest: any[]): boolean {
    counted(this, chunk, rest[0]);
    return super.write(chunk, ...rest);
  }
  // deno-lint-ignore no-explicit-any
  override end(chunk?: any, ...rest: any[]): this {
    counted(this, chunk, rest[0]);
    this.ending = true;
    return super.end(chunk, ...rest);
  }
  // deno-lint-ignore no-explicit-any
  override emit(event: string | symbol, ...args: any[]): boolean {
    if (event === "close" && this.onSent !== undefined) told(this, this.req?.method, this.statusCode);
    return super.emit(event, ...args);
  }
}

/** HTTP/2 responses: no connection-specific field reaches the stream; bytes counted. */
export class Http2Response extends Http2ServerResponse implements Counting {
  onSent?: OnSent;
  sent = 0;
  ending = false;
  // deno-lint-ignore no-explicit-any
  override writeHead(status: number, ...rest: any[]): this {
    const last = rest.length - 1;
    if (last >= 0 && typeof rest[last] === "object") rest[last] = forHttp2(rest[last]);
    return super.writeHead(status, ...rest);
  }
  // deno-lint-ignore no-explicit-any
  override write(chunk: any, ...rest: any[]): boolean {
    counted(this, chunk, rest[0]);
    return super.write(chunk, ...rest);
  }
  // deno-lint-ignore no-explicit-any
  override end(chunk?: any, ...rest: any[]): this {
    counted(this, chunk, rest[0]);
    this.ending = true;
    return super.end(chunk, ...rest);
  }
  // deno-lint-ignore no-explicit-any
  override emit(event: string | symbol, ...args: any[]): boolean {
    if (event === "close" && this.onSent !== undefined) told(this, this.req?.method, this.statusCode);
    return super.emit(event, ...args);
  }
}

/**
 * Have `onSent` told the body bytes `outgoing` sends (one of the classes above; any other
 * response is told `undefined` at once: nothing counts it).
 */
export function whenSent(outgoing: unknown, onSent: (bytes: number | undefined) => void): void {
  if (outgoing instanceof Http1Response || outgoing instanceof Http2Response) {
    if (outgoing.onSent !== undefined) throw new Error("whenSent(): this response is counted already");
    outgoing.sent = 0;
    outgoing.onSent = onSent;
  } else onSent(undefined);
}

/** The symbol under which @hono/node-server's light Response keeps its parts; null if none. */
let lightParts: symbol | null | undefined;

/** A light Response of @hono/node-server's that still holds its parts (no full Response made). */
export function isLight(response: Response): boolean {
  if (lightParts === undefined) {
    lightParts = Object.getOwnPropertySymbols(new Response("")).find((s) => s.description === "cache") ??
      null;
  }
  return lightParts !== null && lightParts in response;
}
