/**
 * The subscribers of one isolate, by topic, and delivery to them. A subscriber that cannot
 * keep up (more than `maxBuffer` bytes waiting to go out) is closed with 1013 (try again
 * later) rather than let its backlog grow or hold up the others. The backlog is looked at
 * once per task, before this task's first delivery to the socket: what a burst of publishes
 * in one task queued has not had a chance to go out yet (on Deno none of it has, since its
 * sends complete asynchronously), so only a backlog that outlived a task counts.
 *
 * Where the runtime frames a publish once for many sockets (Bun's `server.publish`), its
 * subscribers are also subscribed natively, and a publish costs one native call per server
 * rather than a `send()` per subscriber: measured on Bun, see docs/benchmark.md (o).
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
  /** The runtime's own topics behind this socket, where it has them (Bun). */
  readonly native?: NativeMembership;
}

/** One server's own fan-out (Bun's `server.publish`): the message framed once for all its subscribers. */
export interface NativeFanout {
  publish(topic: string, data: PublishData): void;
}

/** A socket's place in its server's own topics. */
export interface NativeMembership {
  readonly fanout: NativeFanout;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** To every subscriber of `topic` on its server but this socket (Bun's `ws.publish`). */
  publishFromHere(topic: string, data: PublishData): void;
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
  /** Each subscriber's topics, with the native topics it joined each through (as it was then). */
  readonly #bySubscriber = new Map<Subscriber, Map<string, NativeMembership | undefined>>();
  /** By topic, the subscribers a `send()` each reaches (every one where the runtime has no topics). */
  readonly #sent = new Map<string, Set<Subscriber>>();
  /** By topic, the subscribers each server's own fan-out reaches. */
  readonly #fannedOut = new Map<string, Map<NativeFanout, Set<Subscriber>>>();
  /** Native groups whose backlogs this task has looked at; cleared with `#looked`. */
  readonly #lookedGroups = new Set<Set<Subscriber>>();

  subscribe(subscriber: Subscriber, topic: string): void {
    let set = this.#byTopic.get(topic);
    if (set === undefined) this.#byTopic.set(topic, set = new Set());
    if (set.has(subscriber)) return;
    set.add(subscriber);
    // A socket subscribed before it opened has no native topics yet: it is sent to, for that topic.
    const native = subscriber.native;
    let topics = this.#bySubscriber.get(subscriber);
    if (topics === undefined) this.#bySubscriber.set(subscriber, topics = new Map());
    topics.set(topic, native);
    if (native === undefined) {
      let sent = this.#sent.get(topic);
      if (sent === undefined) this.#sent.set(topic, sent = new Set());
      sent.add(subscriber);
    } else {
      let groups = this.#fannedOut.get(topic);
      if (groups === undefined) this.#fannedOut.set(topic, groups = new Map());
      let group = groups.get(native.fanout);
      if (group === undefined) groups.set(native.fanout, group = new Set());
      group.add(subscriber);
      native.subscribe(topic);
    }
    this.onChange?.(topic);
  }

  unsubscribe(subscriber: Subscriber, topic: string): void {
    const set = this.#byTopic.get(topic);
    if (set === undefined || !set.delete(subscriber)) return;
    if (set.size === 0) this.#byTopic.delete(topic);
    const topics = this.#bySubscriber.get(subscriber)!;
    const native = topics.get(topic);
    topics.delete(topic);
    if (topics.size === 0) this.#bySubscriber.delete(subscriber);
    if (native === undefined) {
      const sent = this.#sent.get(topic)!;
      sent.delete(subscriber);
      if (sent.size === 0) this.#sent.delete(topic);
    } else {
      const groups = this.#fannedOut.get(topic)!;
      const group = groups.get(native.fanout)!;
      group.delete(subscriber);
      if (group.size === 0) groups.delete(native.fanout);
      if (groups.size === 0) this.#fannedOut.delete(topic);
      native.unsubscribe(topic);
    }
    this.onChange?.(topic);
  }

  /** The socket closed: it leaves every topic. */
  unsubscribeAll(subscriber: Subscriber): void {
    for (const topic of [...this.#bySubscriber.get(subscriber)?.keys() ?? []]) {
      this.unsubscribe(subscriber, topic);
    }
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
    const sent = this.#sent.get(topic);
    if (sent !== undefined) {
      for (const subscriber of [...sent]) {
        if (subscriber === except || subscriber.readyState !== 1) continue;
        if (!this.#looked.has(subscriber) && this.#behind(subscriber)) {
          this.#drop(subscriber);
          continue;
        }
        subscriber.send(data);
        this.counts.delivered++;
      }
    }
    const groups = this.#fannedOut.get(topic);
    if (groups === undefined) return;
    for (const [fanout, group] of [...groups]) {
      // Each backlog once per task, as for the others; then one native call for them all.
      if (!this.#lookedGroups.has(group)) {
        if (this.#looked.size === 0 && this.#lookedGroups.size === 0) this.#forgetLater();
        this.#lookedGroups.add(group);
        for (const subscriber of [...group]) {
          if (subscriber.bufferedAmount > this.maxBuffer) this.#drop(subscriber);
        }
        if (group.size === 0) continue;
      }
      const from = (except as Subscriber | undefined)?.native;
      if (from !== undefined && from.fanout === fanout) {
        from.publishFromHere(topic, data);
        this.counts.delivered += group.size - (group.has(except as Subscriber) ? 1 : 0);
      } else {
        fanout.publish(topic, data);
        this.counts.delivered += group.size;
      }
    }
  }

  /** `subscriber` fell behind: closed, and out of every topic. */
  #drop(subscriber: Subscriber): void {
    this.counts.dropped++;
    this.unsubscribeAll(subscriber);
    subscriber.close(TOO_SLOW.code, TOO_SLOW.reason);
  }

  #forgetLater(): void {
    setTimeout(() => {
      this.#looked.clear();
      this.#lookedGroups.clear();
    }, 0);
  }

  /** The counts since the previous report, and the subscriptions held now. */
  report(): PubSubReport {
    const { published, delivered, dropped } = this.counts;
    this.counts.published = this.counts.delivered = this.counts.dropped = 0;
    return { published, delivered, dropped, subscriptions: this.subscriptions };
  }

  /** Its backlog, carried into this task, passes `maxBuffer`. */
  #behind(subscriber: Subscriber): boolean {
    if (this.#looked.size === 0 && this.#lookedGroups.size === 0) this.#forgetLater();
    this.#looked.add(subscriber);
    return subscriber.bufferedAmount > this.maxBuffer;
  }
}
