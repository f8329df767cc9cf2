/**
 * Proxy headers, believed only from trusted peers (gunicorn's and uvicorn's
 * `forwarded_allow_ips`), and only those `forwardedHeaders` lists (Werkzeug's ProxyFix
 * takes each one by choice too): from such a peer, `Forwarded` (RFC 7239) or
 * `X-Forwarded-For` names the client, `Forwarded`'s `proto` or `X-Forwarded-Proto` the
 * scheme, `Forwarded`'s `host` or `X-Forwarded-Host` and `-Port` the URL's host and port,
 * `X-Forwarded-Prefix` the prefix the app is served under; from anyone else they change
 * nothing, since any client can send them.
 *
 * @module
 */
import type { FetchHandler } from "../types.ts";
import { forwardedElements, lastEntry, validHost, validPort } from "./forwarded.ts";
import type { AfterGuard, Fields } from "./guard.ts";
import type { Trust } from "./ip.ts";
import type { ForwardableInfo, ProxyPlan } from "./request_info.ts";

/**
 * `app`, seeing the client, scheme, host and prefix a trusted proxy forwarded, given the
 * proxy headers the guard read (null when absent or not listed; requests without any pass
 * straight through, unless `prefix` is listed, which is read only when the app asks).
 * `secure`: the connections are TLS, so the runtime's URLs say `https:`. `header` reads a
 * request header later (the prefix). `info` is one of the adapters' own (a
 * `ForwardableInfo`), which keeps what was forwarded; the client is worked out when the app
 * reads `remoteAddr`, the URL when it reads `request.url` (see `forwardUrls()`), the prefix
 * when it reads `prefix`, and whether the peer is trusted at the first of them.
 */
export function forwarded(
  app: FetchHandler,
  trust: Trust,
  secure: boolean,
  header: ProxyPlan["header"],
  prefix: boolean,
): AfterGuard {
  const own = secure ? "https" : "http";
  const plan: ProxyPlan = { trust, header, prefix };
  let seen: object | undefined;
  let forwarding: object | undefined;
  return (request, info, fields) => {
    const { forwardedFor, forwardedProto: proto, forwarded, forwardedHost, forwardedPort } = fields;
    if (
      forwardedFor === null && proto === null && forwarded === null && forwardedHost === null &&
      forwardedPort === null && !prefix
    ) return app(request, info);
    const parts = forwarded === null && forwardedHost === null && forwardedPort === null
      ? { scheme: proto === null ? undefined : schemeOf(proto), host: undefined, port: undefined }
      : urlParts(fields);
    // Only a scheme that differs needs anything (most proxies send the one it already is).
    const scheme = parts.scheme !== undefined && parts.scheme !== own ? parts.scheme : undefined;
    const changes = scheme !== undefined || parts.host !== undefined || parts.port !== undefined;
    info.forwarded({
      plan,
      request,
      forwardedFor,
      forwarded,
      scheme,
      host: parts.host,
      port: parts.port,
      trusted: undefined,
      client: undefined,
    });
    if (changes) {
      // The request the runtime made, never a copy: Deno's and Bun's WebSocket upgrades need
      // their own object. Its class learns once to ask its info (one pointer test after).
      const prototype = Object.getPrototypeOf(request);
      if (prototype !== seen) forwarding = forwardUrls(seen = prototype);
      (request as ForwardedRequest)[FORWARDED_BY] = info;
      // Bun's `url` cannot be wrapped (not configurable): the request is given a prototype
      // between it and its class, whose `url` asks the info.
      if (forwarding !== prototype) {
        if (forwarding !== undefined) Object.setPrototypeOf(request, forwarding);
        else {
          // No `url` getter to wrap at all: this request gets its own.
          const url = request.url;
          Object.defineProperty(request, "url", {
            configurable: true,
            get: () => forwardedUrlOf(request, url),
          });
        }
      }
    }
    return app(request, info);
  };
}

