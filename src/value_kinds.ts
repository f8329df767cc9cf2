/**
 * The kinds of value an option takes, each with one check for a value given in code and
 * one for the text of a flag or an environment variable. The options table
 * (`src/settings.ts`) gives every option a kind; the messages come from here.
 *
 * @module
 */
import { cpuCount } from "./host.ts";
import { trustEntryProblem } from "./http/ip.ts";

/** A value that failed its check; `detail` says why where "must be …" would not. */
export class Invalid {
  readonly detail: string | undefined;
  constructor(detail?: string) {
    this.detail = detail;
  }
}

/**
 * How an option's values are read and checked. `In` is what `serve()` accepts, `Out` what
 * the server runs with (`threaded: true` is the number of CPUs).
 */
export interface Kind<In, Out> {
  /** What a valid value is, for messages: "a whole number ≥ 1". */
  readonly expects: string;
  /** What valid text is, when it differs from `expects`. */
  readonly expectsText?: string;
  /** A value given in code, checked and resolved. */
  fromValue(value: unknown): Out | Invalid;
  /** The value a flag or environment variable's text stands for; absent: no text form. */
  fromText?(text: string): In | Invalid;
}

const DIGITS = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

const isInteger = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);

/** A TCP port, 0 for any free one. */
export const port: Kind<number, number> = {
  expects: "an integer from 0 to 65535",
  expectsText: "a whole number from 0 to 65535",
  fromValue: (v) => isInteger(v) && v >= 0 && v <= 65535 ? v : new Invalid(),
  fromText: (t) => DIGITS.test(t) && Number(t) <= 65535 ? Number(t) : new Invalid(),
};

/** A host name or address. */
export const host: Kind<string, string> = {
  expects: "a non-empty string",
  fromValue: (v) => typeof v === "string" && v !== "" ? v : new Invalid(),
  fromText: (t) => t !== "" ? t : new Invalid(),
};

/** Threads per process: `true` is one per CPU, `false` none. */
export const threads: Kind<boolean | number, number> = {
  expects: "true, false or a whole number of threads ≥ 1",
  expectsText: "a whole number ≥ 1 or auto",
  fromValue: (v) => v === false ? 0 : v === true ? cpuCount() : isInteger(v) && v >= 1 ? v : new Invalid(),
  fromText: (t) => t === "auto" ? true : DIGITS.test(t) && Number(t) >= 1 ? Number(t) : new Invalid(),
};

/** Worker processes; `auto` (text only) is one per CPU. */
export const processes: Kind<number, number> = {
  expects: "a whole number of processes ≥ 1",
  expectsText: "a whole number ≥ 1 or auto",
  fromValue: (v) => isInteger(v) && v >= 1 ? v : new Invalid(),
  fromText: (t) => t === "auto" ? cpuCount() : DIGITS.test(t) && Number(t) >= 1 ? Number(t) : new Invalid(),
};

/** A duration in seconds, fractions allowed: ≥ 0, or > 0 when `positive`. */
export function seconds({ positive = false } = {}): Kind<number, number> {
  const ok = (v: number) => Number.isFinite(v) && (positive ? v > 0 : v >= 0);
  return {
    expects: `a number of seconds ${positive ? ">" : "≥"} 0`,
    fromValue: (v) => typeof v === "number" && ok(v) ? v : new Invalid(),
    fromText: (t) => DECIMAL.test(t) && ok(Number(t)) ? Number(t) : new Invalid(),
  };
}

/** A whole number ≥ `min`; `zero` says what 0 means where it is allowed. */
export function count({ min = 0, zero = "off" } = {}): Kind<number, number> {
  return {
    expects: `a whole number ≥ ${min}${min === 0 ? ` (0 = ${zero})` : ""}`,
    fromValue: (v) => isInteger(v) && v >= min ? v : new Invalid(),
    fromText: (t) => DIGITS.test(t) && Number(t) >= min ? Number(t) : new Invalid(),
  };
}

