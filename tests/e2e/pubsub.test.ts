/**
 * Publish/subscribe across workers, in every mode: subscribers spread over every worker get
 * what a socket or a handler publishes, in order, once; unsubscribing stops delivery; the
 * primary counts every worker's subscribers; a subscriber too slow for its topic is closed
 * with 1013 while the others go on.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { describe, it } from "node:test";
import { cliTs, eventually, fetchFresh, fixture, MODES, runtime, startServer } from "../_harness.ts";
import { WebSocketClient } from "../_websocket_client.ts";
import { adminUrlOf, metrics, sum } from "../_admin.ts";

/** Open subscribers of `topic` until every one of `workers` isolates has one, and at least `min`. */
async function spread(url: string, topic: string, workers: number, min = 8) {
  const clients: { client: WebSocketClient; token: string }[] = [];
  const tokens = new Set<string>();
  for (let tries = 0; tries < 80 && (clients.length < min || tokens.size < workers); tries++) {
    const client = new WebSocketClient(`${url.replace("http", "ws")}ws?topic=${topic}`);
    await client.opened;
    const ready = String(await client.next());
    assert.match(ready, /^ready /);
    const token = ready.slice("ready ".length);
    tokens.add(token);
    clients.push({ client, token });
  }
  assert.equal(tokens.size, workers, `subscribers on all ${workers} workers`);
  return clients;
}

