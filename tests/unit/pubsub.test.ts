/**
 * The publish/subscribe bus in-process: a tree of buses as a primary, a process with
 * threads and a lone process link them, with fake sockets. A publish reaches every
 * subscriber once (not the socket that sent it), in order; counts flow up to the primary
 * and back to whoever asks; a worker that goes takes its subscribers with it; a socket
 * with a backlog past the limit is closed with 1013.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Bus } from "../../src/pubsub/bus.ts";
import { decodeData, encodeData, type PublishData } from "../../src/pubsub/data.ts";
import type { NativeFanout, NativeMembership } from "../../src/pubsub/topics.ts";

class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly got: PublishData[] = [];
  closedWith: number | undefined;
  send(data: PublishData): void {
    this.got.push(data);
  }
  close(code: number): void {
    this.closedWith = code;
    this.readyState = 2;
  }
}

/** A server with topics of its own (Bun's): what reached each of its sockets, and how. */
class FakeServer implements NativeFanout {
  readonly topics = new Map<string, Set<NativeSocket>>();
  /** Native calls made: one per publish, however many sockets it reached. */
  calls = 0;
  publish(topic: string, data: PublishData, except?: NativeSocket): void {
    this.calls++;
    for (const socket of this.topics.get(topic) ?? []) if (socket !== except) socket.got.push(data);
  }
}

class NativeSocket extends FakeSocket {
  readonly native: NativeMembership;
  constructor(server: FakeServer) {
    super();
    this.send = () => assert.fail("a socket with native topics is not sent to one by one");
    this.native = {
      fanout: server,
      subscribe: (topic) => {
        if (!server.topics.has(topic)) server.topics.set(topic, new Set());
        server.topics.get(topic)!.add(this);
      },
      unsubscribe: (topic) => void server.topics.get(topic)?.delete(this),
      publishFromHere: (topic, data) => server.publish(topic, data, this),
    };
  }
}

/** primary ─┬─ process "p1" ─┬─ thread "t1"
 *           │                └─ thread "t2"
 *           └─ process "p2"                  (links pass JSON, as process channels do) */
