/**
 * Behind a proxy, on every runtime: RFC 7239's `Forwarded` and `X-Forwarded-Host`, `-Port`
 * and `-Prefix` (with `-For` and `-Proto`), believed from trusted peers only and only when
 * `--forwarded-headers` lists them, malformed values ignored; and cleartext HTTP/2 with prior
 * knowledge (`--h2c`), which a proxy such as Envoy or Caddy's `h2c://` speaks to its
 * upstream, beside HTTP/1.1 on the same port. Real servers, curl and h2load.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { connect } from "node:http2";
import { Child, cliTs, fetchFresh, fixture, LOSSLESS, runtime, startServer } from "../_harness.ts";
import { streamsGoOnThroughReload } from "../_http2.ts";

const ALL =
  "forwarded,x-forwarded-for,x-forwarded-proto,x-forwarded-host,x-forwarded-port,x-forwarded-prefix";

/** What the fixture's /token route says of a request: whom and which URL the app sees. */
interface Seen {
  remote: { hostname: string; port: number };
  peer: { hostname: string; port: number };
  url: string;
  prefix: string;
}

async function seen(url: string, headers: Record<string, string>): Promise<Seen> {
  const reply = await fetchFresh(`${url}token`, { headers });
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text);
}

/** Run a program to its end: its exit code and output (curl, h2load). */
function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** One request by curl: HTTP/2 with prior knowledge (or HTTP/1.1), its version, status and body. */
async function curl(
  url: string,
  { h2c = true, headers = [] as string[] } = {},
): Promise<{ version: string; status: number; body: string }> {
  const args = ["-s", "-m", "15", "-o", "-", "-w", "\n%{http_version} %{http_code}"];
  if (h2c) args.push("--http2-prior-knowledge");
  for (const header of headers) args.push("-H", header);
  const { stdout } = await run("curl", [...args, url]);
  const end = stdout.lastIndexOf("\n");
  const [version, status] = stdout.slice(end + 1).split(" ");
  return { version, status: Number(status), body: stdout.slice(0, end) };
}

/** 10,000 requests over 10 HTTP/2 connections, 10 streams each: the counts h2load reports. */
async function h2load(
  url: string,
): Promise<{ succeeded: number; failed: number; errored: number; text: string }> {
  const { stdout } = await run("h2load", ["-n", "10000", "-c", "10", "-m", "10", url]);
  const match = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/
    .exec(stdout);
  assert.ok(match, stdout);
  return { succeeded: Number(match[1]), failed: Number(match[2]), errored: Number(match[3]), text: stdout };
}

