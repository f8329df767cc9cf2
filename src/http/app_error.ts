/**
 * The answer when the app throws: a request body the client got wrong (too large, bad
 * chunks) gets its 413 or 400; anything else a plain 500 whose details go to the server
 * log, and to the client only in `debug`. The same 500 answers a handler that returned no
 * Response it could send (src/http/boundary.ts).
 *
 * @module
 */
import { logAt } from "../log.ts";
import { requestBodyError } from "./body.ts";
import type { WebSocketsOffError } from "../websocket/upgrade.ts";

/** The response for an error thrown by the app (every adapter's `onError`). */
export function appErrorResponse(debug: boolean): (error: unknown) => Response {
  return (error) => {
    const clientError = requestBodyError(error);
    if (clientError) return clientError.getResponse();
    // The app tried to upgrade while WebSockets are off: the server's setting, said as such.
    // By name: the app may have thrown it from another copy of this package.
    if ((error as Error | null)?.name === "WebSocketsOffError") {
      return (error as WebSocketsOffError).getResponse();
    }
    logAt("error", "the app threw while handling a request:", undefined, error);
    return internalError(
      debug ? (error instanceof Error ? error.stack ?? error.message : String(error)) : undefined,
    );
  };
}

/** The 500 for a handler that returned `what` (described), which is no Response to send; logged. */
export function wrongAnswerResponse(debug: boolean, what: string): Response {
  const line = `the app's handler returned ${what}: answered 500`;
  logAt("error", line);
  return internalError(debug ? line : undefined);
}

/** A plain 500, with `detail` under it (in debug only). */
function internalError(detail: string | undefined): Response {
  return new Response(`Internal Server Error${detail === undefined ? "" : `\n\n${detail}\n`}`, {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
