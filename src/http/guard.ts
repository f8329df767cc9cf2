/**
 * The checks a request passes before the app sees it, so that an app answers alike on
 * Deno, Bun and Node: what one runtime's parser lets through (a missing or doubled Host, a
 * repeated Content-Length) is refused here, and the size and concurrency limits hold on
 * every runtime. What a runtime's parser (with its adapter) already refuses is not checked
 * again: the adapter says so in `NativeChecks`.
 *
 * @module
 */
import type { NativeChecks } from "../adapter.ts";
import type { Config } from "../settings.ts";
import type { FetchHandler } from "../types.ts";
import { limitBody } from "./body.ts";
import { refusal } from "./refusal.ts";
import type { ForwardableInfo } from "./request_info.ts";

/** The limits the guard enforces. */
export type RequestLimits = Pick<
  Config,
  "maxBodySize" | "maxHeaderSize" | "maxHeaderCount" | "maxUrlLength" | "maxConcurrency"
>;

/** The header fields the guard looks at; the others it hands on to the next stages. */
export interface Fields {
  host: string | null;
  contentLength: string | null;
  transferEncoding: string | null;
  /** `Upgrade`: "websocket" asks for a WebSocket. */
  upgrade: string | null;
  /** The proxy headers (null unless `forwardedHeaders` lists them and some peer is trusted). */
  forwardedFor: string | null;
  forwardedProto: string | null;
  /** RFC 7239 `Forwarded`. */
  forwarded: string | null;
  forwardedHost: string | null;
  forwardedPort: string | null;
}

/** The proxy header fields the guard reads when asked to, by `Fields` key. */
const PROXY_FIELDS = {
  forwardedFor: "x-forwarded-for",
  forwardedProto: "x-forwarded-proto",
  forwarded: "forwarded",
  forwardedHost: "x-forwarded-host",
  forwardedPort: "x-forwarded-port",
} as const;
type ProxyField = keyof typeof PROXY_FIELDS;

/**
 * The names of the header fields the guard reads (`Fields`), lower case: the one list, which
 * an adapter that collects them itself (Node's, from llhttp's raw list) takes too.
 */
export const GUARD_FIELDS: readonly string[] = [
  "host",
  "content-length",
  "transfer-encoding",
  "upgrade",
  "x-forwarded-for",
  "x-forwarded-proto",
  "forwarded",
  "x-forwarded-host",
  "x-forwarded-port",
];

/** What comes after the guard: handed the fields it read. */
export type AfterGuard = (
  request: Request,
  info: ForwardableInfo,
  fields: Fields,
) => Response | Promise<Response>;

/** What walking every field found besides `Fields`. */
interface Walked extends Fields {
  count: number;
  /** Bytes of the field lines. */
  size: number;
}