/**
 * The scheme, host and port the proxy headers give the URL. `Forwarded` first, from its
 * last element (what the nearest proxy received), for each of `proto` and `host` it names;
 * else `X-Forwarded-Proto`, and `X-Forwarded-Host` (its last entry) with `X-Forwarded-Port`.
 * A value that does not parse is ignored (a malformed `Forwarded` as a whole).
 */
function urlParts(
  fields: Fields,
): { scheme: "http" | "https" | undefined; host: string | undefined; port: number | undefined } {
  const elements = fields.forwarded === null ? undefined : forwardedElements(fields.forwarded);
  const last = elements?.[elements.length - 1];
  const proto = last?.proto ?? fields.forwardedProto;
  const scheme = proto == null ? undefined : schemeOf(proto);
  if (last?.host !== undefined) {
    const host = validHost(last.host);
    if (host !== undefined) return { scheme, host, port: undefined };
  }
  const host = fields.forwardedHost === null ? undefined : validHost(lastEntry(fields.forwardedHost));
  const port = fields.forwardedPort === null ? undefined : validPort(lastEntry(fields.forwardedPort));
  return { scheme, host, port };
}

/** "http" or "https", as the first entry of `X-Forwarded-Proto` names it; undefined for anything else. */
function schemeOf(proto: string): "http" | "https" | undefined {
  const scheme = (proto.includes(",") ? proto.slice(0, proto.indexOf(",")) : proto).trim().toLowerCase();
  return scheme === "http" || scheme === "https" ? scheme : undefined;
}

/** Where a request whose scheme was forwarded keeps its info. */
const FORWARDED_BY = Symbol.for("multiserve.forwardedBy");
type ForwardedRequest = Request & { [FORWARDED_BY]?: ForwardableInfo };

/**
 * `url` with the scheme a trusted proxy forwarded for `request`: for an adapter that gives a
 * request its own `url` (which hides the one `forwardUrls()` wraps).
 */
export function forwardedUrlOf(request: Request, url: string): string {
  const info = (request as ForwardedRequest)[FORWARDED_BY];
  return info === undefined ? url : info.forwardedUrl(url);
}

/** The prototypes made by `forwardUrls()` for classes whose `url` cannot be wrapped. */
const between = new WeakMap<object, object>();

/**
 * Make `url` on the requests of `prototype` (the runtime's request class: Deno's and Bun's
 * `Request`, @hono/node-server's light request on Node) answer with the forwarded scheme
 * where the request has one: its own getter, wrapped once, asks the request's info. A
 * request without (and every other `Request`) pays one missing-property lookup. Defining
 * `url` on each request instead costs V8 a new shape and a closure per request: measured,
 * Deno served 0.59× its raw requests per second behind `X-Forwarded-Proto: https`, and
 * 0.89× this way. Returns the prototype whose `url` forwards: `prototype` itself, or, where
 * its `url` is not configurable (Bun), one made to sit between a request and its class
 * (measured alone, cheaper than a `url` of the request's own, and the URL stays unread
 * until asked); undefined where there is no getter to wrap.
 */
function forwardUrls(prototype: object): object | undefined {
  let owner: object | null = prototype;
  let descriptor: PropertyDescriptor | undefined;
  while (owner !== null && (descriptor = Object.getOwnPropertyDescriptor(owner, "url")) === undefined) {
    owner = Object.getPrototypeOf(owner);
  }
  const original = descriptor?.get;
  if (original === undefined) return undefined;
  if ((original as { [FORWARDED_BY]?: true })[FORWARDED_BY]) return prototype;
  const url = function (this: ForwardedRequest): string {
    return forwardedUrlOf(this, original.call(this));
  };
  (url as { [FORWARDED_BY]?: true })[FORWARDED_BY] = true;
  const property = { configurable: true, enumerable: descriptor!.enumerable, get: url };
  if (owner !== prototype || descriptor!.configurable) {
    Object.defineProperty(prototype, "url", property);
    return prototype;
  }
  let made = between.get(prototype);
  if (made === undefined) between.set(prototype, made = Object.create(prototype, { url: property }));
  return made;
}
