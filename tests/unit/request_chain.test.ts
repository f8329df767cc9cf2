/**
 * The request chain as a function, for the cases a real server cannot reach on every
 * runtime (its own parser answers first): limits set to 0 defer to the runtime, and the
 * trust list's matching rules. The servers' behaviour is in edge.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NativeChecks } from "../../src/adapter.ts";
import { requestChain } from "../../src/http/chain.ts";
import { trustEntryProblem, trustOf } from "../../src/http/ip.ts";
import { ForwardableInfo } from "../../src/http/request_info.ts";
import { resolveOptions } from "../../src/options.ts";
import type { FetchHandler, RemoteAddr, ServeOptions } from "../../src/types.ts";
import { runtime } from "../_harness.ts";

const ok = () => new Response("ok");
const fields = (n: number) => {
  const headers = new Headers({ host: "example.test" });
  for (let i = 0; i < n; i++) headers.set(`x-field-${i}`, "v");
  return headers;
};
/** What an adapter hands the guard: its own info, with the connection's peer. */
class PeerInfo extends ForwardableInfo {
  readonly #peer: RemoteAddr;
  constructor(hostname: string) {
    super();
    this.#peer = { hostname, port: 1 };
  }
  override get peerAddr(): RemoteAddr {
    return this.#peer;
  }
}
/** The chain's handler around `app`, with `options` over the defaults. */
const chain = (
  app: FetchHandler,
  options: ServeOptions,
  native: NativeChecks,
) => requestChain(app, resolveOptions({ port: 0, ...options }), native, { webSockets: () => 0 }).handler;
const call = async (handler: ReturnType<typeof chain>, request: Request, remote = "127.0.0.1") =>
  await handler(request, new PeerInfo(remote));
const walking = { headerFields: false, hostAndLength: false };

describe(`${runtime}: the guard as a function`, () => {
  it("more fields than maxHeaderCount: 431; with 0, left to the runtime's parser", async () => {
    const request = () => new Request("http://example.test/", { headers: fields(150) });
    assert.equal((await call(chain(ok, {}, walking), request())).status, 431);
    const off = { maxHeaderCount: 0, maxHeaderSize: 0 };
    assert.equal((await call(chain(ok, off, walking), request())).status, 200);
  });

  it("where the runtime counts fields cheaply and bounds the head itself (Bun), the count is asked, not walked", async () => {
    let asked = 0;
    const counting = {
      ...walking,
      headerSizeLimit: 16 * 1024,
      headerCount: (request: Request) => (asked++, [...request.headers].length),
    };
    const request = (n: number) => new Request("http://example.test/", { headers: fields(n) });
    assert.equal((await call(chain(ok, {}, counting), request(150))).status, 431);
    assert.equal((await call(chain(ok, {}, counting), request(20))).status, 200);
    assert.equal(asked, 2);
    // A maxHeaderSize below the runtime's own bound is measured by walking the fields again.
    const small = { maxHeaderSize: 100 };
    assert.equal((await call(chain(ok, small, counting), request(20))).status, 431);
  });

  it("the target's scheme and userinfo are checked unless the adapter says its runtime's URL cannot have them", async () => {
    // No Request can be made with userinfo: the runtime's own request carries the URL it built.
    const at = (value: string) =>
      Object.defineProperty(new Request("http://example.test/", { headers: fields(0) }), "url", { value });
    assert.equal((await call(chain(ok, {}, walking), at("ftp://example.test/"))).status, 400);
    assert.equal((await call(chain(ok, {}, walking), at("http://user@example.test/"))).status, 400);
    // Node: the adapter refuses any other target first. Bun: its URL is Host and the path.
    assert.equal(
      (await call(chain(ok, {}, { ...walking, httpUrl: true }), at("ftp://example.test/"))).status,
      200,
    );
    assert.equal(
      (await call(chain(ok, {}, { ...walking, noUserinfo: true }), at("http://user@example.test/"))).status,
      200,
    );
  });

  it("a body of no declared length (HTTP/2's DATA frames) is counted against maxBodySize as the app reads it", async () => {
    // No Content-Length and no Transfer-Encoding: what an HTTP/2 request with a body may be.
    const post = (bytes: number, method = "POST") =>
      new Request("http://example.test/", {
        method,
        headers: { host: "example.test" },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new Uint8Array(bytes));
            controller.close();
          },
        }),
        duplex: "half",
      } as RequestInit);
    const reading = chain(
      async (request) => new Response(String((await request.arrayBuffer()).byteLength)),
      { maxBodySize: 1000 },
      walking,
    );
    assert.equal(await (await call(reading, post(1000))).text(), "1000");
    assert.equal(await (await call(reading, post(1000, "PUT"))).text(), "1000");
    await assert.rejects(call(reading, post(1001)), (error) => (error as { status?: number }).status === 413);
    await assert.rejects(
      call(reading, post(1001, "PUT")),
      (error) => (error as { status?: number }).status === 413,
    );
  });

  it("forwarded headers: believed from a trusted peer, lazily; ignored from others", async () => {
    const seen: string[] = [];
    const app = (request: Request, info: { remoteAddr: { hostname: string } }) => {
      assert.ok(request instanceof Request, "still a Request");
      seen.push(`${info.remoteAddr.hostname} ${new URL(request.url).protocol}`);
      return ok();
    };
    const options = { forwardedAllowIps: ["10.0.0.0/8"] };
    const headers = {
      host: "example.test",
      "x-forwarded-for": "203.0.113.7, 10.1.2.3",
      "x-forwarded-proto": "https",
    };
    const handler = chain(app, options, walking);
    await call(handler, new Request("http://example.test/", { headers }), "10.9.9.9");
    await call(handler, new Request("http://example.test/", { headers }), "192.0.2.1");
    assert.deepEqual(seen, ["203.0.113.7 https:", "192.0.2.1 http:"]);
  });
});

