/**
 * The edge on every runtime: size limits (413, 431, 414), the slowloris header timeout,
 * the keep-alive timeout, the concurrency limit (503), errors that stay on the server,
 * broken response bodies, aborts on disconnect, and proxy headers trusted only from
 * configured peers. Real servers, real sockets.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Child, fetchFresh, LOSSLESS, runtime, startApp } from "../_harness.ts";
import { exchange, trickle } from "../_raw.ts";

const HOST = "Host: example.test\r\n";

/** Bun cuts an unfinished request head after its own fixed 10 s, checked every 4 s or so. */
const HEADER_CUT_BOUND_MS = runtime === "bun" ? 16_000 : 2_000 + 1_500;

async function stop(child: Child) {
  child.killTree();
  await child.exited;
}

describe(`${runtime}: limits, timeouts and proxy trust in threaded workers`, () => {
  let child: Child;
  let url: string;
  let port: number;
  before(async () => {
    ({ child, url } = await startApp({
      args: [
        "--threads",
        "2",
        "--max-body-size",
        "1000",
        "--max-header-size",
        "4096",
        "--max-header-count",
        "20",
        "--max-url-length",
        "500",
        "--header-timeout",
        "2",
        "--keep-alive-timeout",
        "1",
        "--forwarded-allow-ips",
        "10.9.9.9",
        ...LOSSLESS,
      ],
    }));
    port = Number(new URL(url).port);
  });
  after(() => stop(child));

  it("a body within maxBodySize is served", async () => {
    const reply = await fetchFresh(`${url}echo`, { method: "POST", body: new Uint8Array(1000).fill(65) });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.length, 1000);
  });

  it("a declared Content-Length over maxBodySize gets 413 before the body is sent", async () => {
    const reply = await exchange(port, `POST /echo HTTP/1.1\r\n${HOST}Content-Length: 5000000\r\n\r\n`);
    assert.deepEqual(reply.statuses, [413], reply.text);
    assert.match(reply.text, /larger than the limit of 1000 bytes/);
  });

  it("a chunked body that grows past maxBodySize gets 413", async () => {
    const chunk = `400\r\n${"b".repeat(0x400)}\r\n`;
    const reply = await exchange(
      port,
      `POST /echo HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n${chunk.repeat(4)}0\r\n\r\n`,
      { piece: 512 },
    );
    assert.deepEqual(reply.statuses, [413], reply.text);
  });

  it("a request head over maxHeaderSize gets 431", async () => {
    const reply = await exchange(port, `GET /token HTTP/1.1\r\n${HOST}X-Big: ${"c".repeat(5000)}\r\n\r\n`);
    assert.deepEqual(reply.statuses, [431], reply.text);
  });

  it("more header fields than maxHeaderCount get 431", async () => {
    const fields = Array.from({ length: 30 }, (_, i) => `X-Field-${i}: v\r\n`).join("");
    const reply = await exchange(port, `GET /token HTTP/1.1\r\n${HOST}${fields}\r\n`);
    assert.deepEqual(reply.statuses, [431], reply.text);
  });

  it("a request target over maxUrlLength gets 414", async () => {
    const reply = await exchange(port, `GET /token?q=${"d".repeat(600)} HTTP/1.1\r\n${HOST}\r\n`);
    assert.deepEqual(reply.statuses, [414], reply.text);
  });

  it("a client trickling its headers is cut (slowloris) while another is served", async () => {
    const slow = trickle(port);
    const reply = await fetchFresh(`${url}token`);
    assert.equal(reply.status, 200, "a normal client is served meanwhile");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ms = await Promise.race([
      slow.closed,
      new Promise<number>((r) => (timer = setTimeout(r, 30_000, -1))),
    ]);
    clearTimeout(timer);
    slow.stop();
    assert.ok(ms > 0, "the trickling client was never cut");
    assert.ok(ms <= HEADER_CUT_BOUND_MS, `cut after ${ms} ms, bound ${HEADER_CUT_BOUND_MS} ms`);
  });

  it("an idle keep-alive connection is closed after keepAliveTimeout", async () => {
    const started = Date.now();
    const socket = connect({ port, host: "127.0.0.1" });
    socket.on("error", () => {});
    let text = "";
    socket.on("data", (data) => (text += data));
    socket.write(`GET /token HTTP/1.1\r\n${HOST}\r\n`);
    const closed = await new Promise<number>((resolve) => {
      const timer = setTimeout(() => resolve(-1), 15_000);
      socket.on("close", () => {
        clearTimeout(timer);
        resolve(Date.now() - started);
      });
    });
    socket.destroy();
    assert.match(text, /^HTTP\/1\.1 200/);
    assert.ok(closed > 0, "the idle connection was never closed");
    // Bun checks its timers every few seconds.
    assert.ok(closed <= (runtime === "bun" ? 6_000 : 2_500), `closed after ${closed} ms`);
  });

  it("proxy headers from a peer not in forwardedAllowIps change nothing", async () => {
    const reply = await fetchFresh(`${url}token`, {
      headers: { "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" },
    });
    const body = JSON.parse(reply.text);
    assert.equal(body.remote.hostname, "127.0.0.1");
    assert.match(body.url, /^http:\/\//);
  });
});

