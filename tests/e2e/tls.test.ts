/**
 * HTTPS: served with a certificate made here by openssl, in one isolate, threads and
 * processes, with the app seeing https URLs; HTTP/2 by ALPN on every runtime (curl, h2load and
 * node:http2), drained by GOAWAY, also for a session that opens while its worker drains, and
 * turned off by --no-http2; an encrypted key unlocked from the environment; bad files
 * refused before any worker starts, naming the file (exit 2); and a renewed certificate
 * served after SIGHUP, under load, with no failed request.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { type ClientHttp2Session, connect } from "node:http2";
import { Agent, get as httpsGet, request, type RequestOptions } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Duplex } from "node:stream";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { WebSocket as WsClient } from "ws";
import { certificate as makeCertificate, certificateDir } from "../_certificates.ts";
import {
  Child,
  cliTs,
  eventually,
  fixture,
  LOSSLESS,
  MODES,
  reloadAndDrain,
  runtime,
  startServer,
} from "../_harness.ts";
import { streamsGoOnThroughReload } from "../_http2.ts";

const dir = certificateDir();
const file = (name: string) => join(dir, name);
const certificate = (name: string, keyArgs?: string[]) => makeCertificate(dir, name, keyArgs);
certificate("first");
certificate("renewed");
certificate("locked", ["-passout", "pass:open sesame"]);
const trusted = ["first", "renewed", "locked"].map((name) => readFileSync(file(`${name}.pem`), "utf8"));

interface Reply {
  status: number;
  text: string;
  /** The organisation of the certificate the server showed. */
  served: string;
}

/** One HTTPS request, trusting the certificates made here: on a new connection, or `agent`'s. */
function get(url: string, agent: Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: trusted, agent }, (res) => {
      let text = "";
      const served = (res.socket as TLSSocket).getPeerCertificate().subject.O as string;
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, text, served }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
    req.end();
  });
}

/** The body of one GET on an HTTP/2 session. */
function h2Text(session: ClientHttp2Session, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const stream = session.request({ ":path": path });
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => (text += chunk));
    stream.on("end", () => resolve(text));
    stream.on("error", reject);
    stream.end();
  });
}

/**
 * A TLS connection whose client sends its first flight and holds the rest (its Finished, then
 * what it writes over TLS) until `finish()`: a handshake the client sees done and the server
 * does not.
 */
function halfDoneHandshake(port: number): { secure: TLSSocket; finish(): void } {
  const socket = netConnect(port, "127.0.0.1");
  let held: Uint8Array[] | undefined = [];
  let writes = 0;
  const gated = new Duplex({
    write(chunk, _encoding, done) {
      if (writes++ > 0 && held !== undefined) return void (held.push(chunk), done());
      socket.write(chunk, done);
    },
    read() {},
    final(done) {
      socket.end();
      done();
    },
    destroy(error, done) {
      socket.destroy();
      done(error);
    },
  });
  socket.on("data", (chunk) => gated.push(chunk));
  socket.on("end", () => gated.push(null));
  socket.on("error", (error) => gated.destroy(error));
  const secure = tlsConnect({ socket: gated, ca: trusted, servername: "localhost", ALPNProtocols: ["h2"] });
  return {
    secure,
    finish() {
      for (const chunk of held ?? []) socket.write(chunk);
      held = undefined;
    },
  };
}

// Raw HTTP/2 frames (RFC 9113 §4.1), for input no client library would send.
const [HEADERS, RST_STREAM, SETTINGS, CONTINUATION] = [0x1, 0x3, 0x4, 0x9];
const [END_STREAM, END_HEADERS] = [0x1, 0x4];
const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
function frame(type: number, flags: number, stream: number, payload: Uint8Array): Uint8Array {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return concat(head, payload);
}
const PREFACE = concat(
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  frame(SETTINGS, 0, 0, new Uint8Array()),
);
/** Once `socket` may be written again, or has closed (an error closes it too). */
const drained = (socket: Socket) =>
  new Promise((resolve) => {
    socket.once("drain", resolve);
    socket.once("close", resolve);
  });
