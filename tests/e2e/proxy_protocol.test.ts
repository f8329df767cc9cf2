/**
 * The PROXY protocol (`--proxy-protocol`) behind Debian's real HAProxy in TCP mode, as
 * docs/deploying.md has it: `send-proxy-v2` and `send-proxy` (v1), over TCP and over TLS
 * passed through to multiserve. The app sees the client HAProxy names (a client bound to
 * 127.0.0.2, HAProxy itself being 127.0.0.1); a reload under load through HAProxy fails no
 * request; a header from an untrusted peer, a malformed one, or one that never ends closes
 * its connection unanswered and is counted in /metrics. Node serves it everywhere, Deno on
 * plain TCP with its own accept loop (`--max-web-sockets 0`); Bun refuses it (exit 2), and
 * Deno refuses it over TLS and with WebSockets on.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect as http2Connect } from "node:http2";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { adminUrlOf, metrics, sum } from "../_admin.ts";
import { certificate, certificateDir } from "../_certificates.ts";
import {
  Child,
  cliTs,
  eventually,
  fetchFresh,
  fixture,
  freePort,
  loadLoop,
  LOSSLESS,
  MODES,
  modTs,
  reloadAndDrain,
  runtime,
  startServer,
  tempDir,
} from "../_harness.ts";
import { exchange } from "../_raw.ts";
import { canMakeHosts, makeHost } from "../_hosts.ts";

const HAPROXY =
  spawnSync("sh", ["-c", "command -v haproxy || ls /usr/sbin/haproxy"], { encoding: "utf8" }).stdout.trim()
    .split("\n")[0];

/** Where the PROXY protocol is served: Node everywhere, Deno on plain TCP (WebSockets off). */
const served = runtime !== "bun";

/**
 * HAProxy in TCP mode in front of `backend` ("HOST:PORT"), on two ports of its own: one
 * whose connections reach the backend with `send-proxy-v2`, one with `send-proxy` (v1).
 */
async function haproxy(
  backend: string,
): Promise<{ v2: number; v1: number; stop(): Promise<void>; log(): string }> {
  assert.ok(HAPROXY, "haproxy (Debian's package) must be installed: .ci/run installs it");
  const dir = tempDir("multiserve-haproxy-");
  const [v2, v1] = [await freePort(), await freePort()];
  const front = (name: string, port: number, send: string) => `
frontend ${name}
  bind 127.0.0.1:${port}
  default_backend ${name}_app
backend ${name}_app
  server app ${backend} ${send}
`;
  writeFileSync(
    join(dir, "haproxy.cfg"),
    `global
  maxconn 2000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${front("v2", v2, "send-proxy-v2")}${front("v1", v1, "send-proxy")}`,
  );
  const child: ChildProcess = spawn(HAPROXY, ["-f", join(dir, "haproxy.cfg"), "-db"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const accepts = (port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
  try {
    await eventually(async () => (await accepts(v2)) && (await accepts(v1)), "HAProxy listening", 10_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\n${output}`);
  }
  return {
    v2,
    v1,
    log: () => output,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** What the fixture app says of one request to `port` + `path`, over a fresh connection from 127.0.0.2. */
async function seen(port: number, path = "/token", headers: Record<string, string> = {}) {
  const reply = await fetchFresh(`http://127.0.0.1:${port}${path}`, { localAddress: "127.0.0.2", headers });
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text);
}

/** The same over HTTPS (HTTP/1.1), the certificate not checked: a TLS connection from 127.0.0.2. */
function seenOverTls(port: number): Promise<{ remote: { hostname: string }; url: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `https://127.0.0.1:${port}/token`,
      { agent: false, rejectUnauthorized: false, localAddress: "127.0.0.2" },
      (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve(JSON.parse(text)));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("no HTTPS answer within 10 s")));
    req.on("error", reject);
    req.end();
  });
}

