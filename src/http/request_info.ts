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
import type { Trust } from "./ip.ts";

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

  /** The client's address: the peer, or whom a trusted proxy named in `X-Forwarded-For`. */
  get remoteAddr(): RemoteAddr {
    const forwarded = this.#forwarded;
    if (forwarded === undefined || forwarded.forwardedFor === null) return this.peerAddr;
    if (forwarded.client !== undefined) return forwarded.client;
    const client = this.#fromTrusted(forwarded)
      ? clientOf(forwarded.forwardedFor, forwarded.trust)
      : undefined;
    return (forwarded.client = client === undefined ? this.peerAddr : { hostname: client, port: 0 });
  }

  /**
   * What a proxy forwarded, believed only if the peer is one `trust` admits: the client
   * (`X-Forwarded-For`, or null) and a scheme other than the connection's (or undefined).
   */
  forwarded(trust: Trust, forwardedFor: string | null, scheme: "http" | "https" | undefined): void {
    this.#forwarded = { trust, forwardedFor, scheme, trusted: undefined, client: undefined };
  }

  /** `url` (the request's, as the runtime made it) with the scheme a trusted proxy forwarded. */
  forwardedUrl(url: string): string {
    const forwarded = this.#forwarded;
    if (forwarded?.scheme === undefined || !this.#fromTrusted(forwarded)) return url;
    return forwarded.scheme + url.slice(url.indexOf(":"));
  }

  /**
   * Is the peer a trusted proxy? A unix socket's peer (no address) is: only local processes
   * its file permissions admit can connect, the proxy in front above all.
   */
  #fromTrusted(forwarded: Forwarded): boolean {
    return forwarded.trusted ??= this.peerAddr.hostname === "" || forwarded.trust(this.peerAddr.hostname);
  }
}

/** What a proxy forwarded for one request, and what was worked out from it. */
interface Forwarded {
  trust: Trust;
  /** `X-Forwarded-For` as received, or null. */
  forwardedFor: string | null;
  /** The scheme `X-Forwarded-Proto` names where it differs from the connection's. */
  scheme: "http" | "https" | undefined;
  trusted: boolean | undefined;
  client: RemoteAddr | undefined;
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
