/**
 * Topics across hosts: the primary's bus linked to a Redis server (`pubsub`), through one
 * connection pair (a publisher and a subscriber; `@redis/client`, loaded only here, and
 * only when `pubsub` is set). Every publish reaching the primary's bus (from any worker,
 * or the primary's own `publish()`) is PUBLISHed on channel `multiserve:<topic>`, and a
 * message on any such channel from another host is delivered down to every worker (never
 * published again). Each message carries its host's id, random per primary, so a host
 * skips its own echo. One publisher connection keeps each host's order.
 *
 * While Redis is away, local delivery goes on, the link reconnects with backoff, and what
 * is published meanwhile crosses no host (no offline queue): at most once, as within one.
 *
 * @module
 */
import type { BusMessage } from "../protocol.ts";
import type { Bus } from "./bus.ts";

/** The channel prefix: `PUBLISH multiserve:<topic>`. */
export const CHANNEL_PREFIX = "multiserve:";

/** Backoff between attempts to reconnect: 50 ms doubling to 2 s. */
export function backoff(attempt: number): number {
  return Math.min(50 * 2 ** attempt, 2_000);
}

/** What a message carries across hosts (JSON): its host and its data as data.ts encodes it. */
interface Wire {
  host: string;
  text?: string;
  base64?: string;
}

export interface RedisLink {
  readonly connected: boolean;
  close(): void;
}

export interface RedisLinkOptions {
  /** Told every change of state: both connections ready, or not. */
  onState?(connected: boolean): void;
  log(level: "warning" | "info", message: string): void;
}

/** Link `bus` (the primary's) to the Redis server at `url`; resolves at once, connecting in the background. */
export async function linkRedis(url: string, bus: Bus, options: RedisLinkOptions): Promise<RedisLink> {
  const { createClient } = await import("@redis/client");
  const host = crypto.randomUUID();
  const shown = safeUrl(url);
  const make = () =>
    createClient({
      url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: (attempt: number) => backoff(attempt) },
    });
  const publisher = make();
  const subscriber = make();
  let connected = false;
  let closing = false;
  let warned = false;
  let subscribed = false;
  const update = () => {
    const now = publisher.isReady && subscriber.isReady && subscribed;
    if (now === connected || closing) return;
    connected = now;
    options.onState?.(now);
    if (now) {
      warned = false;
      options.log("info", `pubsub: connected to ${shown}`);
    }
  };
  const lost = (error: Error) => {
    update();
    if (warned || closing) return;
    warned = true;
    options.log(
      "warning",
      `pubsub: Redis at ${shown} unreachable (${error.message}); topics stay on this host, retrying`,
    );
  };
  for (const client of [publisher, subscriber]) {
    client.on("error", lost);
    client.on("ready", update);
    client.on("end", update);
    client.on("reconnecting", update);
  }
  bus.linkOut((message: BusMessage) => {
    if (message.multiserve !== "publish" || !publisher.isReady) return;
    const wire: Wire = { host, text: message.text, base64: message.base64 };
    publisher.publish(CHANNEL_PREFIX + message.topic, JSON.stringify(wire)).catch(() => {});
  });
  // Both connect in the background: the server serves without them.
  publisher.connect().catch(() => {});
  subscriber.connect().then(() =>
    subscriber.pSubscribe(`${CHANNEL_PREFIX}*`, (payload: string, channel: string) => {
      const wire = wireOf(payload);
      if (wire.host === host) return;
      const topic = channel.slice(CHANNEL_PREFIX.length);
      bus.fromOutside({ multiserve: "publish", topic, text: wire.text, base64: wire.base64 } as BusMessage);
    })
  ).then(() => {
    // Connected once the first subscription holds (node-redis renews it on each reconnect).
    subscribed = true;
    update();
  }).catch(() => {});
  return {
    get connected() {
      return connected;
    },
    close() {
      closing = true;
      bus.linkOut(undefined);
      for (const client of [publisher, subscriber]) {
        try {
          client.destroy();
        } catch {
          // Already closed.
        }
      }
    },
  };
}

/** A message from Redis: another host's, or any program's plain text. */
function wireOf(payload: string): Wire {
  try {
    const wire = JSON.parse(payload);
    if (
      typeof wire?.host === "string" && (typeof wire.text === "string" || typeof wire.base64 === "string")
    ) {
      return wire;
    }
  } catch {
    // Not ours: text.
  }
  return { host: "", text: payload };
}

/** The URL without its password, for the log. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.href;
  } catch {
    return url;
  }
}
