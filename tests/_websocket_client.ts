/**
 * A WebSocket client for tests: the runtime's own `WebSocket`, its messages queued to be
 * taken in order, each wait bounded.
 *
 * @module
 */
import assert from "node:assert/strict";

/** A client socket (the runtime's own WebSocket) whose messages queue up to be taken in order. */
export class WebSocketClient {
  readonly socket: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly #queue: unknown[] = [];
  #waiting: ((message: unknown) => void) | undefined;

  constructor(url: string, options?: { headers: Record<string, string> }) {
    this.socket = options ? new WebSocket(url, options as never) : new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.socket.addEventListener("open", () => resolve());
      this.socket.addEventListener("error", () => reject(new Error(`could not open ${url}`)));
    });
    this.closed = new Promise((resolve) =>
      this.socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }))
    );
    this.socket.addEventListener("message", (event) => {
      if (this.#waiting) {
        this.#waiting(event.data);
        this.#waiting = undefined;
      } else this.#queue.push(event.data);
    });
  }

  /** The next message, or a failure after `ms`. */
  next(ms = 10_000): Promise<unknown> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A message after the time is the next call's, not lost to this one.
        this.#waiting = undefined;
        reject(new Error("no message within the time"));
      }, ms);
      this.#waiting = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  /** The isolate that answered: the first message is "hello from <token>". */
  async hello(): Promise<string> {
    const first = await this.next();
    assert.match(String(first), /^hello from /);
    return String(first).slice("hello from ".length);
  }
}
