/**
 * The subscribers of one isolate, by topic, and delivery to them. A subscriber that cannot
 * keep up (more than `maxBuffer` bytes waiting to go out) is closed with 1013 (try again
 * later) rather than let its backlog grow or hold up the others. The backlog is looked at
 * once per task, before this task's first delivery to the socket: what a burst of publishes
 * in one task queued has not had a chance to go out yet (on Deno none of it has, since its
 * sends complete asynchronously), so only a backlog that outlived a task counts.
 *
 * @module
 */
import type { PubSubReport } from "../observe/events.ts";
import type { PublishData } from "./data.ts";

/** A socket, as delivery sees it. */
export interface Subscriber {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: PublishData): void;
  close(code: number, reason: string): void;
}

/** What this isolate delivered, for its statistics. */
export interface DeliveryCounts {
  /** Messages published here (by its sockets and handlers). */
  published: number;
  /** Messages handed to a subscriber. */
  delivered: number;
  /** Subscribers closed for falling behind (each would have had a message). */
  dropped: number;
}

/** The close code and reason of a subscriber that fell behind. */
export const TOO_SLOW = { code: 1013, reason: "too slow: more than maxWebSocketBuffer bytes waiting" };

export class Topics {
  /** Bytes a subscriber may have waiting before it is closed. */
  maxBuffer = 16 * 1024 * 1024;
  /** Told when a topic's count changes here. */
  onChange: ((topic: string) => void) | undefined;
  readonly counts: DeliveryCounts = { published: 0, delivered: 0, dropped: 0 };
  readonly #byTopic = new Map<string, Set<Subscriber>>();
  /** Subscribers whose backlog this task has looked at; cleared once it ends. */
  readonly #looked = new Set<Subscriber>();
  readonly #bySubscriber = new Map<Subscriber, Set<string>>();

  subscribe(subscriber: Subscriber, topic: string): void {
    let set = this.#byTopic.get(topic);
    if (set === undefined) this.#byTopic.set(topic, set = new Set());
    if (set.has(subscriber)) return;
    set.add(subscriber);
    let topics = this.#bySubscriber.get(subscriber);
    if (topics === undefined) this.#bySubscriber.set(subscriber, topics = new Set());
    topics.add(topic);
    this.onChange?.(topic);
  }

  unsubscribe(subscriber: Subscriber, topic: string): void {
    const set = this.#byTopic.get(topic);
    if (set === undefined || !set.delete(subscriber)) return;
    if (set.size === 0) this.#byTopic.delete(topic);
    const topics = this.#bySubscriber.get(subscriber)!;
    topics.delete(topic);
    if (topics.size === 0) this.#bySubscriber.delete(subscriber);
    this.onChange?.(topic);
  }

  /** The socket closed: it leaves every topic. */
  unsubscribeAll(subscriber: Subscriber): void {
    for (const topic of [...this.#bySubscriber.get(subscriber) ?? []]) this.unsubscribe(subscriber, topic);
  }

  isSubscribed(subscriber: Subscriber, topic: string): boolean {
    return this.#byTopic.get(topic)?.has(subscriber) ?? false;
  }

  /** Subscribers of `topic` here. */
  count(topic: string): number {
    return this.#byTopic.get(topic)?.size ?? 0;
  }

  /** Subscribers here, over every topic. */
  get subscriptions(): number {
    let total = 0;
    for (const set of this.#byTopic.values()) total += set.size;
    return total;
  }

  /** Every topic with a subscriber here. */
  names(): IterableIterator<string> {
    return this.#byTopic.keys();
  }

  /** Send `data` to every open subscriber of `topic` but `except`. */
  deliver(topic: string, data: PublishData, except?: object): void {
    const set = this.#byTopic.get(topic);
    if (set === undefined) return;
    for (const subscriber of [...set]) {
      if (subscriber === except || subscriber.readyState !== 1) continue;
      if (!this.#looked.has(subscriber) && this.#behind(subscriber)) {
        this.counts.dropped++;
        this.unsubscribeAll(subscriber);
        subscriber.close(TOO_SLOW.code, TOO_SLOW.reason);
        continue;
      }
      subscriber.send(data);
      this.counts.delivered++;
    }
  }

  /** The counts since the previous report, and the subscriptions held now. */
  report(): PubSubReport {
    const { published, delivered, dropped } = this.counts;
    this.counts.published = this.counts.delivered = this.counts.dropped = 0;
    return { published, delivered, dropped, subscriptions: this.subscriptions };
  }

  /** Its backlog, carried into this task, passes `maxBuffer`. */
  #behind(subscriber: Subscriber): boolean {
    if (this.#looked.size === 0) setTimeout(() => this.#looked.clear(), 0);
    this.#looked.add(subscriber);
    return subscriber.bufferedAmount > this.maxBuffer;
  }
}
