/**
 * The answer when the app throws: a request body the client got wrong (too large, bad
 * chunks) gets its 413 or 400; anything else a plain 500 whose details go to the server
 * log, and to the client only in `debug`.
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
    const detail = debug
      ? `\n\n${error instanceof Error ? error.stack ?? error.message : String(error)}\n`
      : "";
    return new Response(`Internal Server Error${detail}`, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  };
}