for (const mode of [{ name: "one isolate", args: [] }, { name: "processes 2", args: ["--processes", "2"] }]) {
  describe(`${runtime}: proxy headers from a trusted peer, every kind listed (${mode.name})`, () => {
    let child: Child;
    let url: string;
    before(async () => {
      ({ child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...mode.args,
        "--forwarded-headers",
        ALL,
        fixture("app.ts"),
      ]));
    });
    after(async () => {
      child.killTree();
      await child.exited;
    });

    it("Forwarded names the client (IPv6 in brackets, with its port), the scheme and the host", async () => {
      const body = await seen(url, { forwarded: 'for="[2001:db8::7]:4711";proto=https;host=shop.example' });
      assert.deepEqual(body.remote, { hostname: "2001:db8::7", port: 4711 });
      assert.equal(body.peer.hostname, "127.0.0.1", "peerAddr is still the proxy");
      assert.equal(body.url, "https://shop.example/token");
    });

    it("the client is the nearest untrusted for= of several elements; the last element's proto and host are the URL's", async () => {
      const body = await seen(url, {
        forwarded: 'for=198.51.100.1;proto=http, For="127.0.0.1";Proto=https;Host="shop.example:8443"',
      });
      assert.equal(body.remote.hostname, "198.51.100.1");
      assert.equal(body.url, "https://shop.example:8443/token");
    });

    it("Forwarded wins where it and X-Forwarded-* both say a thing; X-Forwarded-* fills in the rest", async () => {
      const body = await seen(url, {
        forwarded: "for=192.0.2.1;proto=https",
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-proto": "http",
        "x-forwarded-host": "other.example",
      });
      assert.equal(body.remote.hostname, "192.0.2.1");
      assert.equal(body.url, "https://other.example/token");
    });

    it("X-Forwarded-Host, -Port and -Prefix give the URL's host and port and info.prefix", async () => {
      const body = await seen(url, {
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "Shop.Example",
        "x-forwarded-port": "8443",
        "x-forwarded-prefix": "/app/",
      });
      assert.equal(body.remote.hostname, "203.0.113.7");
      assert.equal(body.url, "https://shop.example:8443/token", "the path is not rewritten");
      assert.equal(body.prefix, "/app");
      // The scheme's own port is left out of the URL.
      const own = await seen(url, { "x-forwarded-proto": "https", "x-forwarded-port": "443" });
      assert.match(own.url, /^https:\/\/127\.0\.0\.1\/token$/);
      assert.equal(own.prefix, "");
    });

    it("malformed values are ignored, never a 5xx: the peer, the runtime's URL and no prefix stand", async () => {
      for (
        const headers of [
          { forwarded: 'for="[2001:db8::7;proto=https' },
          { forwarded: "for=192.0.2.1;proto=https;for=192.0.2.2" },
          { forwarded: "for=unknown;proto=ftp", "x-forwarded-prefix": "//evil.example/x" },
          { forwarded: 'for=_hidden;host="evil.example/path"', "x-forwarded-prefix": "/a/../b" },
          {
            "x-forwarded-host": "evil.example:99999",
            "x-forwarded-port": "https",
            "x-forwarded-prefix": "app",
          },
          { "x-forwarded-host": "evil.example/@x", "x-forwarded-port": "0" },
        ] as Record<string, string>[]
      ) {
        const body = await seen(url, headers);
        assert.equal(body.remote.hostname, "127.0.0.1", JSON.stringify(headers));
        assert.match(body.url, /^http:\/\/127\.0\.0\.1:\d+\/token$/, JSON.stringify(headers));
        assert.equal(body.prefix, "", JSON.stringify(headers));
      }
    });
  });
}

