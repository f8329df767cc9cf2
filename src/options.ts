/**
 * Resolves `serve()` options with the options table: each value given in code is checked,
 * each one left out comes from its environment variable or its default, and the few rules
 * between options are applied. A bad value is an `OptionError` naming where it came from.
 *
 * @module
 */
import { systemdSockets } from "./addresses.ts";
import { OptionError } from "./errors.ts";
import { readEnv } from "./host.ts";
import { type Config, type Setting, type SettingName, SETTINGS } from "./settings.ts";
import type { ServeOptions } from "./types.ts";
import { describe, Invalid } from "./value_kinds.ts";

const NAMES = Object.keys(SETTINGS) as SettingName[];

/** Apply defaults and environment variables to `options`, and check every value. */
export function resolveOptions(options: ServeOptions = {}): Config {
  if (options === null || typeof options !== "object") {
    throw new OptionError(`serve() options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(key in SETTINGS)) {
      throw new OptionError(`unknown option "${key}"; known options: ${NAMES.join(", ")}`);
    }
  }
  const given = options as Record<string, unknown>;
  const config = {} as Record<string, unknown>;
  for (const name of NAMES) config[name] = resolveOne(name, given[name]);
  const resolved = config as Config;
  // A reload needs a pool: one isolate watching serves as one supervised worker.
  if (resolved.watch && resolved.processes === 1 && resolved.threaded === 0) resolved.threaded = 1;
  // These act through the supervisor; one isolate serving alone has none, and quietly
  // ignoring an explicit request would be worse than saying so.
  if (resolved.processes === 1 && resolved.threaded === 0) {
    for (const name of NAMES) {
      const value = given[name];
      if ((SETTINGS[name] as Setting<unknown, unknown>).needsWorkers && value !== undefined && value !== 0) {
        throw new OptionError(
          `option "${name}" needs supervised workers: set "threaded" (even 1) or "processes" ≥ 2`,
        );
      }
    }
  }
  // systemd's socket activation names where to listen when the options do not.
  if (resolved.bind.length === 0) resolved.bind = systemdSockets();
  if (resolved.bind.some((bind) => "path" in bind) && resolved.cert !== undefined) {
    throw new OptionError(
      `option "cert" with a unix socket: serve HTTPS on a TCP port; a unix socket is local (the proxy in front terminates TLS)`,
    );
  }
  // The first TCP bind is host and port by other names (what `--check` and a Deno child's
  // permissions name).
  const tcp = resolved.bind.find((bind) => "port" in bind);
  if (tcp !== undefined) {
    resolved.hostname = tcp.hostname;
    resolved.port = tcp.port;
  }
  if ((resolved.cert === undefined) !== (resolved.key === undefined)) {
    throw new OptionError(
      `option "${resolved.cert === undefined ? "key" : "cert"}" needs "${
        resolved.cert === undefined ? "cert" : "key"
      }" too: HTTPS takes a certificate and its key`,
    );
  }
  if (resolved.h2c && resolved.cert !== undefined) {
    throw new OptionError(
      `option "h2c" with "cert": h2c is cleartext HTTP/2; over TLS, HTTP/2 is offered by ALPN (option "http2")`,
    );
  }
  // The admin endpoint shows what the workers count.
  if (resolved.adminPort !== undefined) resolved.stats = true;
  if (resolved.maxRequestsJitter > 0 && resolved.maxRequests === 0) {
    throw new OptionError(`option "maxRequestsJitter" needs "maxRequests" > 0`);
  }
  return resolved;
}

/** One option: the value given, else its environment variable's, else the default. */
function resolveOne(name: SettingName, value: unknown): unknown {
  const entry = SETTINGS[name] as Setting<unknown, unknown>;
  if (value !== undefined) return checked(entry.kind.fromValue(value), `option "${name}"`, value, entry);
  const text = entry.env === undefined ? undefined : readEnv(entry.env);
  if (text === undefined) return entry.default;
  const parsed = entry.kind.fromText!(text);
  // Set but empty (PORT=): unset, unless empty means something (FORWARDED_ALLOW_IPS=: nobody).
  if (text === "" && parsed instanceof Invalid) return entry.default;
  const source = `env ${entry.env}`;
  checked(parsed, source, text, entry, true);
  return checked(entry.kind.fromValue(parsed), source, text, entry, true);
}

/** `result`, unless it is `Invalid`: then an `OptionError` saying what `source` must be. */
export function checked<T>(
  result: T | Invalid,
  source: string,
  raw: unknown,
  entry: Setting<unknown, unknown>,
  asText = false,
): T {
  if (!(result instanceof Invalid)) return result;
  if (result.detail !== undefined) throw new OptionError(`${source}: ${result.detail}`);
  const expects = asText ? entry.kind.expectsText ?? entry.kind.expects : entry.kind.expects;
  throw new OptionError(`${source} must be ${expects}, got ${describe(raw)}`);
}