const DIGITS = /^\d+$/;
/** A name whose last label starts with a letter, so is no IPv4 number: always a valid host. */
const NAME = /^(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*\.?$/;
/** A dotted-quad IPv4 address. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** The authority last found valid: a keep-alive client, or a proxy, sends the same one again. */
let lastValidAuthority = "";

/**
 * Does `url` (authority from `start` to `end`) parse? Deno and Bun build it from the Host as
 * it came ("http://[bad/", "http://a b/"), and an app's `new URL(request.url)` would throw
 * on it: a 500 for the client's bytes. A common name or IPv4 address with a port passes two
 * short patterns; any other authority (IPv6, punycode, a number out of range) is parsed whole.
 */
function validAuthority(url: string, start: number, end: number): boolean {
  const authority = url.slice(start, end);
  if (authority === lastValidAuthority) return true;
  const colon = authority.lastIndexOf(":");
  const host = colon === -1 ? authority : authority.slice(0, colon);
  const port = colon === -1 ? "" : authority.slice(colon + 1);
  const plain = (port === "" || (port.length <= 5 && DIGITS.test(port) && Number(port) <= 65_535)) &&
    !host.includes("xn--") && (NAME.test(host) || IPV4.test(host));
  if (!plain && !URL.canParse(url)) return false;
  lastValidAuthority = authority;
  return true;
}

/**
 * `next` behind the checks and limits. `proxyHeaders`: the proxy headers (lower case) to read
 * for the next stage, among those `Fields` has (none when no peer is trusted); the others
 * stay null, unread.
 */
export function guard(
  next: AfterGuard,
  limits: RequestLimits,
  native: NativeChecks,
  proxyHeaders: readonly string[],
): FetchHandler {
  const wanted = (field: ProxyField) => proxyHeaders.includes(PROXY_FIELDS[field]);
  const [xFor, xProto, rfc, xHost, xPort] = (Object.keys(PROXY_FIELDS) as ProxyField[]).map(wanted);
  // The names a walk keeps: those of the checks and of the proxy headers asked for alone.
  const kept = new Set(GUARD_FIELDS.filter((name) => !PROXY_NAMES.has(name) || proxyHeaders.includes(name)));
  // Only names of these lengths need lower case to be recognised.
  const lengths = new Set([...kept].map((name) => name.length));
  const header = native.header ??
    ((request: Request, _info: unknown, name: string) => request.headers.get(name));
  // Walk every field where the runtime neither counts nor measures them; the walk then also
  // picks up the fields below, cheaper than looking each one up. Where the runtime can count
  // them cheaply and refuses a head too large itself (Bun), the fields are looked up one by
  // one: walking them all cost Bun a third of its requests per second with ten browser headers.
  const countHere = limits.maxHeaderCount > 0 && native.headerCount === undefined;
  const sizeHere = limits.maxHeaderSize > 0 &&
    !(native.headerSizeLimit !== undefined && native.headerSizeLimit <= limits.maxHeaderSize);
  const walk = !native.headerFields && (countHere || sizeHere);
  const fieldsOf = (request: Request, info: unknown): Fields | Walked =>
    walk ? walkFields(request, native.headerList, kept, lengths) : {
      host: native.hostAndLength ? null : header(request, info, "host"),
      contentLength: header(request, info, "content-length"),
      // Asked of the headers: touching `request.body` costs a whole Request on Node.
      transferEncoding: header(request, info, "transfer-encoding"),
      upgrade: header(request, info, "upgrade"),
      forwardedFor: xFor ? header(request, info, "x-forwarded-for") : null,
      forwardedProto: xProto ? header(request, info, "x-forwarded-proto") : null,
      forwarded: rfc ? header(request, info, "forwarded") : null,
      forwardedHost: xHost ? header(request, info, "x-forwarded-host") : null,
      forwardedPort: xPort ? header(request, info, "x-forwarded-port") : null,
    };
  const { maxBodySize, maxConcurrency } = limits;
  let active = 0;
  const done = () => void active--;
  return (request, info) => {
    const fields = fieldsOf(request, info);
    const problem = requestProblem(request, info, fields, limits, native);
    if (problem !== undefined) return problem;
    // A chunked body: count it as it is read, and tell a client's framing error from the app's.
    // So too a body of no declared length over HTTP/2 (DATA frames until the stream ends).
    // (A GET or HEAD may say chunked or send DATA, but the runtime hands it on with no body.)
    if (
      (fields.transferEncoding !== null || (fields.contentLength === null && maxBodySize > 0 &&
        request.method !== "GET" && request.method !== "HEAD")) && request.body !== null
    ) request = limitBody(request, maxBodySize);
    if (maxConcurrency === 0) return next(request, info, fields);
    if (active >= maxConcurrency) {
      return refusal(503, `this worker is at its limit of ${maxConcurrency} requests at once`, {
        "retry-after": "1",
      });
    }
    active++;
    let response: Response | Promise<Response>;
    try {
      response = next(request, info, fields);
    } catch (error) {
      active--;
      throw error;
    }
    if (response instanceof Promise) return response.finally(done);
    active--;
    return response;
  };
}

/**
 * Every field in one pass: from the runtime's own list where it has one (`headerList`),
 * else `forEach` (not for…of: Deno's iterator sorts and copies the fields, ten times
 * slower). Repeated fields come joined with ", ", as `get()` gives them.
 */
function walkFields(
  request: Request,
  headerList: NativeChecks["headerList"],
  kept: ReadonlySet<string>,
  lengths: ReadonlySet<number>,
): Walked {
  const walked: Walked = {
    host: null,
    contentLength: null,
    transferEncoding: null,
    upgrade: null,
    forwardedFor: null,
    forwardedProto: null,
    forwarded: null,
    forwardedHost: null,
    forwardedPort: null,
    count: 0,
    size: 0,
  };

  const list = headerList?.(request);
  if (list !== undefined) {
    for (let i = 0; i < list.length; i++) {
      const name = list[i][0];
      // Names come as the client wrote them: only those as long as a kept one need lower case.
      visitField(
        walked,
        list[i][1],
        lengths.has(name.length) ? name.toLowerCase() : name,
        true,
        kept,
      );
    }
    return walked;
  }
  request.headers.forEach((value, name) => visitField(walked, value, name, false, kept));
  return walked;
}

/** Count one field into `walked`, keeping it if the guard asks for it (joining a repeated one when `join`). */
function visitField(
  walked: Walked,
  value: string,
  name: string,
  join: boolean,
  kept: ReadonlySet<string>,
): void {
  walked.count++;
  walked.size += name.length + value.length + 4; // ": " and CRLF
  switch (name) {
    case "host":
      walked.host = joined(walked.host, value, join);
      break;
    case "content-length":
      walked.contentLength = joined(walked.contentLength, value, join);
      break;
    case "transfer-encoding":
      walked.transferEncoding = joined(walked.transferEncoding, value, join);
      break;
    case "upgrade":
      walked.upgrade = joined(walked.upgrade, value, join);
      break;
    case "x-forwarded-for":
      if (kept.has(name)) walked.forwardedFor = joined(walked.forwardedFor, value, join);
      break;
    case "x-forwarded-proto":
      if (kept.has(name)) walked.forwardedProto = joined(walked.forwardedProto, value, join);
      break;
    case "forwarded":
      if (kept.has(name)) walked.forwarded = joined(walked.forwarded, value, join);
      break;
    case "x-forwarded-host":
      if (kept.has(name)) walked.forwardedHost = joined(walked.forwardedHost, value, join);
      break;
    case "x-forwarded-port":
      if (kept.has(name)) walked.forwardedPort = joined(walked.forwardedPort, value, join);
      break;
  }
}

/** The proxy headers' names. */
const PROXY_NAMES: ReadonlySet<string> = new Set(Object.values(PROXY_FIELDS));

/** `value`, after `kept` when `join` and a field of the name came before. */
function joined(kept: string | null, value: string, join: boolean): string {
  return join && kept !== null ? `${kept}, ${value}` : value;
}

/** The refusal a request has earned, or undefined when it may go on. */
function requestProblem(
  request: Request,
  info: unknown,
  fields: Fields | Walked,
  limits: RequestLimits,
  native: NativeChecks,
): Response | undefined {
  if (!native.hostAndLength) {
    const host = fields.host;
    // RFC 9112 §3.2: exactly one Host. HTTP/1.0 may omit it, but the request URL is built
    // from it, and not every runtime tells the handler the version: every request needs one.
    if (host === null || host === "") {
      if (!native.hostInUrl?.(info)) return refusal(400, "the request has no Host header");
    } else if (host.includes(",")) return refusal(400, "the request has more than one Host header");
  }
  const length = fields.contentLength;
  if (length !== null) {
    // A list ("3, 3") means the field was repeated: RFC 9112 §6.3 lets us refuse it.
    if (!native.hostAndLength && !DIGITS.test(length)) {
      return refusal(400, "Content-Length is not one decimal number");
    }
    if (limits.maxBodySize > 0 && Number(length) > limits.maxBodySize) {
      return refusal(413, `the request body is larger than the limit of ${limits.maxBodySize} bytes`);
    }
  }
  const url = request.url;
  // Deno hands on an absolute-form target it could not parse as it came ("s://]x/:"); Bun
  // makes the URL "/" of a Host it cannot use ("user@host", "a b") or of none (HTTP/1.0).
  if (!native.httpUrl && !url.startsWith("http://") && !url.startsWith("https://")) {
    return refusal(400, "the request target is not a path or an absolute http URI");
  }
  const authority = url.indexOf("//") + 2;
  const path = url.indexOf("/", authority);
  // RFC 9110 §4.2.4: userinfo in an http(s) URI is an error (it serves phishing, not servers).
  if (!native.noUserinfo && url.lastIndexOf("@", path) >= authority) {
    return refusal(400, "the request target has userinfo");
  }
  if (!validAuthority(url, authority, path)) {
    return refusal(400, "the request's Host does not make a valid URL");
  }
  const target = url.length - path;
  if (target > limits.maxUrlLength) {
    return refusal(414, `the request target is longer than ${limits.maxUrlLength} characters`);
  }
  if (!("count" in fields)) {
    if (native.headerFields || native.headerCount === undefined || limits.maxHeaderCount === 0) {
      return undefined;
    }
    return native.headerCount(request) > limits.maxHeaderCount
      ? refusal(431, `more than ${limits.maxHeaderCount} header fields`)
      : undefined;
  }
  if (native.headerFields) return undefined;
  if (limits.maxHeaderCount > 0 && fields.count > limits.maxHeaderCount) {
    return refusal(431, `more than ${limits.maxHeaderCount} header fields`);
  }
  const size = request.method.length + target + 12 + fields.size; // "GET /x HTTP/1.1\r\n"
  if (limits.maxHeaderSize > 0 && size > limits.maxHeaderSize) {
    return refusal(431, `the request head is larger than ${limits.maxHeaderSize} bytes`);
  }
  return undefined;
}
