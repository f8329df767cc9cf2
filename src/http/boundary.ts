/**
 * The app boundary, the innermost stage of the request chain: whatever the handler returns
 * becomes a Response the runtime can send, so that no app bug reaches the runtime's server,
 * where it could end the isolate (Deno rejects a promise of a non-Response outside any
 * handler) or the listener (Deno stops serving when an upgraded request gets another
 * answer), or send a placeholder (Bun's "Welcome to Bun!").
 *
 * - A Response passes: the hot path is one getter call, and a `.then` for a promise.
 * - A Response-like object (numeric `status`, `headers` and `body`, as srvx's and
 *   @hono/node-server's light responses are) is served as the Response it describes.
 * - Anything else (undefined, a plain object, a Response the runtime cannot send) is a 500,
 *   logged with what was returned.
 * - After the handler upgraded its request to a WebSocket, the upgrade's own answer is
 *   sent whatever the handler returned or threw; if it failed, its socket closes with 1011.
 *
 * A throw passes through as it is: the adapter answers it (`appErrorResponse`).
 *
 * @module
 */
import type { NativeChecks } from "../adapter.ts";
import { logAt } from "../log.ts";
import type { FetchHandler } from "../types.ts";
import { takeHandshake } from "../websocket/handshakes.ts";
import { wrongAnswerResponse } from "./app_error.ts";

/**
 * The Response class as this module found it. On Node, @hono/node-server puts a lighter
 * class of its own in the global's place once it serves; both are genuine.
 */
const FIRST_RESPONSE = globalThis.Response;

/** `app`, whose every answer is a Response the runtime can send. */
export function bounded(
  app: FetchHandler,
  native: Pick<NativeChecks, "unsendable">,
  debug: boolean,
): FetchHandler {
  const { unsendable } = native;
  const settle = (request: Request, value: unknown): Response => {
    const handshake = takeHandshake(request);
    if (handshake !== undefined) {
      if (value !== handshake.response && !(handshake.response === undefined && value == null)) {
        logAt(
          "error",
          `after upgrading to a WebSocket the app returned ${described(value)}; closing the socket (1011)`,
        );
        handshake.abandon();
      }
      return handshake.response as Response;
    }
    if (isGenuine(value)) {
      const why = unsendable?.(value);
      return why === undefined ? value : wrongAnswerResponse(debug, why);
    }
    return fromOther(value, debug);
  };
  const failed = (request: Request, error: unknown): Response => {
    const handshake = takeHandshake(request);
    if (handshake === undefined) throw error;
    logAt(
      "error",
      "the app threw after upgrading to a WebSocket; closing the socket (1011):",
      undefined,
      error,
    );
    handshake.abandon();
    return handshake.response as Response;
  };
  return (request, info) => {
    let value: unknown;
    try {
      value = app(request, info);
    } catch (error) {
      return failed(request, error);
    }
    if (value instanceof Promise) {
      return value.then((ready) => settle(request, ready), (error) => failed(request, error));
    }
    return settle(request, value);
  };
}

/** The answer for what is no Response: a light response, or a mistake. */
function fromOther(value: unknown, debug: boolean): Response {
  if (isResponseLike(value)) {
    try {
      const { body, status, statusText, headers } = value;
      return new Response(body as BodyInit | null, { status, statusText, headers: headers as HeadersInit });
    } catch (error) {
      return wrongAnswerResponse(
        debug,
        `a response-like object that makes no Response (${(error as Error).message})`,
      );
    }
  }
  return wrongAnswerResponse(debug, described(value));
}

/** The `status` getter of the global Response class last seen, which only a genuine one passes. */
let knownClass: typeof Response | undefined;
let knownStatus: (() => unknown) | undefined;
const firstStatus = statusGetter(FIRST_RESPONSE);

function statusGetter(Class: typeof Response): (() => unknown) | undefined {
  return Object.getOwnPropertyDescriptor(Class.prototype, "status")?.get;
}

/**
 * Made by a Response constructor (a subclass's too), not merely on Response's prototype
 * chain: the class's own `status` getter checks (a few nanoseconds on every runtime).
 */
function isGenuine(value: unknown): value is Response {
  // Read each time: the global may be replaced once a server starts (Node).
  if (globalThis.Response !== knownClass) {
    knownClass = globalThis.Response;
    knownStatus = statusGetter(knownClass);
  }
  try {
    return typeof knownStatus!.call(value) === "number";
  } catch {
    if (firstStatus === knownStatus) return false;
    try {
      return typeof firstStatus!.call(value) === "number";
    } catch {
      return false;
    }
  }
}

interface ResponseLike {
  status: number;
  statusText?: string;
  headers: unknown;
  body: unknown;
}

function isResponseLike(value: unknown): value is ResponseLike {
  if (typeof value !== "object" || value === null) return false;
  const like = value as Partial<ResponseLike>;
  try {
    return typeof like.status === "number" && "headers" in like && "body" in like;
  } catch {
    return false; // a getter that throws: a Response's own, on an object no constructor made
  }
}

/**
 * Why a genuine Response cannot be sent, where the runtime fails on it outside the app's
 * reach: `Response.error()`, or a body read already. (Each check is a getter call.)
 */
export function errorOrUsed(response: Response): string | undefined {
  if (response.type === "error") return "Response.error(), which cannot be sent";
  if (response.bodyUsed) return "a Response whose body was read already";
  return undefined;
}

/** What the handler returned, in a few words for the log. */
export function described(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (typeof value === "string") return `a string (${JSON.stringify(value.slice(0, 40))}), not a Response`;
  if (typeof value !== "object" && typeof value !== "function") {
    return `a ${typeof value} (${String(value)}), not a Response`;
  }
  const name = (value as { constructor?: { name?: string } }).constructor?.name;
  if (value instanceof Response) {
    return isGenuine(value)
      ? `a ${value.status} response`
      : `a ${name ?? "Response"} no Response constructor made`;
  }
  return `${name && name !== "Object" ? `a ${name}` : "a plain object"}, not a Response`;
}
