/**
 * A request body read against `maxBodySize` as it streams in (nothing is buffered to count
 * it), whose framing errors are the client's: the error thrown becomes a 413 or a 400.
 *
 * @module
 */
import { refusal } from "./refusal.ts";

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

/**
 * `request` with a body that fails, as it is read, once it passes `limit` bytes (0 = no
 * limit), and that reports a broken chunked encoding as the client's error.
 */
export function limitBody(request: Request, limit: number): Request {
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

/** The `RequestBodyError` behind `error`, however the runtime wrapped it. */
export function requestBodyError(error: unknown): RequestBodyError | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof RequestBodyError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
