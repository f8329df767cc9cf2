/**
 * Publish/subscribe as the app sees it: four methods on every WebSocket `upgradeWebSocket()`
 * hands it (Deno's own socket gets them too), and `publish()` / `subscribers()` for any
 * handler. Topics span every worker of the server: threads and processes alike.
 *
 * @module
 */
import { theBus } from "./bus.ts";
import type { PublishData } from "./data.ts";
import type { Subscriber } from "./topics.ts";

export type { PublishData } from "./data.ts";

/** What a multiserve WebSocket adds to the standard `WebSocket`. */
export interface Subscriptions {
  /** Receive what is published to `topic`, in every worker, from now until unsubscribed or closed. */
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  isSubscribed(topic: string): boolean;
  /** Send `data` to every subscriber of `topic`, in every worker, but this socket. */
  publish(topic: string, data: PublishData): void;
}

/**
 * Send `data` (text, or bytes as `WebSocket.send` takes them) to every subscriber of `topic`
 * in every worker: from any handler, in a worker or the primary. At most once, and in the
 * order this isolate published them.
 */
export function publish(topic: string, data: PublishData): void {
  theBus().publish(checked(topic), data);
}

/** The subscribers of `topic` in every worker, as the primary last heard from each. */
export function subscribers(topic: string): Promise<number> {
  return theBus().subscribers(checked(topic));
}

/** Give a runtime's own socket (Deno's) the methods of `Subscriptions`; it leaves every topic as it closes. */
export function addSubscriptions<T extends WebSocket>(socket: T): T & Subscriptions {
  const bus = theBus();
  const topics = bus.topics;
  // A standard socket is a subscriber: its send takes what publish() takes.
  const subscriber = socket as unknown as Subscriber;
  const methods: Subscriptions = {
    subscribe: (topic) => {
      if (socket.readyState !== 3) topics.subscribe(subscriber, checked(topic));
    },
    unsubscribe: (topic) => topics.unsubscribe(subscriber, topic),
    isSubscribed: (topic) => topics.isSubscribed(subscriber, topic),
    publish: (topic, data) => bus.publish(checked(topic), data, socket),
  };
  socket.addEventListener("close", () => topics.unsubscribeAll(subscriber));
  return Object.assign(socket, methods);
}

/** A topic: a string (anything else would not match across workers). */
export function checked(topic: string): string {
  if (typeof topic !== "string") throw new TypeError(`a topic is a string, not ${typeof topic}`);
  return topic;
}
