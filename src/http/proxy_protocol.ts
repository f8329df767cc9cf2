/**
 * The PROXY protocol (HAProxy's, versions 1 and 2): the header an L4 balancer writes at the
 * start of a connection to name the client it accepted. Parsing only, on bytes, for every
 * runtime; the adapters read the header off each accepted socket before their HTTP (or TLS)
 * server sees it. Version 1 is a text line, `PROXY TCP4|TCP6|UNKNOWN src dst sport
 * dport\r\n`, at most 107 bytes; version 2 a 12-byte signature, a version and command byte
 * (`0x21` PROXY, `0x20` LOCAL), a family and protocol byte, a 2-byte length, the addresses
 * and TLVs (skipped). Both are accepted, told apart by their first bytes, as HAProxy's own
 * `accept-proxy` does: a balancer sends one or the other, and only trusted peers may send
 * either.
 *
 * @module
 */
import type { RemoteAddr } from "../types.ts";
import { trustEntryProblem } from "./ip.ts";

/** Version 2's signature: `\r\n\r\n\0\r\nQUIT\n`. */
const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
/** `PROXY ` */
const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20];
/** The longest version 1 line, CRLF included (the spec's 107). */
const V1_MAX = 107;
/** The shortest version 1 line: `PROXY UNKNOWN\r\n`. */
const V1_MIN = 15;
/** The fixed part of version 2: signature, version and command, family, length. */
const V2_FIXED = 16;
/**
 * Bytes that may be read from a fresh connection before knowing anything, without reading
 * past a header (either version is longer): what an adapter that cannot give bytes back
 * (Deno) reads first.
 */
export const PROXY_FIRST_READ = SIGNATURE.length;

/** What the bytes read so far from a connection say. */
export type ProxyHeader =
  /** A whole header of `length` bytes; `source` is the client it names (none: LOCAL, UNKNOWN, or a unix or unspecified family). */
  | { kind: "header"; length: number; source: RemoteAddr | undefined }
  /** Not yet whole: at least `need` more bytes are part of it (never more than the header). */
  | { kind: "more"; need: number }
  /** Not a PROXY header, or a broken one. */
  | { kind: "bad"; reason: string };

