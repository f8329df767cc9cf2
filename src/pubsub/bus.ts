/**
 * Publish/subscribe across every worker of a server: each isolate has one bus, linked to
 * its supervisor's bus above (none in the primary, or in one isolate) and to the buses of
 * the workers it supervises below. A publish is delivered to this isolate's subscribers at
 * once, then passed along every other link, once each, so that it reaches every isolate
 * exactly once; links keep their order, so each publisher's messages on a topic arrive in
 * the order it sent them. Nothing is stored or retried: at most once.
 *
 * Subscriber counts flow upwards (each bus tells its supervisor its subtree's count for the
 * topics that changed, at most once per task), so the primary knows every topic's count,
 * and a worker asks it for one.
 *
 * @module
 */
import type { BusMessage } from "../protocol.ts";
import { decodeData, encodeData, type PublishData } from "./data.ts";
import { Topics } from "./topics.ts";

/** A link to another isolate's bus. */
export type BusLink = (message: BusMessage) => void;

/** How long a worker waits for the primary to count a topic's subscribers. */
const COUNT_TIMEOUT_MS = 5_000;

export class Bus {
  /** This isolate's subscribers. */
  readonly topics: Topics = new Topics();
  #up: BusLink | undefined;
  /** Other hosts (src/pubsub/redis.ts), linked to the primary's bus alone. */
  #out: BusLink | undefined;
  readonly #children = new Map<string, BusLink>();
  /** Each child's subtree count by topic, as it last reported. */
  readonly #counts = new Map<string, Map<string, number>>();
  /** The counts last reported upwards, and the topics whose count may have changed since. */
  readonly #reported = new Map<string, number>();
  readonly #dirty = new Set<string>();
  #seq = 0;
  /** Count questions of this isolate's own, waiting for the answer. */
  readonly #asked = new Map<number, (count: number) => void>();
  /** Count questions passed up for a child: our seq → the child and its seq. */
  readonly #relayed = new Map<number, { child: string; seq: number }>();

  constructor() {
    this.topics.onChange = (topic) => this.#changed(topic);
  }

  /** Link to the supervisor's bus (a worker). */
  linkUp(up: BusLink): void {
    this.#up = up;
    for (const topic of this.topics.names()) this.#changed(topic);
  }

  /** Link the primary's bus to other hosts' (through Redis); `undefined` unlinks. */
  linkOut(out: BusLink | undefined): void {
    this.#out = out;
  }

  /** A publish from another host: to every subscriber here and below, never back out. */
  fromOutside(message: BusMessage): void {
    if (message.multiserve !== "publish") return;
    this.topics.deliver(message.topic, decodeData(message));
    this.#pass(message, undefined, false);
  }

  /** Link to worker `key`'s bus, which this isolate supervises. */
  addChild(key: string, link: BusLink): void {
    this.#children.set(key, link);
  }

  /** Worker `key` is gone: its subscribers with it. */
  removeChild(key: string): void {
    this.#children.delete(key);
    const counts = this.#counts.get(key);
    this.#counts.delete(key);
    for (const topic of counts?.keys() ?? []) this.#changed(topic);
  }

  /** Publish `data` to every subscriber of `topic` in every worker, but `except`. */
  publish(topic: string, data: PublishData, except?: object): void {
    this.topics.counts.published++;
    this.topics.deliver(topic, data, except);
    this.#pass({ multiserve: "publish", topic, ...encodeData(data) }, undefined);
  }

  /** Subscribers of `topic` in every worker (as far as their reports have come). */
  subscribers(topic: string): Promise<number> {
    if (this.#up === undefined) return Promise.resolve(this.#total(topic));
    const seq = ++this.#seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#asked.delete(seq);
        reject(new Error(`subscribers(${JSON.stringify(topic)}): the primary did not answer`));
      }, COUNT_TIMEOUT_MS);
      this.#asked.set(seq, (count) => {
        clearTimeout(timer);
        resolve(count);
      });
      this.#up!({ multiserve: "count", seq, topic });
    });
  }

  /** A message from worker `key`'s bus. */
  fromChild(key: string, message: BusMessage): void {
    switch (message.multiserve) {
      case "publish":
        this.topics.deliver(message.topic, decodeData(message));
        this.#pass(message, key);
        break;
      case "subscribers": {
        let counts = this.#counts.get(key);
        if (counts === undefined) this.#counts.set(key, counts = new Map());
        for (const [topic, count] of Object.entries(message.counts)) {
          if (count === 0) counts.delete(topic);
          else counts.set(topic, count);
          this.#changed(topic);
        }
        break;
      }
      case "count":
        if (this.#up === undefined) {
          this.#children.get(key)?.({
            multiserve: "counted",
            seq: message.seq,
            count: this.#total(message.topic),
          });
        } else {
          const seq = ++this.#seq;
          this.#relayed.set(seq, { child: key, seq: message.seq });
          this.#up({ multiserve: "count", seq, topic: message.topic });
        }
        break;
    }
  }

  /** A message from the supervisor's bus. */
  fromParent(message: BusMessage): void {
    switch (message.multiserve) {
      case "publish":
        this.topics.deliver(message.topic, decodeData(message));
        this.#pass(message, undefined, false);
        break;
      case "counted": {
        const own = this.#asked.get(message.seq);
        if (own !== undefined) {
          this.#asked.delete(message.seq);
          own(message.count);
          break;
        }
        const relayed = this.#relayed.get(message.seq);
        this.#relayed.delete(message.seq);
        if (relayed !== undefined) {
          this.#children.get(relayed.child)?.({
            multiserve: "counted",
            seq: relayed.seq,
            count: message.count,
          });
        }
        break;
      }
    }
  }

  /**
   * Pass `message` to every child but `from`, and up unless it came from there: in the
   * primary, up is out to other hosts.
   */
  #pass(message: BusMessage, from: string | undefined, up = true): void {
    for (const [key, link] of this.#children) if (key !== from) link(message);
    if (up) (this.#up ?? this.#out)?.(message);
  }

  /** This isolate's and its workers' subscribers of `topic`. */
  #total(topic: string): number {
    let total = this.topics.count(topic);
    for (const counts of this.#counts.values()) total += counts.get(topic) ?? 0;
    return total;
  }

  /** `topic`'s count may have changed: tell the supervisor, once this task is done. */
  #changed(topic: string): void {
    if (this.#up === undefined) return;
    if (this.#dirty.size === 0) queueMicrotask(() => this.#report());
    this.#dirty.add(topic);
  }

  #report(): void {
    const counts: Record<string, number> = {};
    let any = false;
    for (const topic of this.#dirty) {
      const total = this.#total(topic);
      if ((this.#reported.get(topic) ?? 0) === total) continue;
      if (total === 0) this.#reported.delete(topic);
      else this.#reported.set(topic, total);
      counts[topic] = total;
      any = true;
    }
    this.#dirty.clear();
    if (any) this.#up?.({ multiserve: "subscribers", counts });
  }
}

/** This isolate's bus. Global, so that copies of this module (JSR and npm) share it. */
const KEY = Symbol.for("multiserve.bus");

export function theBus(): Bus {
  const holder = globalThis as { [KEY]?: Bus };
  return holder[KEY] ??= new Bus();
}
