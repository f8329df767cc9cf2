/**
 * The base of the handler's second argument on every runtime: `remoteAddr` is the peer,
 * unless a trusted proxy named the client, and the request's URL has the scheme a trusted
 * proxy forwarded (`src/http/proxy.ts`). What the proxy said is kept in plain slots and
 * worked out only when read: most apps never ask for the client, and a redefined property
 * per request costs V8 a shape change and the collector a closure.
 *
 * @module
 */
import type { RemoteAddr } from "../types.ts";
import { forwardedElements, nodeAddress, validPrefix } from "./forwarded.ts";
import type { Trust } from "./ip.ts";

/** How one chain reads proxy headers: made once, shared by its requests. */
export interface ProxyPlan {
  trust: Trust;
  /** Reads a request header, lower-case name (the adapter's cheap way where it has one). */
  header: (request: Request, info: unknown, name: string) => string | null;
  /** `X-Forwarded-Prefix` is believed (read when the app asks for `prefix`). */
  prefix: boolean;
}

/** What a proxy forwarded for one request, and what was worked out from it. */
export interface Forwarded {
  plan: ProxyPlan;
  request: Request;
  /** `X-Forwarded-For` as received, or null (or not believed). */
  forwardedFor: string | null;
  /** `Forwarded` as received, or null (or not believed). */
  forwarded: string | null;
  /** What the URL becomes: a scheme other than the connection's, a host[:port], a port. */
  scheme: "http" | "https" | undefined;
  host: string | undefined;
  port: number | undefined;
  trusted: boolean | undefined;
  client: RemoteAddr | undefined;
}

export class ForwardableInfo {
  /** What a proxy forwarded, if it forwarded anything: one slot, so that the rest pay nothing. */
  #forwarded: Forwarded | undefined = undefined;

  /** The other end of the connection: the client, or the proxy in front of it. */
  get peerAddr(): RemoteAddr {
    throw new Error("an adapter's request info must define peerAddr");
  }

  /**
   * The request's protocol as its request line would name it: "HTTP/1.1" unless the adapter
   * knows better (Node: each request's version; Deno: HTTP/2 where it saw ALPN choose it).
   */
  get protocol(): string {
    return "HTTP/1.1";
  }

  /**
   * The client's address: the peer, or whom a trusted proxy named (`Forwarded`'s `for`, else
   * `X-Forwarded-For`).
   */
  get remoteAddr(): RemoteAddr {
    const forwarded = this.#forwarded;
    if (forwarded === undefined || (forwarded.forwardedFor === null && forwarded.forwarded === null)) {
      return this.peerAddr;
    }
    if (forwarded.client !== undefined) return forwarded.client;
    const client = this.#fromTrusted(forwarded) ? clientOf(forwarded) : undefined;
    return (forwarded.client = client ?? this.peerAddr);
  }

  /**
   * The path prefix a trusted proxy serves the app under (`X-Forwarded-Prefix`, when
   * `forwardedHeaders` lists it): "/app", no trailing slash; "" when there is none.
   */
  get prefix(): string {
    const forwarded = this.#forwarded;
    if (forwarded === undefined || !forwarded.plan.prefix || !this.#fromTrusted(forwarded)) return "";
    const header = forwarded.plan.header(forwarded.request, this, "x-forwarded-prefix");
    if (header === null) return "";
    const comma = header.lastIndexOf(",");
    return validPrefix((comma === -1 ? header : header.slice(comma + 1)).trim()) ?? "";
  }

  /** What a proxy forwarded, believed only if the peer is one the plan's trust admits. */
  forwarded(forwarded: Forwarded): void {
    this.#forwarded = forwarded;
  }

  /** `url` (the request's, as the runtime made it) with the scheme, host and port a trusted proxy forwarded. */
  forwardedUrl(url: string): string {
    const forwarded = this.#forwarded;
    if (forwarded === undefined || !this.#fromTrusted(forwarded)) return url;
    const { scheme, host, port } = forwarded;
    const colon = url.indexOf(":");
    if (host === undefined && port === undefined) {
      return scheme === undefined ? url : scheme + url.slice(colon);
    }
    const start = colon + 3; // "://"
    let end = url.indexOf("/", start);
    if (end === -1) end = url.length;
    let authority = host ?? url.slice(start, end);
    if (port !== undefined) authority = `${hostnameOf(authority)}:${port}`;
    const finalScheme = scheme ?? url.slice(0, colon);
    // The scheme's own port is left out, as the URL standard writes it.
    const own = finalScheme === "https" ? ":443" : ":80";
    if (authority.endsWith(own)) authority = authority.slice(0, -own.length);
    return `${finalScheme}://${authority}${url.slice(end)}`;
  }

  /**
   * Is the peer a trusted proxy? A unix socket's peer (no address) is: only local processes
   * its file permissions admit can connect, the proxy in front above all.
   */
  #fromTrusted(forwarded: Forwarded): boolean {
    return forwarded.trusted ??= this.peerAddr.hostname === "" ||
      forwarded.plan.trust(this.peerAddr.hostname);
  }
}

/** `host[:port]` without its port. */
function hostnameOf(authority: string): string {
  if (authority.startsWith("[")) return authority.slice(0, authority.indexOf("]") + 1);
  const colon = authority.lastIndexOf(":");
  return colon === -1 ? authority : authority.slice(0, colon);
}

/**
 * The client a trusted proxy named: walking from the right (the hop nearest us), the first
 * address that is not a trusted proxy; the leftmost when all of them are. `Forwarded` decides
 * when it is believed and parses (an `unknown` or obfuscated node there: the client cannot
 * be named, and the peer stands), else `X-Forwarded-For`.
 */
function clientOf(forwarded: Forwarded): RemoteAddr | undefined {
  const trust = forwarded.plan.trust;
  if (forwarded.forwarded !== null) {
    const elements = forwardedElements(forwarded.forwarded)?.filter((element) => element.for !== undefined);
    if (elements !== undefined && elements.length > 0) {
      for (let i = elements.length - 1; i >= 0; i--) {
        const address = nodeAddress(elements[i].for!);
        if (address === undefined) return undefined;
        if (i === 0 || !trust(address.hostname)) return address;
      }
    }
    if (forwarded.forwardedFor === null) return undefined;
  }
  const client = clientOfList(forwarded.forwardedFor!, trust);
  return client === undefined ? undefined : { hostname: client, port: 0 };
}

/** The client in `X-Forwarded-For`, by the same walk. */
function clientOfList(header: string, trust: Trust): string | undefined {
  if (!header.includes(",")) return header.trim() || undefined; // one hop: the usual case
  const hops = header.split(",").map((hop) => hop.trim()).filter((hop) => hop !== "");
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!trust(hops[i])) return hops[i];
  }
  return hops[0];
}
