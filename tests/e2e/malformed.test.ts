/**
 * Malformed and smuggling-shaped requests over raw sockets: every one gets a 4xx or a
 * closed connection, never a 2xx, fed whole or a few bytes at a time, and the worker keeps
 * serving. Categories follow gunicorn's invalid-request fixtures; the four RFC 9112
 * must-reject cases that one runtime's own parser lets through get the same 400 everywhere.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Child, fetchFresh, LOSSLESS, runtime, startApp } from "../_harness.ts";
import { exchange } from "../_raw.ts";

const HOST = "Host: example.test\r\n";
const BIG = "a".repeat(40_000);
const post = (headers: string, body: string) => `POST /echo HTTP/1.1\r\n${HOST}${headers}\r\n${body}`;
const smuggled = `GET /token HTTP/1.1\r\n${HOST}\r\n`;

/** [category, case, raw request]. None may be answered with a 2xx. */
const MALFORMED: [string, string, string][] = [
  ["request line", "no HTTP version (HTTP/0.9 style)", `GET /token\r\n${HOST}\r\n`],
  ["request line", "a method with a separator in it", `G(T /token HTTP/1.1\r\n${HOST}\r\n`],
  ["request line", "an empty method", ` /token HTTP/1.1\r\n${HOST}\r\n`],
  ["request line", "version HTTP/1.x", `GET /token HTTP/1.x\r\n${HOST}\r\n`],
  ["request line", "version HTTP/2.0 in HTTP/1 framing", `GET /token HTTP/2.0\r\n${HOST}\r\n`],
  ["request line", "version HTTP/1.2", `GET /token HTTP/1.2\r\n${HOST}\r\n`],
  ["request line", "lower-case protocol name", `GET /token http/1.1\r\n${HOST}\r\n`],
  ["request line", "text after the version", `GET /token HTTP/1.1 extra\r\n${HOST}\r\n`],
  ["request line", "NUL in the target", `GET /tok\0en HTTP/1.1\r\n${HOST}\r\n`],
  ["request line", "a space inside the target", `GET /to ken HTTP/1.1\r\n${HOST}\r\n`],
  ["request line", "a 40 kB target", `GET /${BIG} HTTP/1.1\r\n${HOST}\r\n`],
  ["header", "whitespace between name and colon", `GET /token HTTP/1.1\r\nHost : example.test\r\n\r\n`],
  ["header", "a separator in a field name", `GET /token HTTP/1.1\r\n${HOST}Fo(o: bar\r\n\r\n`],
  ["header", "a field line without a colon", `GET /token HTTP/1.1\r\n${HOST}Foo bar\r\n\r\n`],
  ["header", "obsolete line folding", `GET /token HTTP/1.1\r\n${HOST}X-Folded: a\r\n b\r\n\r\n`],
  ["header", "whitespace before the first field", `GET /token HTTP/1.1\r\n X-A: a\r\n${HOST}\r\n`],
  ["header", "a bare CR ending the request line", `GET /token HTTP/1.1\r${HOST}\r\n`],
  ["header", "NUL in a field value", `GET /token HTTP/1.1\r\n${HOST}X-A: a\0b\r\n\r\n`],
  ["header", "a control character in a field value", `GET /token HTTP/1.1\r\n${HOST}X-A: a\x01b\r\n\r\n`],
  ["header", "a 40 kB field", `GET /token HTTP/1.1\r\n${HOST}X-Big: ${BIG}\r\n\r\n`],
  [
    "header",
    "500 fields",
    `GET /token HTTP/1.1\r\n${HOST}${Array.from({ length: 500 }, (_, i) => `X-${i}: v\r\n`).join("")}\r\n`,
  ],
  ["Content-Length", "negative", post("Content-Length: -1\r\n", "")],
  ["Content-Length", "not a number", post("Content-Length: abc\r\n", "")],
  ["Content-Length", "with a plus sign", post("Content-Length: +3\r\n", "abc")],
  ["Content-Length", "two different values", post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd")],
  ["Content-Length", "a list of values", post("Content-Length: 3, 4\r\n", "abcd")],
  ["Content-Length", "the same value twice", post("Content-Length: 3\r\nContent-Length: 3\r\n", "abc")],
  ["Content-Length", "larger than 2^64", post("Content-Length: 99999999999999999999999\r\n", "abc")],
  [
    "framing",
    "Content-Length with Transfer-Encoding, smuggling a request",
    post("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", `0\r\n\r\n${smuggled}`),
  ],
  ["framing", "Transfer-Encoding gzip alone", post("Transfer-Encoding: gzip\r\n", "abc")],
  [
    "framing",
    "chunked not the last coding",
    post("Transfer-Encoding: chunked, gzip\r\n", "3\r\nabc\r\n0\r\n\r\n"),
  ],
  [
    "framing",
    "an unknown coding (xchunked)",
    post("Transfer-Encoding: xchunked\r\n", "3\r\nabc\r\n0\r\n\r\n"),
  ],
  [
    "framing",
    "Transfer-Encoding with a space before the colon",
    post("Transfer-Encoding : chunked\r\n", `0\r\n\r\n${smuggled}`),
  ],
  [
    "chunks",
    "a chunk size that is not hex",
    post("Transfer-Encoding: chunked\r\n", "zz\r\nabc\r\n0\r\n\r\n"),
  ],
  [
    "chunks",
    "a chunk size past 2^64",
    post("Transfer-Encoding: chunked\r\n", "FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n"),
  ],
  ["chunks", "a negative chunk size", post("Transfer-Encoding: chunked\r\n", "-3\r\nabc\r\n0\r\n\r\n")],
  [
    "chunks",
    "a control character in a chunk extension",
    post("Transfer-Encoding: chunked\r\n", "3;\x01=x\r\nabc\r\n0\r\n\r\n"),
  ],
  [
    "chunks",
    "chunk data longer than its size",
    post("Transfer-Encoding: chunked\r\n", "3\r\nabcX\r\n0\r\n\r\n"),
  ],
];

/**
 * RFC 9112 must-reject cases, each measured letting through one runtime's own parser:
 * all three runtimes must answer 400.
 */
const RFC_CASES: [string, string][] = [
  ["HTTP/1.1 without Host (Deno's parser accepts it)", `GET /token HTTP/1.1\r\n\r\n`],
  ["two Host fields (Bun's and Node's accept it)", `GET /token HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`],
  [
    "a chunked body over HTTP/1.0 (Node's accepts it)",
    `POST /echo HTTP/1.0\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
  ],
];

/**
 * Requests a client got wrong, or valid ones a runtime's URL handling trips over: none may
 * earn a 5xx, which would blame the server. [case, raw request, what may answer]. Where
 * the runtime's own parser answers first (Bun: `*` targets, Deno: broken chunks), its
 * answer stands; every status here is a 4xx, the app's answer, or a closed connection.
 */
const CLIENT_ERRORS: [string, string, { end?: boolean; reachesApp?: boolean; lenientOn?: string }][] = [
  [
    "a GET that says its body is chunked",
    `GET /echo HTTP/1.1\r\n${HOST}Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    {
      reachesApp: true,
    },
  ],
  [
    "a HEAD that says its body is chunked",
    `HEAD /echo HTTP/1.1\r\n${HOST}Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    {
      reachesApp: true,
    },
  ],
  ["OPTIONS * (asterisk-form, RFC 9112 §3.2.4)", `OPTIONS * HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`, {
    reachesApp: runtime !== "bun",
  }],
  ["GET * (asterisk-form is for OPTIONS only)", `GET * HTTP/1.1\r\n${HOST}\r\n`, {}],
  ["an absolute target with userinfo", `GET http://user:pass@example.test/token HTTP/1.1\r\n${HOST}\r\n`, {}],
  // Bun makes its URL "/" of such a Host: refused as no http URI, not for its userinfo.
  ["a Host with a user and password", `GET /token HTTP/1.1\r\nHost: user:pass@example.test\r\n\r\n`, {}],
  ["a target that is not a URI", `PUT s://]ufd/: HTTP/1.1\r\n${HOST}\r\n`, {}],
  // Deno and Bun build the URL from such a Host as it came ("http://[bad/"), which the
  // app's new URL(request.url) then throws on: refused before the app sees it.
  ["a Host that makes no URL: an unclosed IPv6 bracket", `GET /token HTTP/1.1\r\nHost: [bad\r\n\r\n`, {}],
  ["a Host that makes no URL: a space", `GET /token HTTP/1.1\r\nHost: a b\r\n\r\n`, {}],
  ["a Host that makes no URL: a slash", `GET /token HTTP/1.1\r\nHost: a/b\r\n\r\n`, {}],
  // Bun answers before it reads a GET's body, and never reads it: its parser's doing (docs/requests.md).
  [
    "a GET whose chunked body is broken",
    `GET /echo HTTP/1.1\r\n${HOST}Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n`,
    { lenientOn: "bun" },
  ],
  ["chunk data not ended by CRLF", post("Transfer-Encoding: chunked\r\n", "3\r\nabcX\r\n0\r\n\r\n"), {}],
  ["a chunk size not ended by CRLF", post("Transfer-Encoding: chunked\r\n", "3\rabc\r\n0\r\n\r\n"), {}],
  ["a Content-Length body cut short by the client's EOF", post("Content-Length: 100\r\n", "abc"), {
    end: true,
  }],
];

/** A refusal: a 4xx (Bun answers a request line it cannot parse with 505), or a closed connection. */
function assertRefused(reply: { statuses: number[]; closed: boolean; text: string }) {
  assert.ok(!reply.statuses.some((s) => s >= 200 && s < 300), `answered 2xx:\n${reply.text.slice(0, 300)}`);
  if (reply.statuses.length === 0) return assert.ok(reply.closed, "neither answered nor closed");
  const [status] = reply.statuses;
  const bunVersion = runtime === "bun" && status === 505;
  assert.ok((status >= 400 && status < 500) || bunVersion, `status ${status}:\n${reply.text.slice(0, 300)}`);
  assert.ok(reply.closed, "the connection stays open after a refusal");
}

describe(`${runtime}: malformed requests over raw sockets`, () => {
  let child: Child;
  let url: string;
  let port: number;
  before(async () => {
    ({ child, url } = await startApp({ args: LOSSLESS }));
    port = Number(new URL(url).port);
  });
  after(async () => {
    child.killTree();
    await child.exited;
  });

  for (const [category, name, payload] of MALFORMED) {
    for (const piece of [0, 3]) {
      it(`${category}: ${name}: refused (${piece ? "fed 3 bytes at a time" : "whole"})`, async () => {
        assertRefused(await exchange(port, payload, { piece: payload.length > 2_000 ? 1_024 : piece }));
      });
    }
  }

  for (const [name, payload] of RFC_CASES) {
    for (const piece of [0, 3]) {
      it(`RFC 9112: ${name}: 400 (${piece ? "fed 3 bytes at a time" : "whole"})`, async () => {
        const reply = await exchange(port, payload, { piece });
        assert.deepEqual(reply.statuses, [400], reply.text);
        assert.ok(reply.closed, "the connection stays open after a 400");
      });
    }
  }

  // RFC 9110 §5.5 lets a recipient keep a DEL; Deno's and Node's parsers refuse it, Bun's
  // keeps it, and so does multiserve on Bun (finding it costs a third of Bun's throughput).
  it(`a DEL in a field value: ${runtime === "bun" ? "served, as Bun.serve serves it" : "400, by the parser"}`, async () => {
    const reply = await exchange(port, `GET /token HTTP/1.1\r\n${HOST}X-A: a\x7fb\r\n\r\n`);
    assert.deepEqual(reply.statuses, [runtime === "bun" ? 200 : 400], reply.text);
  });

  for (const [name, payload, { end = false, reachesApp = false, lenientOn }] of CLIENT_ERRORS) {
    it(`never a 5xx: ${name}`, async () => {
      const reply = await exchange(port, payload, { end });
      assert.ok(
        !reply.statuses.some((s) => s >= 500),
        `answered ${reply.statuses}:\n${reply.text.slice(0, 300)}`,
      );
      if (reachesApp) {
        assert.ok(
          reply.statuses.length === 1 && reply.statuses[0] < 500,
          `the app answers: ${reply.text.slice(0, 200)}`,
        );
        assert.notEqual(reply.statuses[0], 400, "a valid request, refused");
      } else {
        // Bun strips userinfo rather than refusing it: the app then sees none.
        const stripped = runtime === "bun" && /userinfo/.test(name) && !reply.text.includes("user:pass");
        if (lenientOn === runtime) return;
        assert.ok(
          reply.statuses.every((s) => s >= 400 && s < 500) || stripped,
          `refused with a 4xx or closed: ${reply.text.slice(0, 200)}`,
        );
      }
    });
  }

  // RFC 9112 §9.6: the request that closes its connection is answered, and nothing sent after
  // it is processed. The app answers late, so that the next request's bytes are read first.
  for (
    const [name, closing] of [
      ["Connection: close", `GET /slow?ms=50 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`],
      ["HTTP/1.0", `GET /slow?ms=50 HTTP/1.0\r\n${HOST}\r\n`],
    ]
  ) {
    it(`a request pipelined after one that closes the connection (${name}): the first is answered by the app, the next not at all`, async () => {
      const reply = await exchange(port, `${closing}GET /token HTTP/1.1\r\n${HOST}\r\n`);
      assert.deepEqual(reply.statuses, [200], reply.text);
      assert.match(reply.text, /slept 50$/);
      assert.ok(reply.closed, "the connection stays open");
    });
  }

  it("after all of them a good request is answered by the same, unharmed worker", async () => {
    const reply = await fetchFresh(`${url}token`);
    assert.equal(reply.status, 200);
    const raw = await exchange(port, `GET /token HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`);
    assert.deepEqual(raw.statuses, [200]);
    assert.doesNotMatch(child.stderr, /uncaught|unhandled|panic/i);
    assert.equal(child.process.exitCode, null, "the server is still running");
  });
});
