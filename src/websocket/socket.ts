/**
 * A server-side WebSocket with the standard `WebSocket` shape (events `open`, `message`,
 * `close`, `error`; `send`, `close`, `readyState`, `protocol`, `bufferedAmount`), which
 * `upgradeWebSocket()` hands the app on Bun and Node. (On Deno the runtime's own socket,
 * of the same shape, is handed on.) The adapter drives it through the `#`-less methods
 * below as its runtime's socket opens, receives, and closes.
 *
 * @module
 */

import { theBus } from "../pubsub/bus.ts";
import type { PublishData } from "../pubsub/data.ts";
import { checked, type Subscriptions } from "../pubsub/publish.ts";
import type { NativeMembership } from "../pubsub/topics.ts";

/** What an adapter gives the socket: its runtime's own socket, seen through three members. */
export interface SocketLink {
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  readonly bufferedAmount: number;
  /** The runtime's own topics, where it has them (Bun): a publish then reaches this socket through them. */
  readonly native?: NativeMembership;
}

type Listener = ((event: Event) => void) | null;

/** The standard CloseEvent, or one of the same shape where the runtime has none (Node 20, 22). */
const CloseEventClass: typeof CloseEvent = globalThis.CloseEvent ?? class extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: CloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
} as unknown as typeof CloseEvent;

/** The WebSocket URL of the HTTP request that asked for it: ws:// for http://, wss:// for https://. */
export function webSocketUrl(requestUrl: string): string {
  return requestUrl.startsWith("http") ? `ws${requestUrl.slice(4)}` : requestUrl;
}

export class ServerWebSocket extends EventTarget implements Subscriptions {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  /** The URL the client asked for. */
  readonly url: string;
  /** The subprotocol the server chose ("" for none). */
  readonly protocol: string;
  readonly extensions = "";
  /** How binary messages arrive: as a `Blob` (the standard's default) or an `ArrayBuffer`. */
  binaryType: "blob" | "arraybuffer" = "blob";
  #readyState = 0;
  #link: SocketLink | undefined;
  readonly #handlers = new Map<string, Listener>();
  /**
   * Sends waiting behind a Blob whose bytes are still being read (and `close()` behind
   * them), so that messages go out in the order they were sent; undefined while none wait.
   */
  #queue: Promise<void> | undefined;
  /** Bytes of the Blobs in that queue, counted in `bufferedAmount`. */
  #queuedBytes = 0;
  /** The handler that upgraded this socket failed: close it with 1011 as it opens. */
  #abandoned = false;

  /** `url`: the request's (http:// or https://), shown as ws:// or wss:// as clients name it. */
  constructor(url: string, protocol: string) {
    super();
    this.url = webSocketUrl(url);
    this.protocol = protocol;
  }

  get readyState(): number {
    return this.#readyState;
  }

  get bufferedAmount(): number {
    return (this.#link?.bufferedAmount ?? 0) + this.#queuedBytes;
  }

  /**
   * Its runtime's own topics (Bun's), once open: a publish goes out through them, ahead of
   * a Blob this socket's `send()` may still be reading.
   */
  get native(): NativeMembership | undefined {
    return this.#link?.native;
  }

  get onopen(): Listener {
    return this.#handlers.get("open") ?? null;
  }
  set onopen(listener: Listener) {
    this.#handle("open", listener);
  }
  get onmessage(): Listener {
    return this.#handlers.get("message") ?? null;
  }
  set onmessage(listener: Listener) {
    this.#handle("message", listener);
  }
  get onclose(): Listener {
    return this.#handlers.get("close") ?? null;
  }
  set onclose(listener: Listener) {
    this.#handle("close", listener);
  }
  get onerror(): Listener {
    return this.#handlers.get("error") ?? null;
  }
  set onerror(listener: Listener) {
    this.#handle("error", listener);
  }

  #handle(type: string, listener: Listener): void {
    const old = this.#handlers.get(type);
    if (old) this.removeEventListener(type, old);
    this.#handlers.set(type, listener);
    if (listener) this.addEventListener(type, listener);
  }

