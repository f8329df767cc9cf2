/**
 * PROXY protocol headers parsed in-process (src/http/proxy_protocol.ts): v1 and v2, the
 * client each names, LOCAL and UNKNOWN, how many bytes a reader may still take without
 * reading past a header, and what is malformed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROXY_FIRST_READ, readProxyHeader } from "../../src/http/proxy_protocol.ts";

const bytes = (text: string) => new Uint8Array([...text].map((c) => c.charCodeAt(0)));
const SIGNATURE = "\r\n\r\n\0\r\nQUIT\n";
const v2 = (command: number, family: number, body: number[]) =>
  new Uint8Array([...bytes(SIGNATURE), command, family, body.length >> 8, body.length & 255, ...body]);
const REQUEST = "GET / HTTP/1.1\r\n";

describe("PROXY protocol headers", () => {
  it("v1 TCP4 and TCP6 name the client and its port; the header's length leaves the request after it", () => {
    const line = "PROXY TCP4 198.51.100.7 10.0.0.1 40000 443\r\n";
    assert.deepEqual(readProxyHeader(bytes(line + REQUEST)), {
      kind: "header",
      length: line.length,
      source: { hostname: "198.51.100.7", port: 40000 },
    });
    const six = "PROXY TCP6 2001:db8::7 ::1 5 80\r\n";
    assert.deepEqual(readProxyHeader(bytes(six)), {
      kind: "header",
      length: six.length,
      source: { hostname: "2001:db8::7", port: 5 },
    });
    assert.deepEqual(readProxyHeader(bytes("PROXY UNKNOWN\r\n")), {
      kind: "header",
      length: 15,
      source: undefined,
    });
  });

  it("v2 PROXY names the IPv4 or IPv6 client, skipping TLVs; LOCAL keeps the peer", () => {
    const four = v2(0x21, 0x11, [198, 51, 100, 7, 10, 0, 0, 1, 0x9c, 0x40, 1, 187, 3, 0, 4, 1, 2, 3, 4]);
    assert.deepEqual(readProxyHeader(four), {
      kind: "header",
      length: four.length,
      source: { hostname: "198.51.100.7", port: 40000 },
    });
    const six = v2(0x21, 0x21, [
      0x20,
      0x01,
      0x0d,
      0xb8,
      ...Array(11).fill(0),
      7,
      ...Array(15).fill(0),
      1,
      0,
      80,
      1,
      187,
    ]);
    assert.deepEqual(readProxyHeader(six), {
      kind: "header",
      length: 52,
      source: { hostname: "2001:db8::7", port: 80 },
    });
    const mapped = v2(0x21, 0x21, [
      ...Array(10).fill(0),
      255,
      255,
      1,
      2,
      3,
      4,
      ...Array(16).fill(0),
      0,
      1,
      0,
      2,
    ]);
    assert.equal(
      (readProxyHeader(mapped) as { source: { hostname: string } }).source.hostname,
      "::ffff:1.2.3.4",
    );
    assert.deepEqual(readProxyHeader(v2(0x20, 0x00, [])), { kind: "header", length: 16, source: undefined });
  });

  it("a part of a header asks for no more than the header still holds", () => {
    assert.deepEqual(readProxyHeader(new Uint8Array()), { kind: "more", need: PROXY_FIRST_READ });
    const four = v2(0x21, 0x11, [198, 51, 100, 7, 10, 0, 0, 1, 0x9c, 0x40, 1, 187]);
    assert.deepEqual(readProxyHeader(four.subarray(0, 12)), { kind: "more", need: 4 });
    assert.deepEqual(readProxyHeader(four.subarray(0, 16)), { kind: "more", need: 12 });
    // The shortest v1 line is 15 bytes; a TCP4 one, 32; past that, a byte at a time.
    assert.deepEqual(readProxyHeader(bytes("PROXY UNKNO")), { kind: "more", need: 4 });
    assert.deepEqual(readProxyHeader(bytes("PROXY TCP4 1")), { kind: "more", need: 20 });
    assert.deepEqual(readProxyHeader(bytes("PROXY TCP4 198.51.100.7 10.0.0.1 4")), { kind: "more", need: 1 });
  });

  it("anything else is malformed: other bytes first, bad fields, a line too long, a version or family unknown", () => {
    for (
      const bad of [
        bytes(REQUEST),
        bytes("PROXY TCP4 198.51.100.7 10.0.0.1 40000\r\n"),
        bytes("PROXY TCP4 198.51.100.256 10.0.0.1 40000 80\r\n"),
        bytes("PROXY TCP4 198.51.100.7 10.0.0.1 040000 80\r\n"),
        bytes("PROXY TCP6 198.51.100.7 ::1 1 80\r\n"),
        bytes("PROXY UDP4 198.51.100.7 10.0.0.1 1 80\r\n"),
        bytes("PROXY TCP4 198.51.100.7 10.0.0.1 1 80\n"),
        bytes("PROXY " + "x".repeat(110)),
        v2(0x31, 0x11, Array(12).fill(0)),
        v2(0x22, 0x11, Array(12).fill(0)),
        v2(0x21, 0x51, Array(12).fill(0)),
        v2(0x21, 0x11, Array(8).fill(0)),
      ]
    ) {
      assert.equal(readProxyHeader(bad).kind, "bad", new TextDecoder().decode(bad));
    }
  });
});