/** The same over HTTP/2 (ALPN h2), the certificate not checked. */
function seenOverHttp2(port: number): Promise<{ remote: { hostname: string } }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(
      `https://127.0.0.1:${port}`,
      {
        rejectUnauthorized: false,
        localAddress: "127.0.0.2",
      } as Parameters<typeof http2Connect>[1],
    );
    session.on("error", reject);
    const stream = session.request({ ":path": "/token" });
    let text = "";
    stream.on("data", (chunk) => (text += chunk));
    stream.on("end", () => {
      session.close();
      resolve(JSON.parse(text));
    });
    stream.on("error", reject);
  });
}

/**
 * Send `bytes` on a new connection from `from`, then collect what comes back until the
 * server closes (or `idleMs` of silence): what a balancer, or someone pretending, would see.
 */
function raw(
  port: number,
  bytes: string,
  from: string,
  idleMs = 5_000,
): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from });
    let text = "";
    const timer = setTimeout(() => finish(false), idleMs);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    socket.on("data", (data) => (text += data.toString("latin1")));
    socket.on("close", () => finish(true));
    socket.on("error", () => {}); // a reset counts as closed, reported by "close"
    socket.on("connect", () => socket.write(Buffer.from(bytes, "latin1")));
  });
}

const REQUEST = "GET /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