describe(`${runtime}: proxy headers that are not believed`, () => {
  it("from a peer not in --forwarded-allow-ips, none of them changes anything", async () => {
    const { child, url } = await startServer(cliTs, [
      "-p",
      "0",
      "--forwarded-allow-ips",
      "10.9.9.9",
      "--forwarded-headers",
      ALL,
      fixture("app.ts"),
    ]);
    try {
      const body = await seen(url, {
        forwarded: "for=192.0.2.1;proto=https;host=shop.example",
        "x-forwarded-for": "203.0.113.7",
        "x-forwarded-proto": "https",
        "x-forwarded-host": "shop.example",
        "x-forwarded-port": "8443",
        "x-forwarded-prefix": "/app",
      });
      assert.equal(body.remote.hostname, "127.0.0.1");
      assert.match(body.url, /^http:\/\/127\.0\.0\.1:\d+\/token$/);
      assert.equal(body.prefix, "");
    } finally {
      child.killTree();
      await child.exited;
    }
  });

  it("by default only X-Forwarded-For and -Proto are believed: Forwarded and X-Forwarded-Host/-Port/-Prefix are not", async () => {
    const { child, url } = await startServer(cliTs, ["-p", "0", fixture("app.ts")]);
    try {
      const body = await seen(url, {
        forwarded: "for=192.0.2.1;host=shop.example",
        "x-forwarded-host": "shop.example",
        "x-forwarded-port": "8443",
        "x-forwarded-prefix": "/app",
      });
      assert.equal(body.remote.hostname, "127.0.0.1");
      assert.match(body.url, /^http:\/\/127\.0\.0\.1:\d+\/token$/);
      assert.equal(body.prefix, "");
      const classic = await seen(url, { "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https" });
      assert.equal(classic.remote.hostname, "203.0.113.7");
      assert.match(classic.url, /^https:\/\//);
    } finally {
      child.killTree();
      await child.exited;
    }
  });

  it("a header name --forwarded-headers does not know, or h2c with TLS, is refused with exit 2", async () => {
    for (
      const [args, message] of [
        [["--forwarded-headers", "x-real-ip"], /"x-real-ip" is not a proxy header read here/],
        [
          ["--h2c", "--cert", "c.pem", "--key", "k.pem"],
          /h2c is cleartext HTTP\/2; over TLS, HTTP\/2 is offered by ALPN/,
        ],
      ] as const
    ) {
      const refused = new Child(cliTs, [...args, fixture("app.ts")]);
      assert.equal((await refused.exit()).code, 2, refused.stderr);
      assert.match(refused.stderr, message);
    }
  });
});

for (
  const mode of [
    { name: "one isolate", args: [] },
    { name: "threaded 2", args: ["--threads", "2"] },
    // On Deno, multiserve's own accept loop too (Deno.serve's serves the rest).
    { name: "processes 2", args: ["--processes", "2", ...LOSSLESS] },
  ]
) {
  describe(`${runtime}: h2c with prior knowledge beside HTTP/1.1 (${mode.name})`, () => {
    let child: Child;
    let url: string;
    before(async () => {
      ({ child, url } = await startServer(cliTs, ["-p", "0", "--h2c", ...mode.args, fixture("app.ts")]));
    });
    after(async () => {
      child.killTree();
      await child.exited;
    });

    it("curl --http2-prior-knowledge gets HTTP/2, with the client and scheme a trusted proxy forwarded", async () => {
      const reply = await curl(`${url}token`, {
        headers: ["X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https"],
      });
      assert.equal(reply.version, "2", reply.body);
      assert.equal(reply.status, 200, reply.body);
      const body = JSON.parse(reply.body);
      assert.equal(body.remote.hostname, "203.0.113.7");
      assert.match(body.url, /^https:\/\/127\.0\.0\.1:\d+\/token$/);
    });

    it("HTTP/1.1 is still served on the same port", async () => {
      const reply = await curl(`${url}token`, { h2c: false });
      assert.equal(reply.version, "1.1");
      assert.equal(reply.status, 200, reply.body);
      assert.equal(
        (await fetchFresh(`${url}echo`, { method: "POST", body: new Uint8Array(5000) })).body.length,
        5000,
      );
    });

    if (mode.name !== "threaded 2") {
      it("h2load: 10,000 requests over 10 connections of 10 streams, none failed", async () => {
        const result = await h2load(`${url}token`);
        assert.equal(result.succeeded, 10_000, result.text);
        assert.equal(result.failed + result.errored, 0, result.text);
      });
    }

    if (mode.name === "processes 2") {
      it("streams on h2c sessions go on through a SIGHUP reload with no failed request (GOAWAY)", async () => {
        await streamsGoOnThroughReload(child, () => connect(url));
      });
    }
  });
}

describe(`${runtime}: without --h2c`, () => {
  let child: Child;
  let url: string;
  before(async () => {
    ({ child, url } = await startServer(cliTs, ["-p", "0", fixture("app.ts")]));
  });
  after(async () => {
    child.killTree();
    await child.exited;
  });

  it(
    runtime === "deno"
      ? "Deno answers HTTP/2's preface, and its requests are refused 400 (no Host)"
      : "a client with prior knowledge gets no HTTP/2",
    async () => {
      const reply = await curl(`${url}token`);
      if (runtime === "deno") {
        assert.equal(reply.version, "2");
        assert.equal(reply.status, 400, reply.body);
      } else assert.notEqual(reply.version, "2", reply.body);
      assert.equal((await curl(`${url}token`, { h2c: false })).status, 200);
    },
  );
});
