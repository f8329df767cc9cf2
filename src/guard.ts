/**
 * The checks a request passes before the app sees it, so that an app answers alike on
 * Deno, Bun and Node: what one runtime's parser lets through (a missing or doubled Host,
 * a repeated Content-Length, a DEL in a header value) is refused here, and the size and
 * concurrency limits hold on every runtime. A refusal is a short plain-text 4xx/5xx that
 * closes the connection.
 *
 * @module
 */
import type { EdgeOptions } from "./options.ts";
import { forwarded, trustOf } from "./proxy.ts";
import type { ForwardableInfo } from "./request_info.ts";
import type { FetchHandler } from "./types.ts";

/** What a runtime's own HTTP parser (with its adapter) already enforces, so the guard need not. */
export interface NativeChecks {
  /** `maxHeaderSize` and `maxHeaderCount` are enforced (Node: by llhttp and the adapter). */
  headerFields: boolean;
  /**
   * The characters the parser lets through in header values although RFC 9110 §5.5 forbids
   * them (Bun: DEL), for the guard to refuse; undefined when it lets none through.
   */
  controlChars?: RegExp;
  /** A missing or repeated Host and a malformed or repeated Content-Length are refused. */
  hostAndLength: boolean;
  /**
   * Reads one request header more cheaply than `request.headers`, which on Node builds a
   * whole `Headers` object. Lower-case `name`; null when absent.
   */
  header?: (request: Request, info: unknown, name: string) => string | null;
}

/**
 * Thrown by reading a request body that the client got wrong: past `maxBodySize` (413),
 * or broken framing such as a bad chunk (400). Answered with that status, not a 500.
 */
export class RequestBodyError extends Error {
  readonly status: 400 | 413;
  constructor(status: 400 | 413, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RequestBodyError";
    this.status = status;
  }
  /** Hono answers an error that has `getResponse()` with that response. */
  getResponse(): Response {
    return refusal(this.status, this.message);
  }
}

/** A refusal: status, a one-line reason, and the end of the connection. */
export function refusal(status: number, reason: string, headers: Record<string, string> = {}): Response {
  return new Response(refusalText(status, reason), { status, headers: { ...REFUSAL_HEADERS, ...headers } });
}

/** The body of a refusal. */
export function refusalText(status: number, reason: string): string {
  return `${STATUS_TEXT[status] ?? "Error"}: ${reason}\n`;
}

/** The headers of a refusal. */
export const REFUSAL_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/plain; charset=utf-8",
  connection: "close",
};

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

const DIGITS = /^\d+$/;

/** The header fields the guard and the proxy policy look at. */
interface Fields {
  host: string | null;
  contentLength: string | null;
  transferEncoding: string | null;
  forwardedFor: string | null;
  forwardedProto: string | null;
}

/** What walking every field found besides `Fields`. */
interface Walked extends Fields {
  count: number;
  /** Bytes of the field lines. */
  size: number;
  /** The first field whose value has a character the runtime let through. */
  controlIn: string | undefined;
}

