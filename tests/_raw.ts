/**
 * Raw HTTP/1.1 over a TCP socket, for what `fetch` cannot send: malformed and
 * smuggling-shaped requests, heads trickled a few bytes at a time, abrupt disconnects.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";

/** What came back on one connection. */
export interface RawReply {
  /** Every byte received, as latin1 text. */
  text: string;
  /** Status codes of every response seen, in order. */
  statuses: number[];
  /** The server closed (or reset) the connection; false when we gave up waiting. */
  closed: boolean;
  /** Milliseconds from connecting to the end. */
  ms: number;
}

/**
 * Send `payload` on a new connection, whole or in `piece`-byte writes, and collect the
 * answer until the server closes the connection or is silent for `idleMs`. With `end`, our
 * side of the connection is closed after the payload (the client's EOF).
 */
export function exchange(
  port: number,
  payload: string,
  { piece = 0, idleMs = 1_500, end = false } = {},
): Promise<RawReply> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    let text = "";
    let idle: ReturnType<typeof setTimeout> | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(idle);
      socket.destroy();
      const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      resolve({ text, statuses, closed, ms: Date.now() - started });
    };
    const wait = () => {
      clearTimeout(idle);
      idle = setTimeout(() => finish(false), idleMs);
    };
    socket.on("data", (data) => {
      text += data.toString("latin1");
      wait();
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => {}); // a reset counts as closed, reported by "close"
    socket.on("connect", async () => {
      wait();
      await writeInPieces(socket, Buffer.from(payload, "latin1"), piece);
      if (end) socket.end();
    });
  });
}

/** Write `bytes` whole, or `piece` bytes at a time with a pause between, until done or closed. */
export async function writeInPieces(socket: Socket, bytes: Uint8Array, piece: number): Promise<void> {
  if (piece <= 0) return void socket.write(bytes);
  for (let at = 0; at < bytes.length && !socket.destroyed; at += piece) {
    socket.write(bytes.subarray(at, at + piece));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A connection that sends a request head one header line every `everyMs`, never ending it. */
export function trickle(port: number, everyMs = 300): { closed: Promise<number>; stop(): void } {
  const started = Date.now();
  const socket = connect({ port, host: "127.0.0.1", noDelay: true });
  socket.on("error", () => {});
  let timer: ReturnType<typeof setInterval> | undefined;
  socket.on("connect", () => {
    socket.write("GET /token HTTP/1.1\r\nHost: x\r\n");
    timer = setInterval(() => socket.write(`X-Slow-${Date.now() % 1000}: y\r\n`), everyMs);
  });
  const closed = new Promise<number>((resolve) =>
    socket.on("close", () => {
      clearInterval(timer);
      resolve(Date.now() - started);
    })
  );
  return { closed, stop: () => socket.destroy() };
}