for (const mode of MODES) {
  describe(`${runtime}, ${mode.name}: publish/subscribe`, () => {
    it("a publish reaches every subscriber in every worker, once and in order; unsubscribing stops it", async () => {
      const { child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...mode.args,
        "--admin-port",
        "0",
        fixture("pubsub_app.ts"),
      ]);
      const clients = await spread(url, "room", mode.workers);
      try {
        const all = clients.map(({ client }) => client);
        // The primary hears of every subscriber.
        await eventually(
          async () => JSON.parse((await fetchFresh(`${url}count?topic=room`)).text).count === all.length,
          `${all.length} subscribers counted`,
        );

        // From a socket: every other subscriber, not the sender.
        all[0].socket.send("pub from a socket");
        for (const client of all.slice(1)) assert.equal(await client.next(), "from a socket");
        // From a handler: every subscriber, the sender's worker's too.
        assert.equal(
          (await fetchFresh(`${url}publish?topic=room`, {
            method: "POST",
            body: new TextEncoder().encode("from a handler"),
          })).status,
          204,
        );
        for (const client of all) assert.equal(await client.next(), "from a handler");
        // Binary, byte for byte.
        all[1].socket.send("bin 300");
        for (const client of [all[0], ...all.slice(2)]) {
          const data = new Uint8Array(await client.next() as ArrayBuffer);
          assert.deepEqual([...data], Array.from({ length: 300 }, (_, i) => i % 256));
        }
        // 1,000 from one handler arrive whole and in order everywhere.
        const N = 1000;
        await fetchFresh(`${url}publish?topic=room&n=${N}`, {
          method: "POST",
          body: new TextEncoder().encode("m"),
        });
        for (const client of all) {
          for (let i = 0; i < N; i++) assert.equal(await client.next(), `m:${i}`);
        }
        // Unsubscribed: no more, and the count follows.
        all[0].socket.send("unsub");
        assert.equal(await all[0].next(), "unsubscribed false");
        await eventually(
          async () => JSON.parse((await fetchFresh(`${url}count?topic=room`)).text).count === all.length - 1,
          "the count drops by one",
        );
        all[1].socket.send("pub after");
        for (const client of all.slice(2)) assert.equal(await client.next(), "after");
        await assert.rejects(all[0].next(300), /no message/);
        // /metrics: every worker's messages and subscriptions, per worker, never going down.
        const n = all.length;
        const delivered = (n - 1) + n + (n - 1) + N * n + (n - 2);
        const admin = adminUrlOf(child);
        let text = "";
        await eventually(async () => {
          text = await metrics(admin);
          return sum(text, "multiserve_pubsub_delivered_total") === delivered &&
            sum(text, "multiserve_pubsub_published_total") === N + 4 &&
            sum(text, "multiserve_pubsub_subscriptions") === n - 1;
        }, `${delivered} deliveries, ${N + 4} publishes and ${n - 1} subscriptions in /metrics`);
        const workers = new Set(text.match(/^multiserve_pubsub_subscriptions\{worker="[^"]+"\}/gm));
        assert.equal(workers.size, mode.workers, text);
        const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
        assert.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
        // Closed sockets leave their topics in every worker.
        for (const client of all.slice(1)) client.socket.close();
        await eventually(
          async () => JSON.parse((await fetchFresh(`${url}count?topic=room`)).text).count === 0,
          "no subscriber left",
        );
      } finally {
        for (const { client } of clients) client.socket.close();
        child.signal("SIGTERM");
        await child.exit();
      }
    });
  });
}

describe(`${runtime}: publish/subscribe through multiserve/hono`, () => {
  it("the Hono helper's socket subscribes and publishes across workers through ws.raw", async () => {
    const { child, url } = await startServer(cliTs, ["-p", "0", ...MODES[2].args, fixture("pubsub_app.ts")]);
    const plain = await spread(url, "hono", 2, 2);
    const viaHono = new WebSocketClient(`${url.replace("http", "ws")}hono/ws?topic=hono`);
    try {
      await viaHono.opened;
      assert.match(String(await viaHono.next()), /^ready /);
      await eventually(
        async () => JSON.parse((await fetchFresh(`${url}count?topic=hono`)).text).count === plain.length + 1,
        "the Hono socket counted",
      );
      viaHono.socket.send("pub from Hono");
      for (const { client } of plain) assert.equal(await client.next(), "from Hono");
      plain[0].client.socket.send("pub to Hono");
      assert.equal(await viaHono.next(), "to Hono");
    } finally {
      viaHono.socket.close();
      for (const { client } of plain) client.socket.close();
      child.signal("SIGTERM");
      await child.exit();
    }
  });
});

describe(`${runtime}: publish/subscribe, a slow subscriber`, () => {
  it("is closed with 1013 past --max-web-socket-buffer, while the others get every message", async () => {
    const { child, url } = await startServer(cliTs, [
      "-p",
      "0",
      "--admin-port",
      "0",
      "--max-web-socket-buffer",
      String(256 * 1024),
      fixture("pubsub_app.ts"),
    ]);
    const port = Number(new URL(url).port);
    // A client that completes the handshake, then reads nothing more.
    const stalled = connect(port, "127.0.0.1");
    let handshake = "";
    const parts: Uint8Array[] = []; // every byte it is sent, the handshake's too
    await new Promise<void>((resolve, reject) => {
      stalled.on("error", reject);
      setTimeout(() => reject(new Error(`no handshake and "ready": ${handshake}`)), 10_000);
      stalled.write(
        "GET /ws?topic=feed HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      stalled.on("data", (chunk: Uint8Array) => {
        parts.push(chunk);
        handshake += new TextDecoder().decode(chunk);
        if (handshake.includes("ready ")) {
          stalled.pause(); // reads nothing more: its backlog grows on the server
          resolve();
        }
      });
    });
    const reader = new WebSocketClient(`${url.replace("http", "ws")}ws?topic=feed`);
    try {
      await reader.opened;
      assert.match(String(await reader.next()), /^ready /);
      await eventually(
        async () => JSON.parse((await fetchFresh(`${url}count?topic=feed`)).text).count === 2,
        "two subscribers",
      );
      const chunk = "x".repeat(64 * 1024);
      const N = 400; // 25 MiB: far past what the kernel buffers for the stalled one
      for (let round = 0; round < N / 50; round++) {
        const published = await fetchFresh(`${url}publish?topic=feed&n=50`, {
          method: "POST",
          body: new TextEncoder().encode(chunk),
        });
        assert.equal(published.status, 204, published.text);
        for (let i = 0; i < 50; i++) {
          assert.equal(
            await reader.next().catch((e) => {
              throw new Error(`round ${round}, message ${i}: ${e.message}`);
            }),
            `${chunk}:${i}`,
          );
        }
      }
      // The stalled one was let go: the primary counts only the reader.
      await eventually(
        async () => JSON.parse((await fetchFresh(`${url}count?topic=feed`)).text).count === 1,
        "the slow one closed",
      );
      // What it was sent, read now: the messages up to its limit, then a close frame, 1013.
      const { bytes, how } = await new Promise<{ bytes: Uint8Array; how: string }>((resolve) => {
        const done = (how: string) => resolve({ bytes: new Uint8Array(Buffer.concat(parts)), how });
        stalled.removeAllListeners("data");
        stalled.on("data", (c: Uint8Array) => parts.push(c));
        stalled.on("error", (error) => done(`error ${error.message}`));
        stalled.on("end", () => done("end"));
        setTimeout(() => done("timeout"), 10_000);
        stalled.resume();
      });
      await eventually(
        async () => sum(await metrics(adminUrlOf(child)), "multiserve_pubsub_dropped_total") === 1,
        "the slow one counted as dropped",
      );
      const close = closeFrameOf(bytes);
      assert.deepEqual(
        close,
        { code: 1013, reason: "too slow: more than maxWebSocketBuffer bytes waiting" },
        `read ${bytes.length} bytes to ${how}`,
      );
    } finally {
      stalled.destroy();
      reader.socket.close();
      child.signal("SIGTERM");
      await child.exit();
    }
  });
});

/** The close frame among the server's frames after the handshake (unmasked, as a server sends). */
function closeFrameOf(bytes: Uint8Array): { code: number; reason: string } | undefined {
  let at = new TextDecoder("latin1").decode(bytes.subarray(0, 4096)).indexOf("\r\n\r\n") + 4;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    let length = bytes[at + 1] & 0x7f;
    let head = 2;
    if (length === 126) [length, head] = [(bytes[at + 2] << 8) | bytes[at + 3], 4];
    else if (length === 127) {
      [length, head] = [Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0)), 10];
    }
    if (at + head + length > bytes.length) return undefined;
    if (opcode === 8) {
      const payload = bytes.subarray(at + head, at + head + length);
      return { code: (payload[0] << 8) | payload[1], reason: new TextDecoder().decode(payload.subarray(2)) };
    }
    at += head + length;
  }
  return undefined;
}