function tree() {
  const primary = new Bus(), p1 = new Bus(), p2 = new Bus(), t1 = new Bus(), t2 = new Bus();
  const link = (parent: Bus, key: string, child: Bus) => {
    const json = <T>(m: T): T => JSON.parse(JSON.stringify(m));
    parent.addChild(key, (m) => child.fromParent(json(m)));
    child.linkUp((m) => parent.fromChild(key, json(m)));
  };
  link(primary, "p1", p1);
  link(primary, "p2", p2);
  link(p1, "t1", t1);
  link(p1, "t2", t2);
  return { primary, p1, p2, t1, t2 };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("publish/subscribe bus", () => {
  it("delivers a publish once to every subscriber in every isolate, not to its sender, in order", () => {
    const { primary, p2, t1, t2 } = tree();
    const [a, b, c, d] = [new FakeSocket(), new FakeSocket(), new FakeSocket(), new FakeSocket()];
    t1.topics.subscribe(a, "room");
    t1.topics.subscribe(b, "room");
    t2.topics.subscribe(c, "room");
    p2.topics.subscribe(d, "room");
    t2.topics.subscribe(new FakeSocket(), "other");
    for (let i = 0; i < 100; i++) t1.publish("room", `m${i}`, a);
    const expected = Array.from({ length: 100 }, (_, i) => `m${i}`);
    assert.deepEqual(a.got, []);
    for (const socket of [b, c, d]) assert.deepEqual(socket.got, expected);
    primary.publish("room", new Uint8Array([1, 2, 255]));
    for (const socket of [a, b, c, d]) assert.deepEqual([...socket.got.at(-1) as Uint8Array], [1, 2, 255]);
    assert.equal(t1.topics.counts.published, 100);
    assert.equal(t1.topics.counts.delivered, 100 + 2);
  });

  it("counts every isolate's subscribers in the primary, and answers a thread that asks", async () => {
    const { primary, p1, p2, t1, t2 } = tree();
    const sockets = Array.from({ length: 5 }, () => new FakeSocket());
    t1.topics.subscribe(sockets[0], "room");
    t2.topics.subscribe(sockets[1], "room");
    t2.topics.subscribe(sockets[2], "room");
    p2.topics.subscribe(sockets[3], "room");
    primary.topics.subscribe(sockets[4], "room");
    await settle();
    assert.equal(await primary.subscribers("room"), 5);
    assert.equal(await t1.subscribers("room"), 5);
    assert.equal(await p2.subscribers("nobody"), 0);
    t2.topics.unsubscribeAll(sockets[1]);
    await settle();
    assert.equal(await t1.subscribers("room"), 4);
    // A process that goes takes its threads' subscribers with it.
    primary.removeChild("p1");
    assert.equal(await primary.subscribers("room"), 2);
    void p1;
  });

  it("closes a subscriber whose backlog outlived a task past the limit with 1013; the others go on", async () => {
    const { t1, t2 } = tree();
    t2.topics.maxBuffer = 1000;
    const [slow, fast] = [new FakeSocket(), new FakeSocket()];
    t2.topics.subscribe(slow, "feed");
    t2.topics.subscribe(fast, "feed");
    // Nothing the slow one is sent goes out; the fast one's goes at once.
    slow.send = (data) => {
      slow.got.push(data);
      slow.bufferedAmount += 800;
    };
    t1.publish("feed", "one");
    t1.publish("feed", "two"); // a burst within one task: 1600 queued, but no backlog yet
    assert.equal(slow.closedWith, undefined);
    await settle();
    t1.publish("feed", "three"); // 1600 outlived the task
    assert.equal(slow.closedWith, 1013);
    assert.deepEqual(slow.got, ["one", "two"]);
    assert.deepEqual(fast.got, ["one", "two", "three"]);
    assert.equal(t2.topics.counts.dropped, 1);
    assert.equal(t2.topics.isSubscribed(slow, "feed"), false);
  });

  it("reaches sockets with native topics (Bun's) by one native publish per server, not the sender, in order", async () => {
    const { t1, t2 } = tree();
    const server = new FakeServer();
    const [a, b, c] = [new NativeSocket(server), new NativeSocket(server), new NativeSocket(server)];
    const plain = new FakeSocket();
    for (const socket of [a, b, c]) t1.topics.subscribe(socket, "feed");
    t1.topics.subscribe(plain, "feed");
    const remote = new FakeSocket();
    t2.topics.subscribe(remote, "feed");
    t1.publish("feed", "one", a); // from a socket: everyone but it
    t2.publish("feed", "two"); // from elsewhere: everyone here
    assert.equal(server.calls, 2);
    assert.deepEqual([a.got, b.got, c.got], [["two"], ["one", "two"], ["one", "two"]]);
    assert.deepEqual(plain.got, ["one", "two"]);
    assert.deepEqual(remote.got, ["one", "two"]);
    assert.equal(t1.topics.counts.delivered, 3 + 4);
    t1.topics.unsubscribe(b, "feed");
    assert.equal(server.topics.get("feed")!.has(b), false, "unsubscribed natively too");
    // A backlog past the limit, carried into a task, closes that socket with 1013 before the publish.
    await settle();
    t1.topics.maxBuffer = 1000;
    c.bufferedAmount = 5000;
    t2.publish("feed", "three");
    assert.equal(c.closedWith, 1013);
    assert.equal(server.topics.get("feed")!.has(c), false);
    assert.deepEqual([a.got, c.got], [["two", "three"], ["one", "two"]]);
    assert.equal(t1.topics.count("feed"), 2);
  });

  it("carries binary data across process channels as base64, byte for byte", () => {
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256);
    const decoded = decodeData(JSON.parse(JSON.stringify(encodeData(bytes.buffer))));
    assert.deepEqual(decoded, bytes);
    assert.equal(decodeData(encodeData("text")), "text");
  });

  it("links the primary's bus out to other hosts: every publish goes out once, one from outside comes down and not back", () => {
    const { primary, p2, t1, t2 } = tree();
    const out: unknown[] = [];
    primary.linkOut((m) => out.push(m));
    const [a, b, c] = [new FakeSocket(), new FakeSocket(), new FakeSocket()];
    t1.topics.subscribe(a, "room");
    t2.topics.subscribe(b, "room");
    p2.topics.subscribe(c, "room");
    t1.publish("room", "from t1", a);
    primary.publish("room", new Uint8Array([7]));
    p2.publish("room", "from p2");
    assert.deepEqual(out, [
      { multiserve: "publish", topic: "room", text: "from t1" },
      { multiserve: "publish", topic: "room", ...encodeData(new Uint8Array([7])) },
      { multiserve: "publish", topic: "room", text: "from p2" },
    ]);
    primary.fromOutside({ multiserve: "publish", topic: "room", text: "from afar" });
    for (const socket of [a, b, c]) assert.equal(socket.got.at(-1), "from afar");
    assert.equal(out.length, 3, "never published back out");
    primary.linkOut(undefined);
    t1.publish("room", "unlinked");
    assert.equal(out.length, 3);
  });
});
