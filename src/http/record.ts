/**
 * The recording stage of the request chain (`observe/` is the primary's registry, which
 * these records feed): it counts each request for the worker's
 * statistics (`Tally`) and writes its access log line, once the response is ready, with the
 * status the client gets (our own refusals included; an app's error as the 500 it becomes),
 * the time the response took to be ready, and its body bytes: those sent where the adapter
 * counts them (Node; the line is then written once the response is sent), else those its
 * Content-Length declared. It sits outside the guard so that refusals
 * count, and is left out of the chain when neither is on.
 *
 * @module
 */
import type { NativeChecks, Refused } from "../adapter.ts";
import type { AccessEntry, AccessLog } from "../observe/access_log.ts";
import type { Tally } from "../observe/tally.ts";
import type { FetchHandler } from "../types.ts";
import { requestBodyError } from "./body.ts";
import type { ForwardableInfo } from "./request_info.ts";

/** `next`, counted in `tally` and logged to `accessLog` (either may be absent). */
export function recorded(
  next: FetchHandler,
  tally: Tally | undefined,
  accessLog: AccessLog | undefined,
  native: NativeChecks,
): FetchHandler {
  // What the adapter will answer an error with: a body error of the client's, else 500.
  const statusOf = (error: unknown) =>
    requestBodyError(error)?.status ?? native.clientErrorStatus?.(error) ?? 500;
  const header = (request: Request, info: unknown, name: string) =>
    native.header ? native.header(request, info, name) : request.headers.get(name);
  const { sentBytes } = native;
  return (request, info) => {
    const began = performance.now();
    if (tally) tally.inFlight++;
    // Read before the app runs: once it has upgraded the request, Deno refuses to read its
    // headers ("Request closed").
    const bytesIn = tally ? Number(header(request, info, "content-length") ?? 0) || 0 : 0;
    const referer = accessLog && header(request, info, "referer");
    const userAgent = accessLog && header(request, info, "user-agent");
    const requestId = accessLog && header(request, info, "x-request-id");
    const done = (response: Response | undefined, error?: unknown) => {
      const ms = performance.now() - began;
      const status = response?.status ?? statusOf(error);
      if (tally) tally.inFlight--;
      // Taken now: an HTTP/2 stream's address is gone once it has closed.
      const entry: AccessEntry | undefined = accessLog && {
        remote: (info as ForwardableInfo).remoteAddr.hostname,
        method: request.method,
        target: targetOf(request.url),
        protocol: (info as ForwardableInfo).protocol,
        status,
        bytes: undefined,
        ms,
        referer: referer ?? null,
        userAgent: userAgent ?? null,
        requestId: requestId ?? null,
      };
      const write = (bytes: number | undefined) => {
        tally?.record(request.method, status, ms / 1000, bytesIn, bytes ?? 0);
        if (entry) {
          entry.bytes = bytes;
          accessLog!.add(entry);
        }
      };
      const declared = () => {
        const length = response?.headers.get("content-length");
        return length == null ? undefined : Number(length);
      };
      // Counted where the runtime can (an app's error is answered by the adapter: declared).
      if (response !== undefined && sentBytes !== undefined) {
        sentBytes(info, (sent) => write(sent ?? declared()));
      } else write(declared());
    };
    let response: Response | Promise<Response>;
    try {
      response = next(request, info);
    } catch (error) {
      done(undefined, error);
      throw error;
    }
    if (!(response instanceof Promise)) {
      done(response);
      return response;
    }
    return response.then((r) => {
      done(r);
      return r;
    }, (error) => {
      done(undefined, error);
      throw error;
    });
  };
}

/** The path and query of an absolute URL. */
function targetOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash === -1 ? "/" : url.slice(slash);
}

/** What `onRefused` does: count a request refused before the chain, and log it. */
export function refusalRecorder(
  tally: Tally | undefined,
  accessLog: AccessLog | undefined,
): (refused: Refused) => void {
  return ({ status, method, target, remote }) => {
    tally?.record(method || "_OTHER", status, 0, 0, 0);
    accessLog?.add({
      remote,
      method,
      target,
      protocol: "HTTP/1.1", // a refusal before the chain: an HTTP/1.1 parser's
      status,
      bytes: undefined,
      ms: 0,
      referer: null,
      userAgent: null,
      requestId: null,
    });
  };
}
