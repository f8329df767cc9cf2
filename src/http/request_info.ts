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
  #trust: Trust | undefined = undefined;
  /** `X-Forwarded-For` as received, or null. */
  #forwardedFor: string | null = null;
  /** The scheme `X-Forwarded-Proto` names where it differs from the connection's, else undefined. */
  #scheme: "http" | "https" | undefined = undefined;
  #trusted: boolean | undefined = undefined;
  #client: RemoteAddr | undefined = undefined;

  /** The other end of the connection: the client, or the proxy in front of it. */
  get peerAddr(): RemoteAddr {
    throw new Error("an adapter's request info must define peerAddr");
  }

  /** The client's address: the peer, or whom a trusted proxy named in `X-Forwarded-For`. */
  get remoteAddr(): RemoteAddr {
    if (this.#forwardedFor === null) return this.peerAddr;
    if (this.#client !== undefined) return this.#client;
    const forwarded = this.#fromTrusted() ? clientOf(this.#forwardedFor, this.#trust!) : undefined;
    return (this.#client = forwarded === undefined ? this.peerAddr : { hostname: forwarded, port: 0 });
  }

  /**
   * What a proxy forwarded, believed only if the peer is one `trust` admits: the client
   * (`X-Forwarded-For`, or null) and a scheme other than the connection's (or undefined).
   */
  forwarded(trust: Trust, forwardedFor: string | null, scheme: "http" | "https" | undefined): void {
    this.#trust = trust;
    this.#forwardedFor = forwardedFor;
    this.#scheme = scheme;
  }

  /** `url` (the request's, as the runtime made it) with the scheme a trusted proxy forwarded. */
  forwardedUrl(url: string): string {
    if (this.#scheme === undefined || !this.#fromTrusted()) return url;
    return this.#scheme + url.slice(url.indexOf(":"));
  }

  /**
   * A unix socket's peer (no address) is trusted: only local processes its file
   * permissions admit can connect, the proxy in front above all.
   */
  #fromTrusted(): boolean {
    return this.#trusted ??= this.peerAddr.hostname === "" || this.#trust!(this.peerAddr.hostname);
  }
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