/** An HPACK integer with a 7-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number): number[] {
  if (value < 127) return [value];
  const bytes = [127];
  for (value -= 127; value >= 128; value = Math.floor(value / 128)) bytes.push((value % 128) + 128);
  return [...bytes, value];
}
/** Fields as HPACK literals without indexing, with new names (RFC 7541 §6.2.2). */
function hpack(fields: [string, string][]): Uint8Array {
  return concat(...fields.map(([name, value]) =>
    concat(
      new Uint8Array([0, ...hpackInteger(name.length)]),
      Buffer.from(name),
      new Uint8Array(hpackInteger(value.length)),
      Buffer.from(value),
    )
  ));
}

const serveTls = (args: string[], env: Record<string, string> = {}) =>
  startServer(cliTs, ["-p", "0", ...args, fixture("app.ts")], env);

const hasCurl = spawnSync("curl", ["--version"]).status === 0;

/** The HTTP version and status curl got for `url`, asking for HTTP/2 (ALPN h2 and http/1.1). */
function curlHttp2(url: string): string {
  const curl = spawnSync("curl", [
    "-s",
    "--cacert",
    file("first.pem"),
    "--http2",
    "-o",
    "/dev/null",
    "-w",
    "%{http_version} %{http_code}",
    url,
  ], { encoding: "utf8" });
  return curl.stdout || curl.stderr;
}

/**
 * `requests` requests over HTTP/2 with Debian's h2load (nghttp2-client, which .ci/run installs):
 * 10 connections of 10 streams each; what it counted. It checks no certificate.
 */
function h2load(url: string, requests: number): Promise<{ succeeded: number; failed: number; ok: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn("h2load", ["-n", String(requests), "-c", "10", "-m", "10", url]);
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    child.on(
      "error",
      (error) => reject(new Error(`h2load: ${error.message} (apt-get install nghttp2-client)`)),
    );
    child.on("exit", () => {
      const counts = /(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
      const ok = /status codes: (\d+) 2xx/.exec(out);
      if (counts === null || ok === null) return reject(new Error(`h2load counted nothing:\n${out}`));
      const [succeeded, failed, errored, timeout] = counts.slice(1).map(Number);
      resolve({ succeeded, failed: failed + errored + timeout, ok: Number(ok[1]) });
    });
  });
}

