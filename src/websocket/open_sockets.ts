/**
 * The WebSockets a worker has open: counted against `maxWebSockets`, and closed together
 * when the worker stops (1001, going away) or is replaced (1012, service restart), the
 * close handshake bounded by the graceful timeout.
 *
 * @module
 */

/** A runtime's open socket, as far as closing it goes. */
export interface Closable {
  close(code: number, reason: string): void;
  /** End it at once, when its close handshake does not finish in time (where the runtime can). */
  terminate?(): void;
}

/** Why sockets close when their worker stops: WebSocket close codes (RFC 6455 §7.4, IANA). */
export const CLOSE_CODES = {
  goingAway: 1001,
  tooBig: 1009,
  /** The handler that upgraded the socket failed. */
  internalError: 1011,
  restart: 1012,
} as const;

export class OpenSockets {
  readonly #open = new Map<Closable, () => void>();
  #closing: { code: number; reason: string } | undefined;
  #allClosed: (() => void) | undefined;

  get count(): number {
    return this.#open.size;
  }

  /** Count `socket` as open; call the function returned once it has closed. */
  add(socket: Closable): () => void {
    let done = false;
    const closed = () => {
      if (done) return;
      done = true;
      this.#open.delete(socket);
      if (this.#open.size === 0) this.#allClosed?.();
    };
    this.#open.set(socket, closed);
    // Opened while the worker stops: it goes at once, the way its siblings went.
    if (this.#closing) socket.close(this.#closing.code, this.#closing.reason);
    return closed;
  }

  /** Close every socket with `code`; past `timeoutMs`, end those still open where possible. */
  async closeAll(code: number, reason: string, timeoutMs: number): Promise<void> {
    this.#closing = { code, reason };
    if (this.#open.size === 0) return;
    const allClosed = new Promise<void>((resolve) => (this.#allClosed = resolve));
    for (const socket of this.#open.keys()) {
      try {
        socket.close(code, reason);
      } catch { /* already closing */ }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(resolve, timeoutMs, "late")));
    if (await Promise.race([allClosed, late]) === "late") {
      for (const [socket, closed] of this.#open) {
        socket.terminate?.();
        closed();
      }
    }
    clearTimeout(timer);
  }
}

/** The reason sent with a close code of ours. */
export function closeReason(code: number): string {
  return code === CLOSE_CODES.restart
    ? "service restart"
    : code === CLOSE_CODES.tooBig
    ? "message too big"
    : code === CLOSE_CODES.internalError
    ? "internal error"
    : "going away";
}
