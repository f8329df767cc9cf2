/**
 * Draining without dropping keep-alive clients. Closing an idle keep-alive connection
 * races a client that is sending its next request on it at that moment: the request is
 * lost. So a draining worker first answers for a short while with `Connection: close`,
 * which lets every active client finish its exchange and reconnect (to a worker that
 * stays) on its own, and only then closes what is left.
 *
 * @module
 */
import type { Listener } from "../adapter.ts";
import type { FetchHandler } from "../types.ts";

/** How long a draining worker keeps answering, with `Connection: close`, before closing. */
export const DRAIN_NOTICE_MS = 500;

/** A handler that can be drained, and the way to drain it. */
export interface Drainable {
  handler: FetchHandler;
  /**
   * Notice, then stop accepting, close WebSockets with `closeCode`, and wait for in-flight
   * requests, all within `timeoutMs`.
   */
  close(listener: Listener, timeoutMs: number, closeCode: number): Promise<void>;
}

export function drainable(inner: FetchHandler): Drainable {
  let draining = false;
  const handler: FetchHandler = (request, info) => {
    // The hot path stays one check. A request already in flight when draining begins goes
    // without the header, but its client's next request on that connection gets it.
    if (!draining) return inner(request, info);
    const response = inner(request, info);
    return response instanceof Promise ? response.then(closing) : closing(response);
  };
  return {
    handler,
    async close(listener, timeoutMs, closeCode) {
      draining = true;
      const notice = Math.min(DRAIN_NOTICE_MS, timeoutMs / 2);
      await new Promise((resolve) => setTimeout(resolve, notice));
      await listener.close(timeoutMs - notice, closeCode);
    },
  };
}

/** `response`, asking the client to close the connection after it. */
function closing(response: Response): Response {
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    // Immutable headers (e.g. a Response from fetch()): copy them.
    const headers = new Headers(response.headers);
    headers.set("connection", "close");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}
