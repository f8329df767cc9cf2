/**
 * The values of proxy headers, read strictly: RFC 7239's `Forwarded` (elements, pairs, quoted
 * strings, node names), and the host, port and path prefix of `X-Forwarded-Host`, `-Port` and
 * `-Prefix`. What does not parse is undefined, so that the caller ignores it: a client's bytes
 * never make a 5xx.
 *
 * @module
 */

/** The parameters of one element of `Forwarded` (names in lower case; `by` is not used here). */
export type ForwardedElement = { for?: string; proto?: string; host?: string; by?: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The elements of a `Forwarded` header, the nearest proxy's last (RFC 7239 §4: `a=b;c=d, e=f`,
 * values tokens or quoted strings); undefined when any part of it is malformed (an element
 * that does not parse could hide the one its proxy added, so none is believed).
 */
export function forwardedElements(header: string): ForwardedElement[] | undefined {
  const elements: ForwardedElement[] = [];
  let element: Record<string, string> = {};
  let pairs = 0;
  let i = 0;
  const n = header.length;
  for (;;) {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
    const eq = header.indexOf("=", i);
    if (eq === -1) return undefined;
    const name = header.slice(i, eq).trim().toLowerCase();
    if (!TOKEN.test(name) || name in element) return undefined;
    i = eq + 1;
    let value = "";
    if (header[i] === '"') {
      i++;
      for (;;) {
        if (i >= n) return undefined;
        const c = header[i++];
        if (c === '"') break;
        if (c === "\\") {
          if (i >= n) return undefined;
          value += header[i++];
        } else value += c;
      }
    } else {
      const start = i;
      while (i < n && header[i] !== ";" && header[i] !== "," && header[i] !== " " && header[i] !== "\t") i++;
      value = header.slice(start, i);
      if (!TOKEN.test(value)) return undefined;
    }
    element[name] = value;
    pairs++;
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
    if (i >= n) break;
    if (header[i] === ";") {
      i++;
      continue;
    }
    if (header[i] !== ",") return undefined;
    elements.push(element);
    element = {};
    i++;
    // A list may hold empty elements (RFC 9110 §5.6.1): ", ,".
    while (i < n && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++;
    if (i >= n) return pairs > 0 ? elements : undefined;
  }
  elements.push(element);
  return elements;
}

/**
 * The address a node names (`for=` / `by=`, RFC 7239 §6): an IPv4 address, or an IPv6 one in
 * brackets, with an optional port; undefined for `unknown`, an obfuscated name (`_hidden`)
 * or anything else, whose client cannot be reached by address.
 */
export function nodeAddress(node: string): { hostname: string; port: number } | undefined {
  let host = node;
  let port = "";
  if (node.startsWith("[")) {
    const end = node.indexOf("]");
    if (end === -1) return undefined;
    host = node.slice(1, end);
    const rest = node.slice(end + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return undefined;
      port = rest.slice(1);
    }
    if (!IPV6.test(host) || !host.includes(":")) return undefined;
  } else {
    const colon = node.indexOf(":");
    if (colon !== -1) {
      host = node.slice(0, colon);
      port = node.slice(colon + 1);
    }
    if (!IPV4.test(host)) return undefined;
  }
  // An obfuscated port (`_abc`) says nothing usable: 0, as for X-Forwarded-For.
  const number = port === "" || port.startsWith("_") ? 0 : validPort(port);
  return number === undefined ? undefined : { hostname: host, port: number };
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/** A port from 1 to 65535, in decimal digits; undefined for anything else. */
export function validPort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * `host[:port]` as an authority may carry it (a name of letters, digits, `-`, `.` and `_`, an
 * IPv4 address, or an IPv6 one in brackets; a port from 1 to 65535), in lower case;
 * undefined for anything else.
 */
export function validHost(text: string): string | undefined {
  const match = HOST.exec(text);
  if (match === null) return undefined;
  if (match[2] !== undefined && validPort(match[2]) === undefined) return undefined;
  return text.toLowerCase();
}

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d+))?$/;

/**
 * A path prefix (`X-Forwarded-Prefix`): a path of one or more segments (`/app`, `/a/b`), with
 * no trailing slash; "" for `/`; undefined for anything that is not such a path (a scheme, a
 * query, `//host`, spaces or control characters, `.` or `..` segments).
 */
export function validPrefix(text: string): string | undefined {
  if (!PREFIX.test(text) || text.startsWith("//")) return undefined;
  const prefix = text.replace(/\/+$/, "");
  if (prefix.split("/").some((segment) => segment === "." || segment === "..")) return undefined;
  return prefix;
}

const PREFIX = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/** The last entry of a comma-separated list, trimmed: the one the nearest proxy added. */
export function lastEntry(list: string): string {
  const comma = list.lastIndexOf(",");
  return (comma === -1 ? list : list.slice(comma + 1)).trim();
}