/** The protocol a client offering h2 and http/1.1 by ALPN got, and the status of one GET. */
function offeringBoth(url: string): Promise<{ alpn: string | false | null; status: number }> {
  // node:https passes TLS options on to tls.connect; its types do not list ALPNProtocols.
  const options = { ca: trusted, agent: false, ALPNProtocols: ["h2", "http/1.1"] } as RequestOptions;
  return new Promise((resolve, reject) => {
    const req = httpsGet(url, options, (res) => {
      res.resume();
      const alpn = (res.socket as TLSSocket).alpnProtocol;
      res.on("end", () => resolve({ alpn, status: res.statusCode! }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
  });
}

describe(`${runtime}: HTTPS`, { concurrency: 3 }, () => {
  for (const mode of [MODES[0], MODES[1], MODES[2]]) {
    it(`serves HTTPS in every worker, HTTP/2 to a client that asks (10,000 requests by h2load, none failed); the app sees https URLs (${mode.name})`, async () => {
      const { child, url } = await serveTls([
        ...mode.args,
        "--cert",
        file("first.pem"),
        "--key",
        file("first.key"),
      ]);
      const session = connect(url, { ca: trusted });
      session.on("error", () => {});
      try {
        assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
        const tokens = new Set<string>();
        for (let i = 0; i < 60 && tokens.size < mode.workers; i++) {
          const reply = await get(`${url}token`);
          assert.equal(reply.status, 200);
          assert.equal(reply.served, "first");
          const body = JSON.parse(reply.text);
          assert.equal(body.url, `${url}token`);
          tokens.add(body.token);
        }
        assert.equal(tokens.size, mode.workers, "every worker served over TLS");
        // HTTP/2 by ALPN, on every runtime: curl, and node:http2 (which offers h2 alone).
        if (hasCurl) assert.equal(curlHttp2(`${url}token`), "2 200");
        const body = JSON.parse(await h2Text(session, "/token"));
        assert.equal(session.alpnProtocol, "h2");
        assert.equal(body.url, `${url}token`);
        // Under load: 10,000 requests, 100 streams at a time, none lost.
        assert.deepEqual(await h2load(`${url}token`, 10_000), { succeeded: 10_000, failed: 0, ok: 10_000 });
      } finally {
        session.destroy();
        child.killTree();
      }
    });
  }

  it("HTTP/2 is held to the request limits: a header list past --max-header-size gets 431, a body of no declared length past --max-body-size 413", async () => {
    const { child, url } = await serveTls([
      "--max-body-size",
      "1000",
      "--cert",
      file("first.pem"),
      "--key",
      file("first.key"),
    ]);
    const session = connect(url, { ca: trusted });
    session.on("error", () => {});
    // DATA frames with no Content-Length: the length is known only once the stream ends.
    const post = (bytes: number) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": "/echo" });
        let status = 0;
        let text = "";
        stream.setEncoding("utf8");
        stream.on("response", (fields) => (status = Number(fields[":status"])));
        stream.on("data", (chunk) => (text += chunk));
        stream.on("end", () => resolve({ status, text }));
        stream.on("error", reject);
        stream.end(new Uint8Array(bytes));
      });
    try {
      // 20 KiB of fields, past the default 16 KiB (Bun answers itself: its own limit is 16 KiB).
      const fields = Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [`x-field-${i}`, "a".repeat(1000)]),
      );
      const big = session.request({ ":path": "/token", ...fields });
      big.resume();
      const [head] = await once(big, "response");
      assert.equal(head[":status"], 431);
      assert.deepEqual(await post(1000), { status: 200, text: "\0".repeat(1000) });
      const over = await post(1001);
      assert.equal(over.status, 413);
      assert.match(over.text, /larger than the limit of 1000 bytes/);
    } finally {
      session.destroy();
      child.killTree();
    }
  });

  it("HTTP/2: malformed frames and floods end their own connection, and the worker serves on", async () => {
    const { child, url } = await serveTls(["--cert", file("first.pem"), "--key", file("first.key")]);
    const port = Number(new URL(url).port);
    /**
     * The token of the isolate answering a request on a new session, once it answers one (the
     * handlers of reset streams may fill --max-concurrency for a moment: 503).
     */
    const token = async () => {
      let answer: { token?: string } = {};
      await eventually(async () => {
        const session = connect(url, { ca: trusted });
        session.on("error", () => {});
        try {
          const text = await h2Text(session, "/token");
          answer = text.startsWith("{") ? JSON.parse(text) : {};
        } finally {
          session.destroy();
        }
        return answer.token !== undefined;
      }, "an answer");
      return answer.token;
    };
    try {
      const before = await token();
      const headers = (id: number, path: string, flags = END_STREAM | END_HEADERS) =>
        frame(
          HEADERS,
          flags,
          id,
          hpack([[":method", "GET"], [":scheme", "https"], [":path", path], [
            ":authority",
            "localhost",
          ]]),
        );
      const cases: [string, (socket: TLSSocket) => Promise<void> | void][] = [
        [
          "an HTTP/1.1 request after ALPN chose h2",
          (socket) => void socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ],
        [
          "a header block HPACK cannot decode",
          (socket) =>
            void socket.write(
              concat(
                PREFACE,
                frame(HEADERS, END_STREAM | END_HEADERS, 1, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f])),
              ),
            ),
        ],
        [
          "a frame past SETTINGS_MAX_FRAME_SIZE",
          (socket) =>
            void socket.write(concat(PREFACE, frame(HEADERS, END_HEADERS, 1, new Uint8Array(20_000)))),
        ],
        ["CONTINUATION frames without end (5 MB)", async (socket) => {
          socket.write(concat(PREFACE, headers(1, "/token", 0)));
          const more = frame(CONTINUATION, 0, 1, hpack([["x-flood", "a".repeat(1000)]]));
          for (let i = 0; i < 5000 && !socket.destroyed; i++) {
            if (!socket.write(more)) await drained(socket);
          }
        }],
        ["streams reset as they open (3,000)", async (socket) => {
          socket.write(PREFACE);
          for (let id = 1; id < 6000 && !socket.destroyed; id += 2) {
            const pair = concat(
              headers(id, "/slow?ms=1000"),
              frame(RST_STREAM, 0, id, new Uint8Array([0, 0, 0, 8])),
            );
            if (!socket.write(pair)) await drained(socket);
          }
        }],
      ];
      for (const [what, send] of cases) {
        const socket = tlsConnect({
          port,
          host: "127.0.0.1",
          ca: trusted,
          servername: "localhost",
          ALPNProtocols: ["h2"],
        });
        socket.on("error", () => {});
        socket.resume();
        const closed = new Promise((resolve) => socket.once("close", resolve));
        await once(socket, "secureConnect");
        await send(socket);
        const ended = await Promise.race([
          closed.then(() => true),
          new Promise((resolve) => setTimeout(resolve, 5_000, false)),
        ]);
        socket.destroy();
        assert.ok(ended, `${what}: the connection ends`);
        assert.equal(await token(), before, `${what}: the same worker serves on`);
      }
    } finally {
      child.killTree();
    }
  });

  // Deno serves through Deno.serve with WebSockets on and through its own accept loop
  // without: each is told its ALPN apart.
  const offModes = [
    { name: "one isolate", args: [] as string[] },
    { name: MODES[2].name, args: [...MODES[2].args] },
    ...(runtime === "deno" ? [{ name: "one isolate, --max-web-sockets 0", args: LOSSLESS }] : []),
  ];
  for (const mode of offModes) {
    it(`HTTP/2 off (--no-http2): a client offering h2 gets HTTP/1.1, and wss:// upgrades beside it (${mode.name})`, async () => {
      const { child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...mode.args,
        "--no-http2",
        "--cert",
        file("first.pem"),
        "--key",
        file("first.key"),
        fixture("ws_app.ts"),
      ]);
      try {
        // HTTP/1.1 by ALPN; Bun with HTTP/2 off chooses no protocol, which is HTTP/1.1 as well.
        const { alpn, status } = await offeringBoth(`${url}token`);
        assert.equal(alpn, runtime === "bun" ? false : "http/1.1");
        assert.equal(status, 200);
        if (hasCurl) assert.equal(curlHttp2(`${url}token`), "1.1 200");
        if (mode.args !== LOSSLESS) {
          const socket = new WsClient(`${url.replace(/^https/, "wss")}ws/plain`, { ca: trusted });
          const [message] = await once(socket, "message");
          assert.match(String(message), /^hello from /);
          socket.close(1000);
          await once(socket, "close");
        }
      } finally {
        child.killTree();
      }
    });
  }

  it("an encrypted key opens with MULTISERVE_KEY_PASSPHRASE (not on Deno); a wrong one is refused, exit 2", async () => {
    const args = ["--cert", file("locked.pem"), "--key", file("locked.key")];
    if (runtime === "deno") {
      // Deno's node:crypto cannot decrypt a key: refused, saying how to store it instead.
      const env = { MULTISERVE_KEY_PASSPHRASE: "open sesame" };
      const child = new Child(cliTs, ["-p", "0", ...args, fixture("app.ts")], env);
      assert.equal((await child.exit()).code, 2);
      assert.match(
        child.stderr,
        /locked\.key is encrypted, and this runtime cannot decrypt it .*openssl pkey/,
      );
      return;
    }
    const { child, url } = await serveTls(args, { MULTISERVE_KEY_PASSPHRASE: "open sesame" });
    try {
      assert.equal((await get(`${url}token`)).served, "locked");
    } finally {
      child.killTree();
    }
    const wrong = new Child(cliTs, ["-p", "0", ...args, fixture("app.ts")], {
      MULTISERVE_KEY_PASSPHRASE: "wrong",
    });
    assert.equal((await wrong.exit()).code, 2);
    assert.match(wrong.stderr, /the key .*locked\.key is encrypted and the passphrase does not open it/);
  });

  const bad: [string, string[], RegExp][] = [
    [
      "a missing certificate",
      ["--cert", file("none.pem"), "--key", file("first.key")],
      /cannot read the certificate .*none\.pem/,
    ],
    [
      "a key that is not the certificate's",
      ["--cert", file("first.pem"), "--key", file("renewed.key")],
      /the key .*renewed\.key does not belong to the certificate .*first\.pem/,
    ],
    [
      "a key given as the certificate",
      ["--cert", file("first.key"), "--key", file("first.key")],
      /the certificate .*first\.key is not a PEM certificate/,
    ],
    ["a certificate without its key", ["--cert", file("first.pem")], /option "cert" needs "key" too/],
  ];
  for (const [what, args, message] of bad) {
    it(`${what}: named, exit 2, before any worker starts`, async () => {
      const child = new Child(cliTs, ["-p", "0", ...MODES[2].args, ...args, fixture("app.ts")]);
      assert.equal((await child.exit()).code, 2, child.stderr);
      assert.match(child.stderr, message);
      assert.doesNotMatch(child.stderr, /started/);
    });
  }

  // Keep-alive clients: a new connection per request would meet SO_REUSEPORT's resets on a
  // closing socket (Deno, Bun) unless tcp_migrate_req is on; see graceful_restarts.test.ts.
  it("SIGHUP serves a renewed certificate, under HTTPS keep-alive load, with no failed request (processes 2)", async () => {
    const live = certificateDir();
    copyFileSync(file("first.pem"), join(live, "cert.pem"));
    copyFileSync(file("first.key"), join(live, "key.pem"));
    const args = [
      ...MODES[2].args,
      ...LOSSLESS,
      "--cert",
      join(live, "cert.pem"),
      "--key",
      join(live, "key.pem"),
    ];
    const { child, url } = await serveTls(args);
    let running = true;
    try {
      const failures: string[] = [];
      const served: string[] = [];
      // No resumed sessions: a resumed TLS session shows no certificate.
      const agent = new Agent({ keepAlive: true, maxSockets: 3, ca: trusted, maxCachedSessions: 0 });
      const loop = async () => {
        while (running) {
          try {
            const reply = await get(`${url}token`, agent);
            if (reply.status === 200) served.push(reply.served);
            else failures.push(`status ${reply.status}`);
          } catch (error) {
            failures.push(String(error));
          }
        }
      };
      const loops = [loop(), loop(), loop()];
      await eventually(() => served.length >= 20, "answers before the reload");
      copyFileSync(file("renewed.pem"), join(live, "cert.pem"));
      copyFileSync(file("renewed.key"), join(live, "key.pem"));
      await reloadAndDrain(child);
      const after = served.length;
      await eventually(() => served.length >= after + 30, "answers after the reload");
      running = false;
      await Promise.all(loops);
      agent.destroy();
      assert.deepEqual(failures, []);
      assert.equal(served[0], "first");
      assert.deepEqual(
        new Set(served.slice(-10)),
        new Set(["renewed"]),
        "new connections get the renewed certificate",
      );
    } finally {
      running = false; // a failed wait must not leave the loops running forever
      child.killTree();
    }
  });

  for (const mode of [MODES[1], MODES[2]]) {
    it(`HTTP/2: streams on one session go on through a SIGHUP reload with no failed request (${mode.name})`, async () => {
      // Lossless on Deno too (and Deno's node:http2 client segfaults on Deno.serve's drain: docs/limits.md).
      const args = [...mode.args, ...LOSSLESS, "--cert", file("first.pem"), "--key", file("first.key")];
      const { child, url } = await serveTls(args);
      try {
        await streamsGoOnThroughReload(child, () => connect(url, { ca: trusted }));
      } finally {
        child.killTree();
      }
    });
  }

  it("HTTP/2: a session that opens while its worker drains is told GOAWAY, so the old workers exit without waiting out --graceful-timeout (processes 2)", async () => {
    const { child, url } = await serveTls([
      ...MODES[2].args,
      ...LOSSLESS,
      "--cert",
      file("first.pem"),
      "--key",
      file("first.key"),
    ]);
    const sessions: ClientHttp2Session[] = [];
    const raw: Socket[] = [];
    try {
      // A session on each old worker: its GOAWAY says that worker has begun to drain.
      const watched = new Map<string, ClientHttp2Session>();
      for (let tries = 0; watched.size < 2 && tries < 50; tries++) {
        const session = connect(url, { ca: trusted });
        session.on("error", () => {});
        sessions.push(session);
        const { token } = JSON.parse(await h2Text(session, "/token"));
        if (!watched.has(token)) watched.set(token, session);
      }
      assert.equal(watched.size, 2, "a session on each of the two workers");
      // Connections the old workers take now, whose TLS handshake waits until they drain; and
      // connections whose handshake is half done then, the client's last flight held back (Bun
      // told those nothing, and served them on).
      const port = Number(new URL(url).port);
      for (let i = 0; i < 4; i++) raw.push(netConnect(port, "127.0.0.1"));
      await Promise.all(raw.map((socket) => once(socket, "connect")));
      const halfDone = Array.from({ length: 4 }, () => halfDoneHandshake(port));
      await Promise.all(halfDone.map(({ secure }) => once(secure, "secureConnect")));
      let draining = 0;
      for (const session of watched.values()) session.once("goaway", () => draining++);
      child.signal("SIGHUP");
      await eventually(() => draining === 2, "GOAWAY from both old workers", 20_000);
      const late: ClientHttp2Session[] = [];
      const secured = [
        ...raw.map((socket) =>
          tlsConnect({ socket, ca: trusted, servername: "localhost", ALPNProtocols: ["h2"] })
        ),
        ...halfDone.map(({ secure }) => secure),
      ];
      for (const secure of secured) {
        const session = connect(url, { createConnection: () => secure });
        session.on("error", () => {});
        sessions.push(session);
        late.push(session);
      }
      for (const { finish } of halfDone) finish();
      // Each asks again and again, as a busy client does (no idle timeout closes it): kept open
      // and untold, these sessions would hold the old workers for 30 s.
      const told = new Set<ClientHttp2Session>();
      for (const session of late) session.once("goaway", () => told.add(session));
      const asking = setInterval(() => {
        for (const session of late) {
          if (told.has(session) || session.closed || session.destroyed) continue;
          const stream = session.request({ ":path": "/token" });
          stream.on("error", () => {});
          stream.resume();
          stream.end();
        }
      }, 100);
      try {
        await eventually(
          () => child.count(/exited \(exit code 0; reloaded\)/g) >= 2,
          "the old workers' exit",
          10_000,
        );
      } finally {
        clearInterval(asking);
      }
    } finally {
      for (const session of sessions) session.destroy();
      for (const socket of raw) socket.destroy();
      child.killTree();
    }
  });

  it("a WebSocket over TLS (wss://) echoes, beside HTTP/2 (threaded 2)", async () => {
    const { child, url } = await startServer(cliTs, [
      "-p",
      "0",
      ...MODES[1].args,
      "--cert",
      file("first.pem"),
      "--key",
      file("first.key"),
      fixture("ws_app.ts"),
    ]);
    try {
      const socket = new WsClient(`${url.replace(/^https/, "wss")}ws/plain`, { ca: trusted });
      const messages: string[] = [];
      await new Promise<void>((resolve, reject) => {
        socket.on("message", (data) => {
          messages.push(String(data));
          if (messages.length === 1) socket.send("over tls");
          else socket.close(1000);
        });
        socket.on("close", () => resolve());
        socket.on("error", reject);
      });
      assert.match(messages[0], /^hello from /);
      assert.equal(messages[1], "over tls");
    } finally {
      child.killTree();
    }
  });
});