/** Read a PROXY header from the start of `bytes` (what a connection has sent so far). */
export function readProxyHeader(bytes: Uint8Array): ProxyHeader {
  if (bytes.length === 0) return { kind: "more", need: PROXY_FIRST_READ };
  if (bytes[0] === SIGNATURE[0]) return readV2(bytes);
  if (bytes[0] === V1_PREFIX[0]) return readV1(bytes);
  return { kind: "bad", reason: "no PROXY header" };
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function readV2(bytes: Uint8Array): ProxyHeader {
  if (!startsWith(bytes, SIGNATURE)) return { kind: "bad", reason: "no PROXY header" };
  if (bytes.length < V2_FIXED) return { kind: "more", need: V2_FIXED - bytes.length };
  const version = bytes[12] >> 4;
  const command = bytes[12] & 0x0f;
  if (version !== 2) return { kind: "bad", reason: `PROXY version ${version}` };
  if (command > 1) return { kind: "bad", reason: `PROXY v2 command ${command}` };
  const length = V2_FIXED + ((bytes[14] << 8) | bytes[15]);
  if (bytes.length < length) return { kind: "more", need: length - bytes.length };
  // LOCAL: the balancer's own connection (a health check); the addresses, if any, mean nothing.
  if (command === 0) return { kind: "header", length, source: undefined };
  const family = bytes[13] >> 4;
  const transport = bytes[13] & 0x0f;
  if (transport > 2) return { kind: "bad", reason: `PROXY v2 transport ${transport}` };
  // Read in place, at offsets from V2_FIXED: this runs once per connection.
  const body = length - V2_FIXED;
  if (family === 1) {
    if (body < 12) return { kind: "bad", reason: "PROXY v2 IPv4 addresses cut short" };
    const a = V2_FIXED;
    return {
      kind: "header",
      length,
      source: {
        hostname: `${bytes[a]}.${bytes[a + 1]}.${bytes[a + 2]}.${bytes[a + 3]}`,
        port: port(bytes, a + 8),
      },
    };
  }
  if (family === 2) {
    if (body < 36) return { kind: "bad", reason: "PROXY v2 IPv6 addresses cut short" };
    return {
      kind: "header",
      length,
      source: {
        hostname: ipv6Text(bytes.subarray(V2_FIXED, V2_FIXED + 16)),
        port: port(bytes, V2_FIXED + 32),
      },
    };
  }
  // AF_UNSPEC, or AF_UNIX (a path, not an address the app could use): the peer stays.
  if (family === 0 || family === 3) return { kind: "header", length, source: undefined };
  return { kind: "bad", reason: `PROXY v2 family ${family}` };
}

function port(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

/** Colon-separated hexadecimal groups, the longest run of zero groups as `::` (RFC 5952). */
function ipv6Text(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // An IPv4-mapped address is the IPv4 client, as the runtimes name one on a dual-stack socket.
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  let best = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  const text = groups.map((group) => group.toString(16));
  if (best === -1) return text.join(":");
  return `${text.slice(0, best).join(":")}::${text.slice(best + bestLength).join(":")}`;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** An IPv6 address as the trust list reads one (no network, no `*`). */
const IPV6 = {
  test: (text: string) => text.includes(":") && trustEntryProblem(text) === undefined && !text.includes("/"),
};
const PORT = /^(?:0|[1-9]\d{0,4})$/;

function readV1(bytes: Uint8Array): ProxyHeader {
  if (!startsWith(bytes, V1_PREFIX)) return { kind: "bad", reason: "no PROXY header" };
  const end = bytes.indexOf(0x0a);
  if (end === -1) {
    if (bytes.length >= V1_MAX) return { kind: "bad", reason: "PROXY v1 line longer than 107 bytes" };
    // The line cannot end before its shortest form, nor, once its protocol is known, before
    // that protocol's shortest addresses: reading that much more cannot read past it.
    const text = String.fromCharCode(...bytes.subarray(0, Math.min(bytes.length, 11)));
    const shortest = text.startsWith("PROXY TCP4 ")
      ? 32 // "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"
      : text.startsWith("PROXY TCP6 ")
      ? 22 // "PROXY TCP6 :: :: 0 0\r\n"
      : V1_MIN;
    return { kind: "more", need: Math.max(1, shortest - bytes.length) };
  }
  const length = end + 1;
  if (length > V1_MAX) return { kind: "bad", reason: "PROXY v1 line longer than 107 bytes" };
  if (end === 0 || bytes[end - 1] !== 0x0d) return { kind: "bad", reason: "PROXY v1 line without CRLF" };
  const line = String.fromCharCode(...bytes.subarray(0, end - 1));
  const fields = line.split(" ");
  // UNKNOWN: the balancer could not tell (or its own connection); whatever follows is ignored.
  if (fields[1] === "UNKNOWN") return { kind: "header", length, source: undefined };
  if (fields.length !== 6) return { kind: "bad", reason: "PROXY v1 line with the wrong number of fields" };
  const [, protocol, source, , sourcePort, destinationPort] = fields;
  const address = protocol === "TCP4" ? IPV4 : protocol === "TCP6" ? IPV6 : undefined;
  if (address === undefined) return { kind: "bad", reason: `PROXY v1 protocol ${JSON.stringify(protocol)}` };
  if (!address.test(source) || !address.test(fields[3])) {
    return { kind: "bad", reason: `PROXY v1 ${protocol} address not valid` };
  }
  if (
    !PORT.test(sourcePort) || !PORT.test(destinationPort) || +sourcePort > 65535 || +destinationPort > 65535
  ) {
    return { kind: "bad", reason: "PROXY v1 port not valid" };
  }
  return { kind: "header", length, source: { hostname: source, port: +sourcePort } };
}
