/**
 * HTTPS: served with a certificate made here by openssl, in threads and in processes, with
 * the app seeing https URLs; HTTP/2 by ALPN on Deno and Node, drained by GOAWAY, also for a
 * session that opens while its worker drains; an encrypted key unlocked from the
 * environment; bad files refused before any worker starts, naming the file (exit 2); and a
 * renewed certificate served after SIGHUP, under load, with no failed request.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { once } from "node:events";
import { type ClientHttp2Session, connect } from "node:http2";
import { Agent, request } from "node:https";
import { connect as netConnect, type Socket } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
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
      const served = (res.socket as import("node:tls").TLSSocket).getPeerCertificate().subject.O as string;
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

const serveTls = (args: string[], env: Record<string, string> = {}) =>
  startServer(cliTs, ["-p", "0", ...args, fixture("app.ts")], env);

describe(`${runtime}: HTTPS`, { concurrency: 3 }, () => {
  for (const mode of [MODES[1], MODES[2]]) {
    it(`serves HTTPS in every worker; the app sees https URLs (${mode.name})`, async () => {
      const { child, url } = await serveTls([
        ...mode.args,
        "--cert",
        file("first.pem"),
        "--key",
        file("first.key"),
      ]);
      try {
        assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
        const tokens = new Set<string>();
        for (let i = 0; i < 60 && tokens.size < 2; i++) {
          const reply = await get(`${url}token`);
          assert.equal(reply.status, 200);
          assert.equal(reply.served, "first");
          const body = JSON.parse(reply.text);
          assert.equal(body.url, `${url}token`);
          tokens.add(body.token);
        }
        assert.equal(tokens.size, 2, "both workers served over TLS");
        // HTTP/2 by ALPN where the runtime serves it (Deno, Node); HTTP/1.1 over TLS on Bun.
        const curl = spawnSync("curl", [
          "-s",
          "--cacert",
          file("first.pem"),
          "--http2",
          "-o",
          "/dev/null",
          "-w",
          "%{http_version} %{http_code}",
          `${url}token`,
        ], { encoding: "utf8" });
        assert.equal(curl.stdout, `${runtime === "bun" ? "1.1" : "2"} 200`, curl.stderr);
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

  if (runtime !== "bun") {
    it("HTTP/2: streams on one session go on through a SIGHUP reload with no failed request (processes 2)", async () => {
      // Lossless on Deno too (and Deno's node:http2 client segfaults on Deno.serve's drain: docs/limits.md).
      const args = [...MODES[2].args, ...LOSSLESS, "--cert", file("first.pem"), "--key", file("first.key")];
      const { child, url } = await serveTls(args);
      let session: ClientHttp2Session | undefined;
      let running = true;
      try {
        const failures: string[] = [];
        let answered = 0;
        // One request as a stream of the current session; a session told GOAWAY (a draining
        // worker) or closed is replaced, as browsers do, and the request goes on a new one.
        const once = () =>
          new Promise<void>((resolve) => {
            if (session === undefined || session.closed || session.destroyed) {
              session = connect(url, { ca: trusted });
              session.on("error", () => {});
              session.on("goaway", () => (session = undefined));
            }
            const stream = session.request({ ":path": "/token" });
            stream.on("response", (headers) => {
              if (headers[":status"] !== 200) failures.push(`status ${headers[":status"]}`);
            });
            stream.on("data", () => {});
            stream.on("end", () => {
              answered++;
              resolve();
            });
            stream.on("error", (error) => {
              // A stream refused before the server processed it (past GOAWAY's last stream id,
              // or REFUSED_STREAM: RFC 9113 §8.7) is safe to retry, and clients do, on a new
              // session: the loop sends the request again. Anything else is a failure.
              const refused = (error as { code?: string }).code === "ERR_HTTP2_GOAWAY_SESSION" ||
                /NGHTTP2_REFUSED_STREAM/.test(String(error));
              if (refused) session = undefined;
              else failures.push(String(error));
              resolve();
            });
            stream.end();
          });
        const loop = async () => {
          while (running) await once();
        };
        const loops = [loop(), loop(), loop()];
        await eventually(() => answered >= 30, "answers before the reload", 10_000);
        await reloadAndDrain(child);
        const after = answered;
        await eventually(() => answered >= after + 30, "answers after the reload", 10_000);
        running = false;
        await Promise.all(loops);
        assert.deepEqual(failures, []);
      } finally {
        running = false; // a failed wait must not leave the loops reconnecting forever
        session?.destroy();
        child.killTree();
      }
    });

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
        // Connections the old workers take now, whose TLS handshake waits until they drain.
        const { port } = new URL(url);
        for (let i = 0; i < 4; i++) raw.push(netConnect(Number(port), "127.0.0.1"));
        await Promise.all(raw.map((socket) => once(socket, "connect")));
        let draining = 0;
        for (const session of watched.values()) session.once("goaway", () => draining++);
        child.signal("SIGHUP");
        await eventually(() => draining === 2, "GOAWAY from both old workers", 20_000);
        for (const socket of raw) {
          const secure = tlsConnect({ socket, ca: trusted, servername: "localhost", ALPNProtocols: ["h2"] });
          const session = connect(url, { createConnection: () => secure });
          session.on("error", () => {});
          sessions.push(session);
        }
        // Kept open and untold, these sessions would hold the old workers for 30 s.
        await eventually(
          () => child.count(/exited \(exit code 0; reloaded\)/g) >= 2,
          "the old workers' exit",
          10_000,
        );
      } finally {
        for (const session of sessions) session.destroy();
        for (const socket of raw) socket.destroy();
        child.killTree();
      }
    });
  }

  it("a WebSocket over TLS (wss://) echoes, beside HTTP/2 where it is served (threaded 2)", async () => {
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