/** `app` behind the checks, limits and proxy-header policy of `edge`. */
export function guarded(app: FetchHandler, edge: EdgeOptions, native: NativeChecks): FetchHandler {
  const header = native.header ??
    ((request: Request, _info: unknown, name: string) => request.headers.get(name));
  const trusted = edge.forwardedAllowIps;
  const proxied = trusted.length > 0 ? forwarded(app, trustOf(trusted)) : undefined;
  const control = native.controlChars;
  // Walk every field where the runtime does not count them, or lets bad characters through;
  // the walk then also picks up the fields below, cheaper than looking each one up.
  const walk = control !== undefined ||
    (!native.headerFields && (edge.maxHeaderCount > 0 || edge.maxHeaderSize > 0));
  const fieldsOf = (request: Request, info: unknown): Fields | Walked =>
    walk ? walkFields(request, control) : {
      host: native.hostAndLength ? null : header(request, info, "host"),
      contentLength: header(request, info, "content-length"),
      // Asked of the headers: touching `request.body` costs a whole Request on Node.
      transferEncoding: header(request, info, "transfer-encoding"),
      forwardedFor: proxied ? header(request, info, "x-forwarded-for") : null,
      forwardedProto: proxied ? header(request, info, "x-forwarded-proto") : null,
    };
  // Every adapter hands the app a ForwardableInfo: the proxy policy sets the client there.
  const inner = (request: Request, info: ForwardableInfo, fields: Fields) =>
    proxied ? proxied(request, info, fields.forwardedFor, fields.forwardedProto) : app(request, info);
  const { maxBodySize, maxConcurrency } = edge;
  let active = 0;
  const done = () => void active--;
  return (request, info) => {
    const fields = fieldsOf(request, info);
    const problem = requestProblem(request, fields, edge, native);
    if (problem !== undefined) return problem;
    // A chunked body: count it as it is read, and tell a client's framing error from the app's.
    if (fields.transferEncoding !== null) request = guardBody(request, maxBodySize);
    if (maxConcurrency === 0) return inner(request, info, fields);
    if (active >= maxConcurrency) {
      return refusal(503, `this worker is at its limit of ${maxConcurrency} requests at once`, {
        "retry-after": "1",
      });
    }
    active++;
    let response: Response | Promise<Response>;
    try {
      response = inner(request, info, fields);
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
 * Every field in one pass. forEach, not for…of: Deno's iterator sorts and copies the
 * fields (ten times slower). Repeated fields come joined with ", ", as `get()` gives them.
 */
function walkFields(request: Request, control: RegExp | undefined): Walked {
  const walked: Walked = {
    host: null,
    contentLength: null,
    transferEncoding: null,
    forwardedFor: null,
    forwardedProto: null,
    count: 0,
    size: 0,
    controlIn: undefined,
  };
  request.headers.forEach((value, name) => {
    walked.count++;
    walked.size += name.length + value.length + 4; // ": " and CRLF
    if (control !== undefined && walked.controlIn === undefined && control.test(value)) {
      walked.controlIn = name;
    }
    switch (name) {
      case "host":
        walked.host = value;
        break;
      case "content-length":
        walked.contentLength = value;
        break;
      case "transfer-encoding":
        walked.transferEncoding = value;
        break;
      case "x-forwarded-for":
        walked.forwardedFor = value;
        break;
      case "x-forwarded-proto":
        walked.forwardedProto = value;
        break;
    }
  });
  return walked;
}

/** The refusal a request has earned, or undefined when it may go on. */
function requestProblem(
  request: Request,
  fields: Fields | Walked,
  edge: EdgeOptions,
  native: NativeChecks,
): Response | undefined {
  if (!native.hostAndLength) {
    const host = fields.host;
    // RFC 9112 §3.2: exactly one Host. HTTP/1.0 may omit it, but the request URL is built
    // from it, and not every runtime tells the handler the version: every request needs one.
    if (host === null || host === "") return refusal(400, "the request has no Host header");
    if (host.includes(",")) return refusal(400, "the request has more than one Host header");
  }
  const length = fields.contentLength;
  if (length !== null) {
    // A list ("3, 3") means the field was repeated: RFC 9112 §6.3 lets us refuse it.
    if (!native.hostAndLength && !DIGITS.test(length)) {
      return refusal(400, "Content-Length is not one decimal number");
    }
    if (edge.maxBodySize > 0 && Number(length) > edge.maxBodySize) {
      return refusal(413, `the request body is larger than the limit of ${edge.maxBodySize} bytes`);
    }
  }
  const url = request.url;
  const target = url.length - url.indexOf("/", url.indexOf("//") + 2);
  if (target > edge.maxUrlLength) {
    return refusal(414, `the request target is longer than ${edge.maxUrlLength} characters`);
  }
  if (!("count" in fields)) return undefined;
  if (fields.controlIn !== undefined) {
    return refusal(400, `header ${fields.controlIn} has a control character in its value`);
  }
  if (native.headerFields) return undefined;
  if (edge.maxHeaderCount > 0 && fields.count > edge.maxHeaderCount) {
    return refusal(431, `more than ${edge.maxHeaderCount} header fields`);
  }
  const size = request.method.length + target + 12 + fields.size; // "GET /x HTTP/1.1\r\n"
  if (edge.maxHeaderSize > 0 && size > edge.maxHeaderSize) {
    return refusal(431, `the request head is larger than ${edge.maxHeaderSize} bytes`);
  }
  return undefined;
}

/**
 * `request` with a body that fails, as it is read, once it passes `limit` bytes (0 = no
 * limit), and that reports a broken chunked encoding as the client's error.
 */
function guardBody(request: Request, limit: number): Request {
  const reader = request.body!.getReader();
  let seen = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        const message = "the request body could not be read: its chunked encoding is malformed or cut short";
        return controller.error(new RequestBodyError(400, message, { cause: error }));
      }
      if (chunk.done) return controller.close();
      seen += chunk.value.byteLength;
      if (limit > 0 && seen > limit) {
        reader.cancel().catch(() => {});
        return controller.error(
          new RequestBodyError(
            413,
            `the request body is larger than the limit of ${limit} bytes (maxBodySize)`,
          ),
        );
      }
      controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Request(request, { body, duplex: "half" } as RequestInit);
}
