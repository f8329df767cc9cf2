/**
 * Requests on Node before the chain sees them: what llhttp lets through that other runtimes
 * refuse (checked on the raw field list Node already has, keeping the fields the guard
 * reads), and llhttp's own refusals answered as Node would while they are counted.
 *
 * @module
 */
import { type IncomingMessage, type Server, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { ConnectionLimits, Refused } from "../src/adapter.ts";
import { GUARD_FIELDS } from "../src/http/guard.ts";
import { PSEUDO_HEADERS } from "./_node_servers.ts";

/**
 * What llhttp lets through that other runtimes refuse: HTTP/0.9 and 2.0 request lines, a
 * chunked body over HTTP/1.0 (RFC 9112 §6.1: faulty framing), a missing or repeated Host,
 * more header fields than allowed (Node would drop the extra ones silently), and an HTTP/2
 * header list larger than allowed (node:http2 takes any).
 */
export function nodeRefusal(
  incoming: IncomingMessage,
  limits: ConnectionLimits,
): [number, string] | undefined {
  const version = incoming.httpVersion;
  // HTTP/2.0 is served only as real HTTP/2 (node:http2's request has a stream), not as an
  // HTTP/1 request line that says "HTTP/2.0".
  const h2 = version === "2.0" && "stream" in incoming;
  if (version !== "1.1" && version !== "1.0" && !h2) return [400, `HTTP/${version} is not served`];
  // The bridge builds a URL from the target: what it cannot parse would throw (a 500).
  if (incoming.url?.charCodeAt(0) !== SLASH) {
    const problem = targetProblem(incoming);
    if (problem !== undefined) return [400, problem];
  }
  const raw = incoming.rawHeaders;
  if (limits.maxHeaderCount > 0 && raw.length > (limits.maxHeaderCount + (h2 ? PSEUDO_HEADERS : 0)) * 2) {
    return [431, `more than ${limits.maxHeaderCount} header fields`];
  }
  // node:http2 sends maxHeaderSize to the client (SETTINGS_MAX_HEADER_LIST_SIZE) but holds it
  // to nothing: an HTTP/2 header list is measured here as an HTTP/1 head would carry it, the
  // pseudo-headers for its request line (llhttp bounds HTTP/1's head itself).
  if (h2 && limits.maxHeaderSize > 0 && headSize(raw) > limits.maxHeaderSize) {
    return [431, `the request head is larger than ${limits.maxHeaderSize} bytes`];
  }
  // One pass over the raw fields, keeping those the guard asks for: cheaper than
  // `incoming.headers`, which Node builds on first use. Node would also keep only the
  // first of several Host fields, so they are counted here.
  const fields: Record<string, string> = {};
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (!GUARD_FIELD_LENGTHS.has(name.length)) continue;
    const lower = name.toLowerCase();
    if (!GUARD_FIELD_NAMES.has(lower)) continue;
    if (lower === "host") hosts++;
    fields[lower] = fields[lower] === undefined ? raw[i + 1] : `${fields[lower]}, ${raw[i + 1]}`;
  }
  // HTTP/2 names the host in :authority (RFC 9113 §8.3.1), which Host may repeat.
  if (h2 && hosts === 0 && (incoming as unknown as { authority?: string }).authority) {
    fields.host = (incoming as unknown as { authority: string }).authority;
    hosts = 1;
  }
  if (hosts === 0 || fields.host === "") return [400, "the request has no Host header"];
  if (hosts > 1) return [400, "the request has more than one Host header"];
  if (version === "1.0" && fields["transfer-encoding"] !== undefined) {
    return [400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"];
  }
  (incoming as GuardedIncoming)[FIELDS] = fields;
  return undefined;
}

const SLASH = 47;

/** Bytes of a raw field list as lines of a head: each name and value, ": " and CRLF. */
function headSize(raw: string[]): number {
  let size = raw.length * 2;
  for (const item of raw) size += item.length;
  return size;
}

/** The fields nodeRefusal() kept for the guard. */
export const fieldsOf = (incoming: IncomingMessage) => (incoming as GuardedIncoming)[FIELDS]!;

/** GET and HEAD requests have no content a Request could carry. */
export const hasBodyMethod = (incoming: IncomingMessage) =>
  incoming.method !== "GET" && incoming.method !== "HEAD";

/**
 * What is wrong with a request target other than a path (RFC 9112 §3.2): `*` is for
 * OPTIONS alone (the app sees it as the path `/*`, as on Deno), and an absolute URI must
 * parse; nothing else (authority-form is for CONNECT, which is not served) is served.
 */
function targetProblem(incoming: IncomingMessage): string | undefined {
  const target = incoming.url ?? "";
  if (target === "*") {
    if (incoming.method !== "OPTIONS") return "only OPTIONS may have * as its target";
    incoming.url = "/*";
    return undefined;
  }
  if (/^https?:\/\//i.test(target) && URL.canParse(target)) return undefined;
  return "the request target is not a path or an absolute http URI";
}

/** Every header field the guard reads: its own list (src/http/guard.ts). */
export const GUARD_FIELD_NAMES: ReadonlySet<string> = new Set(GUARD_FIELDS);
const GUARD_FIELD_LENGTHS = new Set(GUARD_FIELDS.map((name) => name.length));
const FIELDS = Symbol("multiserve.fields");
type GuardedIncoming = IncomingMessage & { [FIELDS]?: Record<string, string> };

/** A connection as Node's http server keeps it: the response in progress, if any. */
type ParsingSocket = Socket & { _httpMessage?: { _headerSent?: boolean } | null };

/**
 * Answer what llhttp refuses as Node itself would (431 for a head too large, 408 for one
 * too slow, 400 otherwise, when nothing was written yet), and tell `onRefused` (when the
 * refusals are counted or logged). Bytes pipelined after a request that closes the
 * connection are ignored while that request's response is under way, where Node would
 * answer them with a 400 in its place.
 */
export function answerParseErrors(server: Server, onRefused: ((refused: Refused) => void) | undefined): void {
  server.on("clientError", (error: Error & { code?: string }, socket: ParsingSocket) => {
    // Bytes after a request that closes its connection (`Connection: close`, or HTTP/1.0
    // without keep-alive): RFC 9112 §9.6 has the server answer that request, close, and
    // process nothing after it. llhttp calls the bytes an error, and Node would write a 400 in
    // place of the answer still to come (the app's, when it answers asynchronously); the
    // response under way closes the connection when it ends.
    if (error.code === "HPE_CLOSED_CONNECTION" && socket._httpMessage) return;
    const status = error.code === "HPE_HEADER_OVERFLOW"
      ? 431
      : error.code === "HPE_CHUNK_EXTENSIONS_OVERFLOW"
      ? 413
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? 408
      : 400;
    // Node's own test: no response of this connection has begun.
    if (socket.writable && socket._httpMessage?._headerSent !== true) {
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
      onRefused?.({ status, method: "", target: "", remote: socket.remoteAddress ?? "" });
    }
    socket.destroy(error);
  });
}
