/**
 * Proxy headers, believed only from trusted peers (gunicorn's and uvicorn's
 * `forwarded_allow_ips`): from such a peer, `X-Forwarded-For` names the client and
 * `X-Forwarded-Proto` the scheme; from anyone else they change nothing, since any client
 * can send them.
 *
 * @module
 */
import type { FetchHandler, RemoteAddr } from "../types.ts";
import type { AfterGuard } from "./guard.ts";
import type { Trust } from "./ip.ts";

/**
 * `app`, seeing the client and scheme a trusted proxy forwarded, given the request's
 * `X-Forwarded-For` and `X-Forwarded-Proto` as the guard read them (null when absent;
 * requests without either pass straight through). `info` is one of the adapters' own (a
 * `ForwardableInfo`). Both are worked out only when the app reads them: the client in
 * `remoteAddr`, the scheme in `request.url`.
 */
export function forwarded(app: FetchHandler, trust: Trust): AfterGuard {
  return (request, info, { forwardedFor, forwardedProto: proto }) => {
    if (forwardedFor === null && proto === null) return app(request, info);
    let trusted: boolean | undefined;
    // A unix socket's peer (no address) is trusted: only local processes its file
    // permissions admit can connect, the proxy in front above all.
    const fromTrusted = () => (trusted ??= info.peerAddr.hostname === "" || trust(info.peerAddr.hostname));
    if (proto !== null) {
      // Only a scheme that differs needs anything (most proxies send the one it already is),
      // and then it is worked out when the app reads `request.url`, on the request the runtime
      // made (never a copy: Deno's and Bun's WebSocket upgrades need their own object).
      const scheme = schemeOf(proto);
      const url = request.url;
      if (scheme !== undefined && !url.startsWith(`${scheme}:`)) {
        let forwardedUrl: string | undefined;
        Object.defineProperty(request, "url", {
          configurable: true,
          get: () => (forwardedUrl ??= fromTrusted() ? scheme + url.slice(url.indexOf(":")) : url),
        });
      }
    }
    if (forwardedFor !== null) {
      let client: RemoteAddr | undefined;
      info.forwardedFor(() => {
        if (client !== undefined) return client;
        const forwarded = fromTrusted() ? clientOf(forwardedFor, trust) : undefined;
        return (client = forwarded === undefined ? info.peerAddr : { hostname: forwarded, port: 0 });
      });
    }
    return app(request, info);
  };
}

/** "http" or "https", as the first entry of `X-Forwarded-Proto` names it; undefined for anything else. */
function schemeOf(proto: string): "http" | "https" | undefined {
  const scheme = (proto.includes(",") ? proto.slice(0, proto.indexOf(",")) : proto).trim().toLowerCase();
  return scheme === "http" || scheme === "https" ? scheme : undefined;
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
