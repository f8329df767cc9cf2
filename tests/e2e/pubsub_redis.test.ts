/**
 * Topics across hosts through Redis (`--pubsub`): two servers on their own ports and
 * Debian's redis-server, started here on a free port. A publish on either host reaches the
 * subscribers of both, once; Redis killed mid-stream leaves local delivery going and cross-
 * host delivery resumes once it is back; Redis unreachable at start: the server serves,
 * warns, says 0 in /metrics, and links up when Redis comes; a bad URL stops the start.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  Child,
  cliTs,
  eventually,
  fetchFresh,
  fixture,
  freePort,
  runtime,
  startServer,
} from "../_harness.ts";
import { WebSocketClient } from "../_websocket_client.ts";
import { adminUrlOf, metrics, sum } from "../_admin.ts";

/** Debian's redis-server on `port`, nothing saved, ready once it says so. */
async function startRedis(port: number): Promise<Child> {
  const redis = new Child(
    "/usr/bin/redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ],
    {},
    undefined,
    { program: true },
  );
  await redis.waitFor(/Ready to accept connections/, 10_000);
  return redis;
}

/** A server of the pubsub fixture linked to Redis at `port`. */
function startHost(port: number, args: string[]) {
  return startServer(cliTs, [
    "-p",
    "0",
    ...args,
    "--admin-port",
    "0",
    "--pubsub",
    `redis://127.0.0.1:${port}`,
    fixture("pubsub_app.ts"),
  ]);
}

async function connected(child: Child): Promise<number> {
  return sum(await metrics(adminUrlOf(child)), "multiserve_pubsub_connected");
}

/** Subscribers of `topic` on `url`, one on each of `workers` isolates (and `min` at least). */
async function subscribe(url: string, topic: string, workers: number, min = 2) {
  const clients: WebSocketClient[] = [];
  const tokens = new Set<string>();
  for (let tries = 0; tries < 60 && (clients.length < min || tokens.size < workers); tries++) {
    const client = new WebSocketClient(`${url.replace("http", "ws")}ws?topic=${topic}`);
    await client.opened;
    const ready = String(await client.next());
    assert.match(ready, /^ready /);
    tokens.add(ready);
    clients.push(client);
  }
  assert.equal(tokens.size, workers, `subscribers on all ${workers} workers`);
  await eventually(
    async () => JSON.parse((await fetchFresh(`${url}count?topic=${topic}`)).text).count === clients.length,
    `${clients.length} subscribers counted`,
  );
  return clients;
}

function publishFrom(url: string, topic: string, body: string, n = 1) {
  return fetchFresh(`${url}publish?topic=${topic}&n=${n}`, {
    method: "POST",
    body: new TextEncoder().encode(body),
  });
}

/** Publish probes from `url` until `client` (on another host) gets one: the link carries again. */
async function crossesAgain(url: string, topic: string, client: WebSocketClient, others: WebSocketClient[]) {
  for (let i = 0;; i++) {
    assert.ok(i < 100, "cross-host delivery resumed");
    await publishFrom(url, topic, `probe ${i}`);
    for (const other of others) assert.equal(await other.next(), `probe ${i}`);
    const got = await client.next(200).catch(() => undefined);
    if (got === undefined) continue;
    assert.equal(got, `probe ${i}`);
    return;
  }
}