/** On or off; on the command line, a flag without a value. */
export const flag: Kind<boolean, boolean> = {
  expects: "true or false",
  fromValue: (v) => typeof v === "boolean" ? v : new Invalid(),
};

/** Strings: a list in code; on the command line, one per use of the flag (it may repeat). */
export const strings: Kind<string | string[], string[]> = {
  expects: "a string or a list of non-empty strings",
  fromValue(v) {
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || list.some((item) => typeof item !== "string" || item === "")) {
      return new Invalid();
    }
    return [...list];
  },
  fromText: (t) => t === "" ? new Invalid() : t,
};

/** IP addresses and networks (`10.0.0.0/8`, `fd00::/8`) or `*`: a list, or comma-separated text. */
export const addresses: Kind<string | string[], string[]> = {
  expects: "a string or a list of strings",
  fromValue(v) {
    const list = typeof v === "string" ? v.split(",") : v;
    if (!Array.isArray(list) || list.some((entry) => typeof entry !== "string")) return new Invalid();
    const entries = list.map((entry: string) => entry.trim()).filter((entry) => entry !== "");
    for (const entry of entries) {
      const problem = trustEntryProblem(entry);
      if (problem) return new Invalid(problem);
    }
    return entries;
  },
  fromText: (t) => t,
};

/** The proxy headers `forwardedHeaders` may name. */
export const FORWARDED_HEADER_NAMES = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-forwarded-prefix",
] as const;
export type ForwardedHeaderName = typeof FORWARDED_HEADER_NAMES[number];

/** Proxy header names (any case): a list, or comma-separated text; none is an empty list. */
export const forwardedHeaders: Kind<string | string[], ForwardedHeaderName[]> = {
  expects: "a string or a list of strings",
  fromValue(v) {
    const list = typeof v === "string" ? v.split(",") : v;
    if (!Array.isArray(list) || list.some((entry) => typeof entry !== "string")) return new Invalid();
    const names = list.map((entry: string) => entry.trim().toLowerCase()).filter((entry) => entry !== "");
    for (const name of names) {
      if (!(FORWARDED_HEADER_NAMES as readonly string[]).includes(name)) {
        return new Invalid(
          `"${name}" is not a proxy header read here (${FORWARDED_HEADER_NAMES.join(", ")})`,
        );
      }
    }
    return [...new Set(names)] as ForwardedHeaderName[];
  },
  fromText: (t) => t,
};

/** One of `values`, named as it is written. */
export function choice<T extends string>(values: readonly T[]): Kind<T, T> {
  const ok = (v: unknown): v is T => typeof v === "string" && (values as readonly string[]).includes(v);
  return {
    expects: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
    expectsText: `one of ${values.join(", ")}`,
    fromValue: (v) => ok(v) ? v : new Invalid(),
    fromText: (t) => ok(t) ? t : new Invalid(),
  };
}

/**
 * Where lines go: `true` or `"-"` is stdout, a path a file (appended to), `false` nowhere.
 * On the command line, the flag alone is stdout; a file is given as `--flag=FILE`.
 */
export const logTarget: Kind<boolean | string, string | undefined> = {
  expects: 'true (stdout), "-" (stdout), a file path, or false',
  fromValue: (v) =>
    v === true ? "-" : v === false ? undefined : typeof v === "string" && v !== "" ? v : new Invalid(),
  fromText: (t) => t === "" ? new Invalid() : t,
};

/** A TCP port to open, or nothing (`undefined`: off); 0 picks a free one. */
export const optionalPort: Kind<number, number | undefined> = {
  expects: "an integer from 0 to 65535",
  expectsText: "a whole number from 0 to 65535",
  fromValue: (v) => v === undefined ? undefined : port.fromValue(v),
  fromText: port.fromText,
};

/** Where to listen, as `bind` names it: a TCP host and port, a unix socket's path, or an inherited socket. */
export type Bind = { hostname: string; port: number } | { path: string } | { fd: number };