describe(`${runtime}: errors, aborts, concurrency and trusted proxies (one isolate)`, () => {
  let child: Child;
  let url: string;
  let port: number;
  before(async () => {
    ({ child, url } = await startApp({ args: ["--max-concurrency", "2"] }));
    port = Number(new URL(url).port);
  });
  after(() => stop(child));

  it("a handler that throws: 500 without the error text, logged once, the next request 200", async () => {
    const reply = await fetchFresh(`${url}throw`);
    assert.equal(reply.status, 500);
    assert.doesNotMatch(reply.text, /secret/);
    await child.waitFor(/secret detail that must not reach the client/);
    assert.equal(child.count(/the app threw while handling a request/g), 1, child.stderr);
    assert.equal((await fetchFresh(`${url}token`)).status, 200);
  });

  it("a response body that breaks mid-way ends that response's connection only", async () => {
    const reply = await exchange(port, `GET /broken-stream HTTP/1.1\r\n${HOST}\r\n`, { idleMs: 5_000 });
    assert.match(reply.text, /first chunk/);
    assert.ok(reply.closed, "the connection of the broken body stays open");
    assert.doesNotMatch(reply.text, /\r\n0\r\n\r\n$/, "the broken body was ended as if complete");
    assert.equal((await fetchFresh(`${url}token`)).status, 200);
  });

  it("a client that disconnects aborts request.signal", async () => {
    const from = child.mark();
    const socket = connect({ port, host: "127.0.0.1" });
    socket.on("error", () => {});
    socket.write(`GET /wait-abort HTTP/1.1\r\n${HOST}\r\n`);
    await child.waitFor(/waiting for abort/, 10_000, from);
    socket.destroy();
    await child.waitFor(/request (not )?aborted/, 15_000, from);
    assert.match(child.stdout.slice(from.stdout), /request aborted/);
  });

  it("beyond maxConcurrency requests get 503 at once; afterwards 200 again", async () => {
    const from = child.mark();
    const slow = [fetchFresh(`${url}slow?ms=1500`), fetchFresh(`${url}slow?ms=1500`)];
    await child.waitFor(/slow request started[\s\S]*slow request started/, 10_000, from);
    const started = Date.now();
    const busy = await fetchFresh(`${url}token`);
    assert.equal(busy.status, 503, busy.text);
    assert.ok(Date.now() - started < 1_000, "the 503 was not immediate");
    assert.equal(busy.headers["retry-after"], "1");
    for (const reply of await Promise.all(slow)) assert.equal(reply.status, 200);
    assert.equal((await fetchFresh(`${url}token`)).status, 200);
  });

  it("proxy headers from a trusted peer (loopback by default) set remoteAddr and the scheme", async () => {
    const reply = await fetchFresh(`${url}token`, {
      headers: { "x-forwarded-for": "203.0.113.7, 127.0.0.1", "x-forwarded-proto": "https" },
    });
    const body = JSON.parse(reply.text);
    assert.equal(body.remote.hostname, "203.0.113.7");
    assert.equal(body.peer.hostname, "127.0.0.1", "peerAddr is still the proxy");
    assert.match(body.url, /^https:\/\/127\.0\.0\.1:\d+\/token$/);
  });

  it("a POST body still arrives when a trusted proxy changes the scheme", async () => {
    const reply = await fetchFresh(`${url}echo`, {
      method: "POST",
      headers: { "x-forwarded-proto": "https" },
      body: new TextEncoder().encode("kept"),
    });
    assert.equal(reply.text, "kept");
  });
});

describe(`${runtime}: debug`, () => {
  it("--debug sends the error and its stack to the client", async () => {
    const { child, url } = await startApp({ args: ["--debug"] });
    try {
      const reply = await fetchFresh(`${url}throw`);
      assert.equal(reply.status, 500);
      assert.match(reply.text, /secret detail that must not reach the client/);
      assert.match(reply.text, /at .*app\.ts/);
    } finally {
      await stop(child);
    }
  });
});
