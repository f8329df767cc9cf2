/**
 * Proxy headers, believed only from trusted peers (gunicorn's and uvicorn's
 * `forwarded_allow_ips`): from such a peer, `X-Forwarded-For` names the client and
 * `X-Forwarded-Proto` the scheme; from anyone else they change nothing, since any client
 * can send them.
 *
 * @module
 */
import type { FetchHandler, RemoteAddr } from "./types.ts";

/** Decides whether an address is one of the trusted peers. */
export type Trust = (address: string) => boolean;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Why `entry` is not an IP address, an IPv4 network or `*`; undefined when it is one. */
export function trustEntryProblem(entry: string): string | undefined {
  if (entry === "*") return undefined;
  const [address, bits, extra] = entry.split("/");
  if (extra !== undefined) return `"${entry}" has more than one "/"`;
  if (bits !== undefined) {
    if (ipv4(address) === undefined) return `"${entry}": only IPv4 networks can have a "/bits" suffix`;
    if (!/^\d{1,2}$/.test(bits) || Number(bits) > 32) return `"${entry}": bits must be 0 to 32`;
    return undefined;
  }
  if (ipv4(address) !== undefined || isIpv6(address)) return undefined;
  return `"${entry}" is not an IP address (host names are not resolved)`;
}

/** The trust test for checked entries; `*` trusts everyone. */
export function trustOf(entries: readonly string[]): Trust {
  if (entries.includes("*")) return () => true;
  const exact = new Set<string>();
  const networks: { base: number; mask: number }[] = [];
  for (const entry of entries) {
    const [address, bits] = entry.split("/");
    if (bits === undefined) exact.add(normalize(address));
    else {
      const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
      networks.push({ base: (ipv4(address)! & mask) >>> 0, mask });
    }
  }
  return (address) => {
    const plain = normalize(address);
    if (exact.has(plain)) return true;
    const value = networks.length === 0 ? undefined : ipv4(plain);
    return value !== undefined && networks.some(({ base, mask }) => ((value & mask) >>> 0) === base);
  };
}

/**
 * `app`, seeing the client and scheme a trusted proxy forwarded. Requests without the
 * headers pass through at the cost of two lookups. The client address is worked out only
 * if the app reads `remoteAddr`; the scheme at once, since it is part of `request.url`.
 */
export function forwarded(
  app: FetchHandler,
  trust: Trust,
  header: (request: Request, info: unknown, name: string) => string | null,
): FetchHandler {
  return (request, info) => {
    const forwardedFor = header(request, info, "x-forwarded-for");
    const proto = header(request, info, "x-forwarded-proto");
    if (forwardedFor === null && proto === null) return app(request, info);
    const peer = originalRemoteAddr(info);
    let trusted: boolean | undefined;
    const fromTrusted = () => (trusted ??= trust(peer().hostname));
    if (proto !== null) {
      const scheme = proto.split(",")[0].trim().toLowerCase();
      const url = request.url;
      if ((scheme === "http" || scheme === "https") && !url.startsWith(`${scheme}:`) && fromTrusted()) {
        request = new Request(scheme + url.slice(url.indexOf(":")), request);
      }
    }
    if (forwardedFor !== null) {
      let client: RemoteAddr | undefined;
      info = withRemoteAddr(info, () => {
        if (client !== undefined) return client;
        const forwarded = fromTrusted() ? clientOf(forwardedFor, trust) : undefined;
        return (client = forwarded === undefined ? peer() : { hostname: forwarded, port: 0 });
      });
    }
    return app(request, info);
  };
}

/**
 * The client in `X-Forwarded-For`: walking from the right (the hop nearest us), the first
 * address that is not a trusted proxy; the leftmost when all of them are.
 */
function clientOf(header: string, trust: Trust): string | undefined {
  if (!header.includes(",")) return header.trim() || undefined; // one hop: the usual case
  const hops = header.split(",").map((hop) => hop.trim()).filter((hop) => hop !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trust(hops[i])) return hops[i];
  }
  return hops[0];
}

/** Reads the address the runtime gave `info`, even once we have shadowed it. */
// deno-lint-ignore no-explicit-any
function originalRemoteAddr(info: any): () => RemoteAddr {
  const own = Object.getOwnPropertyDescriptor(info, "remoteAddr");
  if (own !== undefined) {
    const value = own.get ? own.get.call(info) : own.value;
    return () => value;
  }
  const prototype = Object.getPrototypeOf(info);
  return () => Reflect.get(prototype, "remoteAddr", info);
}

/**
 * `info`, whose `remoteAddr` is now `remoteAddr()`. An own property on the same object:
 * the runtime's info may keep its state in private fields (Deno's `completed`), which only
 * work on the object itself; a frozen one is wrapped in a Proxy instead.
 */
// deno-lint-ignore no-explicit-any
function withRemoteAddr(info: any, remoteAddr: () => RemoteAddr): any {
  if (Object.isExtensible(info)) {
    Object.defineProperty(info, "remoteAddr", { get: remoteAddr, configurable: true, enumerable: true });
    return info;
  }
  return new Proxy(info, {
    get: (target, key) => key === "remoteAddr" ? remoteAddr() : Reflect.get(target, key, target),
  });
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is `1.2.3.4`. */
function normalize(address: string): string {
  if (!address.includes(":")) return address; // IPv4: the usual case
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && IPV4.test(lower.slice(7)) ? lower.slice(7) : lower;
}

function ipv4(address: string): number | undefined {
  const parts = IPV4.exec(address);
  if (!parts) return undefined;
  const bytes = parts.slice(1).map(Number);
  if (bytes.some((byte) => byte > 255)) return undefined;
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

function isIpv6(address: string): boolean {
  return address.includes(":") && /^[0-9a-f:.]+$/i.test(address) && address.split("::").length <= 2;
}
