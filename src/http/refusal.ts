/**
 * How multiserve refuses a request itself: the status, a one-line plain-text reason, and
 * the end of the connection. The same bytes on every runtime (Node writes them raw).
 *
 * @module
 */

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

/** The body of a refusal. */
export function refusalText(status: number, reason: string): string {
  return `${STATUS_TEXT[status] ?? "Error"}: ${reason}\n`;
}

/** A refusal: status, a one-line reason, and the end of the connection. */
export function refusal(status: number, reason: string, headers: Record<string, string> = {}): Response {
  return new Response(refusalText(status, reason), { status, headers: { ...REFUSAL_HEADERS, ...headers } });
}