  /**
   * Send a message; throws before the socket opens, as the standard says. Messages go out in
   * the order they were sent, whatever their type: a Blob's bytes are read first, and what
   * is sent after it waits for them.
   */
  send(data: string | ArrayBuffer | ArrayBufferView | Blob): void {
    if (this.#readyState === 0) throw new DOMException("the WebSocket is not open yet", "InvalidStateError");
    if (this.#readyState !== 1) return; // closing or closed: dropped, as the standard says
    if (this.#queue === undefined && !(data instanceof Blob)) return this.#link!.send(data);
    const size = data instanceof Blob ? data.size : 0;
    this.#queuedBytes += size;
    // Read now, sent in turn.
    const bytes = data instanceof Blob ? data.arrayBuffer() : Promise.resolve(data);
    this.#enqueue(async () => {
      let ready: string | ArrayBuffer | ArrayBufferView;
      try {
        ready = await bytes;
      } catch (error) {
        return this.failed(error);
      } finally {
        this.#queuedBytes -= size;
      }
      // Sent before close() was called: it goes, unless the connection is gone.
      if (this.#readyState !== 3) this.#link!.send(ready);
    });
  }

  /** Receive what is published to `topic` in every worker (src/pubsub/), until unsubscribed or closed. */
  subscribe(topic: string): void {
    if (this.#readyState !== 3) theBus().topics.subscribe(this, checked(topic));
  }

  unsubscribe(topic: string): void {
    theBus().topics.unsubscribe(this, topic);
  }

  isSubscribed(topic: string): boolean {
    return theBus().topics.isSubscribed(this, topic);
  }

  /** Send `data` to every subscriber of `topic` in every worker but this socket. */
  publish(topic: string, data: PublishData): void {
    theBus().publish(checked(topic), data, this);
  }

  /** Start the closing handshake, once every message sent before has gone out. */
  close(code?: number, reason?: string): void {
    if (this.#readyState >= 2) return;
    if (this.#readyState === 0) {
      this.#readyState = 2;
      return; // closed as soon as it opens
    }
    this.#readyState = 2;
    if (this.#queue === undefined) return this.#link!.close(code, reason);
    this.#enqueue(() => {
      if (this.#readyState !== 3) this.#link!.close(code, reason);
    });
  }

  /** Run `step` after everything queued before it. */
  #enqueue(step: () => void | Promise<void>): void {
    const queue: Promise<void> = (this.#queue ?? Promise.resolve()).then(step).finally(() => {
      if (this.#queue === queue) this.#queue = undefined;
    });
    this.#queue = queue;
  }

  /** The adapter: the handler that upgraded this socket failed; it closes with 1011 as it opens. */
  abandon(): void {
    this.#abandoned = true;
    if (this.#readyState === 1) this.close(1011, "internal error");
  }

  /**
   * The adapter: the runtime's socket opened. The event comes a moment later, so that the
   * handler that is upgrading (Bun opens the socket inside `server.upgrade()`) has set its
   * listeners by then.
   */
  opened(link: SocketLink): void {
    this.#link = link;
    queueMicrotask(() => {
      if (this.#readyState === 3) return;
      if (this.#abandoned) return link.close(1011, "internal error");
      if (this.#readyState === 2) return link.close(1000, "");
      this.#readyState = 1;
      this.dispatchEvent(new Event("open"));
    });
  }

  /** The adapter: a message arrived (text as a string, binary as bytes). */
  received(data: string | Uint8Array): void {
    if (this.#readyState !== 1) return;
    const message = typeof data === "string"
      ? data
      : this.binaryType === "arraybuffer"
      ? toArrayBuffer(data)
      : new Blob([data as Uint8Array<ArrayBuffer>]);
    this.dispatchEvent(new MessageEvent("message", { data: message }));
  }

  /** The adapter: the socket closed (the handshake is over, or the connection is gone). */
  closed(code: number, reason: string): void {
    if (this.#readyState === 3) return;
    this.#readyState = 3;
    theBus().topics.unsubscribeAll(this);
    this.dispatchEvent(new CloseEventClass("close", { code, reason, wasClean: code !== 1006 }));
  }

  /** The adapter: the socket failed; a close follows. */
  failed(error: unknown): void {
    this.dispatchEvent(Object.assign(new Event("error"), { error }));
  }
}

/** The message's own bytes (a Node Buffer may be a view into a shared pool). */
function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return (bytes.buffer as ArrayBuffer).slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}