describe(`${runtime}: topics across hosts through Redis`, () => {
  it("a publish on one host reaches the subscribers of both, once, in order, binary whole", async () => {
    const port = await freePort();
    const redis = await startRedis(port);
    const a = await startHost(port, ["--processes", "2"]);
    const b = await startHost(port, ["--threads", "2"]);
    const clients: WebSocketClient[] = [];
    try {
      for (const host of [a, b]) {
        await eventually(async () => await connected(host.child) === 1, "multiserve_pubsub_connected 1");
      }
      const onA = await subscribe(a.url, "room", 2);
      const onB = await subscribe(b.url, "room", 2);
      clients.push(...onA, ...onB);
      // From a socket on A: every other subscriber, on both hosts.
      onA[0].socket.send("pub from a socket");
      for (const client of clients.slice(1)) assert.equal(await client.next(), "from a socket");
      // From a handler on B: every subscriber.
      assert.equal((await publishFrom(b.url, "room", "from a handler")).status, 204);
      for (const client of clients) assert.equal(await client.next(), "from a handler");
      // Binary, byte for byte, from B to A.
      onB[0].socket.send("bin 300");
      for (const client of clients.filter((c) => c !== onB[0])) {
        const data = new Uint8Array(await client.next() as ArrayBuffer);
        assert.deepEqual([...data], Array.from({ length: 300 }, (_, i) => i % 256));
      }
      // 500 from one handler arrive in order everywhere, and nothing twice.
      const N = 500;
      await publishFrom(a.url, "room", "m", N);
      for (const client of clients) {
        for (let i = 0; i < N; i++) assert.equal(await client.next(), `m:${i}`);
      }
      for (const client of clients) await assert.rejects(client.next(300), /no message/);
      // Any program's PUBLISH on multiserve:<topic> reaches every host's subscribers as text.
      const cli = spawnSync("redis-cli", [
        "-p",
        String(port),
        "PUBLISH",
        "multiserve:room",
        "from redis-cli",
      ]);
      assert.equal(cli.status, 0, String(cli.stderr));
      for (const client of clients) assert.equal(await client.next(), "from redis-cli");
      assert.match(a.child.stderr, /pubsub: connected to redis:\/\/127\.0\.0\.1:\d+/);
    } finally {
      for (const client of clients) client.socket.close();
      for (const host of [a, b]) host.child.signal("SIGTERM");
      for (const host of [a, b]) assert.equal((await host.child.exit()).code, 0);
      redis.killTree();
    }
  });

  it("Redis killed mid-stream: local delivery goes on, and across hosts once it is back", async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const a = await startHost(port, ["--processes", "2"]);
    const b = await startHost(port, ["--processes", "2"]);
    const clients: WebSocketClient[] = [];
    try {
      for (const host of [a, b]) {
        await eventually(async () => await connected(host.child) === 1, "multiserve_pubsub_connected 1");
      }
      const onA = await subscribe(a.url, "feed", 2);
      const onB = await subscribe(b.url, "feed", 1, 1);
      clients.push(...onA, ...onB);
      await publishFrom(a.url, "feed", "before", 50);
      for (const client of clients) {
        for (let i = 0; i < 50; i++) assert.equal(await client.next(), `before:${i}`);
      }

      redis.process.kill("SIGKILL");
      await redis.exited;
      for (const host of [a, b]) {
        await eventually(async () => await connected(host.child) === 0, "multiserve_pubsub_connected 0");
      }
      // Meanwhile each host's own subscribers get its publishes; the other host's do not.
      await publishFrom(a.url, "feed", "during", 50);
      for (const client of onA) for (let i = 0; i < 50; i++) assert.equal(await client.next(), `during:${i}`);
      onB[0].socket.send("pub on B alone");
      for (const client of onA) await assert.rejects(client.next(300), /no message/);
      assert.match(a.child.stderr, /pubsub: Redis at redis:\/\/127\.0\.0\.1:\d+\/? unreachable/);

      redis = await startRedis(port);
      for (const host of [a, b]) {
        await eventually(
          async () => await connected(host.child) === 1,
          "multiserve_pubsub_connected 1 again",
        );
      }
      await crossesAgain(a.url, "feed", onB[0], onA);
      await publishFrom(b.url, "feed", "after", 50);
      for (const client of clients) {
        for (let i = 0; i < 50; i++) assert.equal(await client.next(), `after:${i}`);
      }
      // No worker was lost on the way.
      for (const host of [a, b]) {
        const status = JSON.parse((await fetchFresh(`${adminUrlOf(host.child)}status`)).text);
        assert.deepEqual(Object.values(status.totals.restarts).filter((n) => n !== 0), []);
      }
    } finally {
      for (const client of clients) client.socket.close();
      for (const host of [a, b]) host.child.signal("SIGTERM");
      for (const host of [a, b]) assert.equal((await host.child.exit()).code, 0);
      redis.killTree();
    }
  });

  it("Redis unreachable at start: the server serves, warns, says 0 in /metrics, and links up when it comes", async () => {
    const port = await freePort();
    const a = await startHost(port, ["--processes", "2"]);
    let b: Awaited<ReturnType<typeof startHost>> | undefined;
    let redis: Child | undefined;
    const clients: WebSocketClient[] = [];
    try {
      await a.child.waitFor(/pubsub: Redis at redis:\/\/127\.0\.0\.1:\d+\/? unreachable .*retrying/);
      assert.equal(await connected(a.child), 0);
      assert.match(await metrics(adminUrlOf(a.child)), /^multiserve_pubsub_connected 0$/m);
      const status = JSON.parse((await fetchFresh(`${adminUrlOf(a.child)}status`)).text);
      assert.equal(status.totals.pubsub.connected, false);
      // It serves, topics and all, on this host.
      const onA = await subscribe(a.url, "news", 2);
      clients.push(...onA);
      await publishFrom(a.url, "news", "local");
      for (const client of onA) assert.equal(await client.next(), "local");

      redis = await startRedis(port);
      await eventually(async () => await connected(a.child) === 1, "multiserve_pubsub_connected 1");
      b = await startHost(port, []);
      await eventually(async () => await connected(b!.child) === 1, "B connected");
      const onB = await subscribe(b.url, "news", 1, 1);
      clients.push(...onB);
      await crossesAgain(a.url, "news", onB[0], onA);
      onB[0].socket.send("pub from B");
      for (const client of onA) assert.equal(await client.next(), "from B");
    } finally {
      for (const client of clients) client.socket.close();
      for (const host of [a, b]) host?.child.signal("SIGTERM");
      for (const host of [a, b]) if (host) assert.equal((await host.child.exit()).code, 0);
      redis?.killTree();
    }
  });

  it("a pubsub URL that is not redis:// stops the start with exit 2, naming the option and the value", async () => {
    const flag = new Child(cliTs, ["--pubsub", "http://127.0.0.1:6379", fixture("pubsub_app.ts")]);
    assert.equal((await flag.exit()).code, 2);
    assert.match(flag.stderr, /--pubsub must be a redis:\/\/ URL .*got "http:\/\/127\.0\.0\.1:6379"/);
    const env = new Child(cliTs, [fixture("pubsub_app.ts")], { MULTISERVE_PUBSUB: "redis://" });
    assert.equal((await env.exit()).code, 2);
    assert.match(env.stderr, /MULTISERVE_PUBSUB must be a redis:\/\/ URL .*got "redis:\/\/"/);
  });
});