describe(`${runtime}: PROXY protocol`, { concurrency: 2 }, () => {
  // The longest first, so that the others run beside it.
  it("a SIGHUP reload under load through HAProxy fails no request (processes 2)", {
    skip: served ? false : "Bun refuses --proxy-protocol",
  }, async (t) => {
    if (!canMakeHosts) return void t.skip("needs root and iproute2 for a host with tcp_migrate_req on");
    const host = makeHost(`pp-${runtime}`, { deno: 211, bun: 212, node: 213 }[runtime], 1);
    let child: Child | undefined;
    let proxy: Awaited<ReturnType<typeof haproxy>> | undefined;
    let traffic: ReturnType<typeof loadLoop> | undefined;
    try {
      // HAProxy reaches the host from 10.x.1.1: trusted, as a balancer on a private network is.
      child = new Child(
        modTs,
        [
          ...[
            "--host",
            host.address,
            "-p",
            "8000",
            "--proxy-protocol",
            "--forwarded-allow-ips",
            "10.0.0.0/8",
          ],
          ...[...MODES[2].args, ...LOSSLESS, "--keep-alive-timeout", "75", fixture("app.ts")],
        ],
        {},
        undefined,
        { wrap: ["ip", "netns", "exec", host.name] },
      );
      await child.waitFor(/listening on/);
      proxy = await haproxy(`${host.address}:8000`);
      traffic = loadLoop(`http://127.0.0.1:${proxy.v2}/`, 4);
      await eventually(() => traffic!.done() >= 50, "load through HAProxy");
      await reloadAndDrain(child);
      const after = traffic.done();
      await eventually(() => traffic!.done() >= after + 50, "load after the reload");
      const { ok, failures, tokens } = await traffic.stop();
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} failed\n${proxy.log()}`);
      assert.ok(new Set(tokens).size >= 3, "old and new workers answered");
      assert.equal((await seen(proxy.v1)).remote.hostname, "127.0.0.2", "the new workers read the header");
    } finally {
      await traffic?.stop();
      await proxy?.stop();
      child?.killTree();
      host.remove();
    }
  });

  for (const mode of MODES.slice(0, 3)) {
    it(
      `behind HAProxy's send-proxy-v2 and send-proxy, the app sees the client HAProxy names (${mode.name})`,
      {
        skip: served ? false : "Bun refuses --proxy-protocol (see below)",
      },
      async () => {
        const { child, url } = await startServer(modTs, [
          ...["-p", "0", "--proxy-protocol", "--access-log", ...mode.args, ...LOSSLESS, fixture("app.ts")],
        ]);
        const proxy = await haproxy(new URL(url).host).catch((error) => {
          child.killTree();
          throw error;
        });
        try {
          for (const port of [proxy.v2, proxy.v1]) {
            for (let i = 0; i < 4; i++) {
              const { remote, peer } = await seen(port);
              assert.equal(remote.hostname, "127.0.0.2", `the client HAProxy names on ${port}`);
              assert.equal(peer.hostname, "127.0.0.2", "it is the connection's peer");
              assert.notEqual(peer.port, 0);
            }
            // X-Forwarded-For is judged against the client the header named (127.0.0.2, not
            // trusted), not against HAProxy: a client cannot name someone else through it.
            const forged = await seen(port, "/token", { "X-Forwarded-For": "203.0.113.9" });
            assert.equal(forged.remote.hostname, "127.0.0.2", "a forged X-Forwarded-For changes nothing");
          }
          // The access log names the client too (its lines are written in batches).
          await eventually(
            () =>
              (child.stdout.match(/^127\.0\.0\.2 - - .*"GET \/token HTTP\/1\.1" 200/gm) ?? []).length === 10,
            "ten access log lines naming the client",
          );
        } finally {
          await proxy.stop();
          child.killTree();
        }
      },
    );
  }

  it(
    "over TLS passed through HAProxy: the header comes before the handshake (HTTPS and HTTP/2, processes 2)",
    {
      skip: runtime === "node" ? false : `${runtime} refuses --proxy-protocol over TLS (see below)`,
    },
    async () => {
      const { cert, key } = certificate(certificateDir(), "proxied");
      const { child, url } = await startServer(modTs, [
        ...["-p", "0", "--cert", cert, "--key", key, "--proxy-protocol", ...MODES[2].args, fixture("app.ts")],
      ]);
      const proxy = await haproxy(new URL(url).host).catch((error) => {
        child.killTree();
        throw error;
      });
      try {
        for (const port of [proxy.v2, proxy.v1]) {
          const reply = await seenOverTls(port);
          assert.equal(reply.remote.hostname, "127.0.0.2", `HTTPS on ${port}: the client HAProxy names`);
          assert.match(reply.url, /^https:/);
          assert.equal((await seenOverHttp2(port)).remote.hostname, "127.0.0.2", `HTTP/2 on ${port}`);
        }
      } finally {
        await proxy.stop();
        child.killTree();
      }
    },
  );

  it("on a unix socket behind HAProxy (processes 2): the client HAProxy names", {
    skip: runtime === "node" ? false : `${runtime} does not read PROXY headers on a unix socket`,
  }, async () => {
    const path = join(tempDir("multiserve-haproxy-unix-"), "app.sock");
    const child = new Child(modTs, [
      "--bind",
      `unix:${path}`,
      "--proxy-protocol",
      ...MODES[2].args,
      fixture("app.ts"),
    ]);
    await child.waitFor(/listening on unix:/);
    const proxy = await haproxy(path).catch((error) => {
      child.killTree();
      throw error;
    });
    try {
      for (const port of [proxy.v2, proxy.v1]) {
        assert.equal((await seen(port)).remote.hostname, "127.0.0.2", `through ${port}`);
      }
    } finally {
      await proxy.stop();
      child.killTree();
    }
  });

  it(
    "a header from an untrusted peer, a malformed one, or none in time closes the connection unanswered, counted in /metrics (processes 2)",
    {
      skip: served ? false : "Bun refuses --proxy-protocol",
    },
    async () => {
      const { child, url } = await startServer(modTs, [
        ...["-p", "0", "--proxy-protocol", "--forwarded-allow-ips", "127.0.0.1", "--header-timeout", "1"],
        ...["--admin-port", "0", ...MODES[2].args, ...LOSSLESS, fixture("app.ts")],
      ]);
      const port = Number(new URL(url).port);
      try {
        const header = "PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\n";
        // A trusted peer's header is believed…
        const believed = await raw(port, header + REQUEST, "127.0.0.1");
        assert.match(believed.text, /"hostname":"198\.51\.100\.7"/);
        // A LOCAL header (HAProxy's health checks) keeps the real peer.
        const local = await raw(port, "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00" + REQUEST, "127.0.0.1");
        assert.match(local.text, /"peer":\{[^}]*"hostname":"127\.0\.0\.1"/);
        // …an untrusted one's closes the connection at once, nothing said.
        assert.deepEqual(await raw(port, header + REQUEST, "127.0.0.2"), { text: "", closed: true });
        for (
          const bad of [
            "PROXY TCP4 198.51.100.7 127.0.0.1 40000\r\n", // a field short
            "PROXY TCP4 300.1.2.3 127.0.0.1 40000 80\r\n", // not an address
            "\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c", // version 3
            "", // no header at all: every connection must have one
          ]
        ) {
          assert.deepEqual(
            await raw(port, bad + REQUEST, "127.0.0.1"),
            { text: "", closed: true },
            JSON.stringify(bad),
          );
        }
        // A header that never ends: closed within the header timeout (1 s), nothing said.
        const began = Date.now();
        assert.deepEqual(await raw(port, "PROXY TCP4 198.51.1", "127.0.0.1"), { text: "", closed: true });
        assert.ok(Date.now() - began < 4_000, `closed after ${Date.now() - began} ms`);

        const admin = adminUrlOf(child);
        const name = "multiserve_proxy_protocol_refused_total";
        await eventually(async () => {
          const text = await metrics(admin);
          return sum(text, name, 'reason="untrusted"') === 1 && sum(text, name, 'reason="malformed"') === 4 &&
            sum(text, name, 'reason="timeout"') === 1;
        }, "the refusals counted in /metrics");
      } finally {
        child.killTree();
      }
    },
  );

  it("without --proxy-protocol, a PROXY header is bad HTTP: 400", async () => {
    const { child, url } = await startServer(modTs, ["-p", "0", ...LOSSLESS, fixture("app.ts")]);
    try {
      const reply = await exchange(
        Number(new URL(url).port),
        "PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\n" + REQUEST,
      );
      assert.deepEqual(reply.statuses, [400], reply.text);
    } finally {
      child.killTree();
    }
  });

  it(
    `${
      runtime === "node" ? "(Deno and Bun only)" : runtime
    } refuses --proxy-protocol where it cannot read it, with exit 2 saying why`,
    {
      skip: runtime === "node" ? "Node serves it everywhere" : false,
    },
    async () => {
      const { cert, key } = certificate(certificateDir(), "refused");
      const refusals: [string[], RegExp][] = runtime === "bun"
        ? [[["--processes", "2"], /not available on Bun: Bun\.serve accepts connections itself/]]
        : [
          [
            ["--cert", cert, "--key", key, ...LOSSLESS],
            /with --cert: Deno's TLS listener does the handshake as it accepts/,
          ],
          [[], /with WebSockets on: .*add --max-web-sockets 0/],
          [
            ["--bind", `unix:${join(certificateDir(), "app.sock")}`, ...LOSSLESS],
            /on a unix socket: .*bind a TCP port/,
          ],
          [["--threads", "2"], /with WebSockets on/],
        ];
      for (const [args, message] of refusals) {
        const child = new Child(modTs, ["-p", "0", "--proxy-protocol", ...args, fixture("app.ts")]);
        const { code } = await child.exit();
        assert.equal(code, 2, child.stderr);
        assert.match(child.stderr, message);
        // Said before any worker starts, and by --check, as every bad option is.
        assert.doesNotMatch(child.stderr, /started/);
        const check = new Child(cliTs, [
          "--check",
          "-p",
          "0",
          "--proxy-protocol",
          ...args,
          fixture("app.ts"),
        ]);
        assert.equal((await check.exit()).code, 2, check.stderr);
        assert.match(check.stderr, message);
      }
    },
  );
});