describe(`${runtime}: trust list entries`, () => {
  it("IPv4 and IPv6 addresses and networks and * are accepted; host names and bad networks are not", () => {
    for (
      const entry of ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::5", "fd00::/8", "::ffff:10.0.0.1", "::/0", "*"]
    ) {
      assert.equal(trustEntryProblem(entry), undefined, entry);
    }
    assert.match(trustEntryProblem("nginx")!, /not an IP address/);
    assert.match(trustEntryProblem("10.0.0.0/33")!, /bits must be 0 to 32/);
    assert.match(trustEntryProblem("fd00::/129")!, /bits must be 0 to 128/);
    assert.match(trustEntryProblem("1:2:3:4:5:6:7:8:9")!, /not an IP address/);
    assert.match(trustEntryProblem("1::2::3")!, /not an IP address/);
    assert.match(trustEntryProblem("fd00::g")!, /not an IP address/);
  });

  it("IPv6: networks, and one address however it is written", () => {
    const trust = trustOf(["2001:db8::/32", "0:0:0:0:0:0:0:1", "fe80::1"]);
    assert.ok(trust("2001:db8:0:1::5"));
    assert.ok(trust("2001:DB8::1"));
    assert.ok(!trust("2001:db9::1"));
    assert.ok(trust("::1"));
    assert.ok(trust("fe80::1%eth0"));
    assert.ok(trust("fe80:0::0:1"));
    assert.ok(!trust("fe80::2"));
    assert.ok(!trust("10.0.0.1"));
    assert.ok(trustOf(["::ffff:10.0.0.1"])("10.0.0.1"), "an IPv4-mapped entry is its IPv4 address");
    assert.ok(trustOf(["fd00::/8"])("fdab:1::9"));
    assert.ok(!trustOf(["fd00::/8"])("fe00::9"));
  });

  it("matches exact addresses, networks, and IPv4 clients seen as ::ffff:a.b.c.d", () => {
    const trust = trustOf(["10.0.0.0/8", "192.168.1.5", "::1"]);
    assert.ok(trust("10.200.3.4"));
    assert.ok(trust("::ffff:10.1.1.1"));
    assert.ok(trust("192.168.1.5"));
    assert.ok(trust("::1"));
    assert.ok(!trust("11.0.0.1"));
    assert.ok(!trust("192.168.1.6"));
    assert.ok(trustOf(["*"])("203.0.113.7"));
  });
});

describe(`${runtime}: proxy headers as the chain reads them`, () => {
  /** A runtime that looks fields up one by one (Bun's way): the names it was asked for. */
  const lookingUp = (asked: string[]) => ({
    ...walking,
    headerSizeLimit: 16 * 1024,
    headerCount: (request: Request) => [...request.headers].length,
    header: (request: Request, _info: unknown, name: string) => (asked.push(name), request.headers.get(name)),
  });
  const seen = (request: Request, info: RequestInfoLike) =>
    Response.json({ url: request.url, remote: info.remoteAddr, prefix: info.prefix });
  type RequestInfoLike = { remoteAddr: RemoteAddr; prefix: string };

  it("with the default list, a request reads X-Forwarded-For and -Proto alone, as before", async () => {
    const asked: string[] = [];
    await call(chain(ok, {}, lookingUp(asked)), new Request("http://example.test/", { headers: fields(3) }));
    assert.deepEqual(asked.filter((name) => name.includes("forwarded")), [
      "x-forwarded-for",
      "x-forwarded-proto",
    ]);
  });

  it("X-Forwarded-Prefix is read only when the app asks for info.prefix", async () => {
    const asked: string[] = [];
    const options = { forwardedHeaders: ["x-forwarded-prefix"] };
    const headers = { host: "example.test", "x-forwarded-prefix": "/app" };
    await call(chain(ok, options, lookingUp(asked)), new Request("http://example.test/", { headers }));
    assert.deepEqual(asked.filter((name) => name.includes("forwarded")), []);
    const reply = await call(
      chain(seen, options, lookingUp(asked)),
      new Request("http://example.test/", { headers }),
    );
    assert.equal((await reply.json()).prefix, "/app");
    assert.deepEqual(asked.filter((name) => name.includes("forwarded")), ["x-forwarded-prefix"]);
  });

  it("Forwarded: quoted strings with commas and semicolons, names in any case, several elements", async () => {
    const handler = chain(seen, { forwardedHeaders: ["forwarded"] }, walking);
    const headers = {
      host: "example.test",
      forwarded: 'for="198.51.100.9";by="a,b;c", For="[::1]:1";PROTO=https;host="h.example:8443"',
    };
    const body = await (await call(handler, new Request("http://example.test/p?q", { headers }))).json();
    assert.deepEqual(body.remote, { hostname: "198.51.100.9", port: 0 });
    assert.equal(body.url, "https://h.example:8443/p?q");
  });

  it("from an untrusted peer nothing changes, however well formed", async () => {
    const handler = chain(seen, { forwardedHeaders: ["forwarded", "x-forwarded-prefix"] }, walking);
    const headers = {
      host: "example.test",
      forwarded: "for=192.0.2.1;proto=https",
      "x-forwarded-prefix": "/a",
    };
    const body = await (await call(handler, new Request("http://example.test/", { headers }), "203.0.113.1"))
      .json();
    assert.equal(body.remote.hostname, "203.0.113.1");
    assert.equal(body.url, "http://example.test/");
    assert.equal(body.prefix, "");
  });
});
