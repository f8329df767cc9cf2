/**
 * IP addresses and networks, as trust lists name them: parsing IPv4 and IPv6 (however an
 * address is written), checking list entries, and matching a peer against a list.
 *
 * @module
 */

/** Decides whether an address is one of the trusted peers. */
export type Trust = (address: string) => boolean;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Why `entry` is not an IP address, a network (`a.b.c.d/bits`, `v6::/bits`) or `*`; undefined when it is one. */
export function trustEntryProblem(entry: string): string | undefined {
  if (entry === "*") return undefined;
  const [address, bits, extra] = entry.split("/");
  if (extra !== undefined) return `"${entry}" has more than one "/"`;
  const width = ipv4(address) !== undefined ? 32 : ipv6(address) !== undefined ? 128 : undefined;
  if (width === undefined) return `"${entry}" is not an IP address (host names are not resolved)`;
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > width)) {
    return `"${entry}": bits must be 0 to ${width}`;
  }
  return undefined;
}

/** The trust test for checked entries; `*` trusts everyone. */
export function trustOf(entries: readonly string[]): Trust {
  if (entries.includes("*")) return () => true;
  const exact = new Set<string>();
  const networks4: { base: number; mask: number }[] = [];
  const networks6: { base: bigint; mask: bigint }[] = [];
  for (const entry of entries) {
    const [address, bits] = entry.split("/");
    if (bits === undefined) {
      exact.add(canonical(address));
      continue;
    }
    const v4 = ipv4(address);
    if (v4 !== undefined) {
      const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
      networks4.push({ base: (v4 & mask) >>> 0, mask });
    } else {
      const mask = ((1n << BigInt(bits)) - 1n) << BigInt(128 - Number(bits));
      networks6.push({ base: ipv6(address)! & mask, mask });
    }
  }
  return (address) => {
    const key = canonical(address);
    if (exact.has(key)) return true;
    if (!key.includes(":")) {
      const value = networks4.length === 0 ? undefined : ipv4(key);
      return value !== undefined && networks4.some(({ base, mask }) => ((value & mask) >>> 0) === base);
    }
    const value = networks6.length === 0 ? undefined : ipv6(key);
    return value !== undefined && networks6.some(({ base, mask }) => (value & mask) === base);
  };
}

/**
 * One spelling per address, so that exact entries match: an IPv4 client on a dual-stack
 * socket (`::ffff:1.2.3.4`) is `1.2.3.4`; IPv6 is written out in full, lower case, without
 * a zone (`fe80::1%eth0`). Anything else is left as it is, and matches only itself.
 */
function canonical(address: string): string {
  if (!address.includes(":")) return address; // IPv4: the usual case
  const value = ipv6(address);
  if (value === undefined) return address;
  if (value >> 32n === 0xffffn) return ipv4Text(Number(value & 0xffffffffn));
  return value.toString(16).padStart(32, "0").replace(/(.{4})(?!$)/g, "$1:");
}

function ipv4(address: string): number | undefined {
  const parts = IPV4.exec(address);
  if (!parts) return undefined;
  const bytes = parts.slice(1).map(Number);
  if (bytes.some((byte) => byte > 255)) return undefined;
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

function ipv4Text(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** The 128-bit value of an IPv6 address (`::` shorthand, an IPv4 tail, a zone), if it is one. */
function ipv6(address: string): bigint | undefined {
  const zone = address.indexOf("%");
  const halves = (zone === -1 ? address : address.slice(0, zone)).split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] === "" ? [] : halves[0].split(":");
  const tail = halves.length === 1 || halves[1] === "" ? [] : halves[1].split(":");
  const last = halves.length === 1 ? head : tail;
  if (last.length > 0 && last[last.length - 1].includes(".")) {
    const v4 = ipv4(last[last.length - 1]);
    if (v4 === undefined) return undefined;
    last.splice(-1, 1, (v4 >>> 16).toString(16), (v4 & 0xffff).toString(16));
  }
  const given = head.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  let value = 0n;
  for (const group of [...head, ...Array(8 - given).fill("0"), ...tail]) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}