/** One address in gunicorn's bind syntax: `HOST:PORT`, `[IPv6]:PORT`, `unix:PATH`, `fd://N`. */
function parseBind(v: string): Bind | Invalid {
  if (v.startsWith("unix:")) {
    const path = v.slice("unix:".length);
    return path === "" ? new Invalid('"unix:" needs a path: unix:/run/app.sock') : { path };
  }
  if (v.startsWith("fd://")) {
    const fd = v.slice("fd://".length);
    // 0 to 2 are stdin, stdout and stderr; systemd passes sockets from 3.
    return /^\d+$/.test(fd) && Number(fd) >= 3 ? { fd: Number(fd) } : new Invalid(
      `${JSON.stringify(v)}: fd:// needs a file descriptor number from 3 (systemd passes sockets from 3)`,
    );
  }
  const match = v.match(/^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d+)$/);
  if (match === null || Number(match[3]) > 65535) return new Invalid();
  return { hostname: match[1] ?? match[2], port: Number(match[3]) };
}

/** Addresses in gunicorn's bind syntax: one, or a list in code; the flag may repeat. */
export const bindAddresses: Kind<string | string[], Bind[]> = {
  expects: 'an address ("HOST:PORT", "[::1]:PORT", "unix:PATH" or "fd://N") or a list of them',
  fromValue(v) {
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || list.some((item) => typeof item !== "string")) return new Invalid();
    const binds: Bind[] = [];
    for (const item of list) {
      const bind = parseBind(item);
      if (bind instanceof Invalid) return bind;
      binds.push(bind);
    }
    return binds;
  },
  fromText: (t) => t,
};

/** File permissions: 0 to 0o777; on the command line, octal (`660`, `0660`). */
export const fileMode: Kind<number, number> = {
  expects: "file permissions from 0 to 0o777",
  expectsText: "octal file permissions such as 0660",
  fromValue: (v) => isInteger(v) && v >= 0 && v <= 0o777 ? v : new Invalid(),
  fromText: (t) => /^0?[0-7]{1,3}$/.test(t) ? parseInt(t, 8) : new Invalid(),
};

/** A non-empty string, or nothing (`undefined`). */
export const text: Kind<string, string | undefined> = {
  expects: "a non-empty string",
  fromValue: (v) => typeof v === "string" && v !== "" ? v : new Invalid(),
  fromText: (t) => t !== "" ? t : new Invalid(),
};

/** A file's path, or nothing (`undefined`). */
export const path: Kind<string, string | undefined> = {
  expects: "a file path (a non-empty string)",
  fromValue: (v) => typeof v === "string" && v !== "" ? v : new Invalid(),
  fromText: (t) => t !== "" ? t : new Invalid(),
};

/** The control socket's path, or `false` (`"off"`) for none. */
export const controlSocket: Kind<string | false, string | false | undefined> = {
  expects: 'a socket path (a non-empty string), or false or "off" for none',
  expectsText: "a socket path, or off",
  fromValue: (v) =>
    v === false || v === "off" ? false : typeof v === "string" && v !== "" ? v : new Invalid(),
  fromText: (t) => t === "off" ? false : t !== "" ? t : new Invalid(),
};

/** A Redis server's URL (`redis://HOST:PORT[/DB]`, or `rediss://` for TLS), or nothing. */
export const redisUrl: Kind<string, string | undefined> = {
  expects: "a redis:// URL (redis://HOST:PORT[/DB])",
  fromValue: (v) => typeof v === "string" && isRedisUrl(v) ? v : new Invalid(),
  fromText: (t) => isRedisUrl(t) ? t : new Invalid(),
};

function isRedisUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (url.protocol === "redis:" || url.protocol === "rediss:") && url.hostname !== "" &&
    /^(\/\d*)?$/.test(url.pathname) && url.search === "" && url.hash === "";
}

/** A callback, or `false` for none (not on the command line). */
export function callback<F extends (...args: never[]) => unknown>(): Kind<F | false, F | false | undefined> {
  return {
    expects: "a function or false",
    fromValue: (v) => typeof v === "function" || v === false ? v as F | false : new Invalid(),
  };
}

/** How a rejected value is shown in a message. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}
