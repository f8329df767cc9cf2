/**
 * The base of the handler's second argument on every runtime: `remoteAddr` is the peer,
 * unless a trusted proxy named the client (`src/http/proxy.ts`). A plain slot for that, where
 * redefining `remoteAddr` on each request's object costs V8 a shape change per request.
 *
 * @module
 */
import type { RemoteAddr } from "../types.ts";

export class ForwardableInfo {
  #client: (() => RemoteAddr) | undefined = undefined;

  /** The other end of the connection: the client, or the proxy in front of it. */
  get peerAddr(): RemoteAddr {
    throw new Error("an adapter's request info must define peerAddr");
  }

  /** The client's address. */
  get remoteAddr(): RemoteAddr {
    return this.#client === undefined ? this.peerAddr : this.#client();
  }

  /** From now on `remoteAddr` is what `client()` says (worked out when first read). */
  forwardedFor(client: () => RemoteAddr): void {
    this.#client = client;
  }
}
