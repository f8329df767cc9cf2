/**
 * What goes over the control socket between `multiserve ctl` and a primary: one JSON object
 * per line each way, every one carrying the protocol version `v`. A request names a
 * `command` and its `args`; the reply with the same `id` says `ok` with a `result`, or
 * gives an `error` and a `code`. docs/control.md writes it down for other clients.
 *
 * @module
 */
import type { Address } from "../addresses.ts";

/** The protocol version this side speaks. */
export const PROTOCOL_VERSION = 1;

/** The commands, as `multiserve ctl` names them. */
export const COMMANDS = [
  "status",
  "workers",
  "reload",
  "scale",
  "add",
  "remove",
  "kill",
  "stop",
  "log-level",
  "upgrade",
] as const;

export type Command = (typeof COMMANDS)[number];

/** A command's arguments, by name. */
export interface CommandArgs {
  /** `scale`: workers to keep; `add`, `remove`: how many more or fewer (default 1). */
  count?: number;
  /** `kill`: the worker's id ("2"). */
  worker?: string;
  /** `stop`: seconds the drain may take instead of `gracefulTimeout`. */
  gracefulTimeout?: number;
  /** `log-level`: the level from now on. */
  level?: string;
}

export interface ControlRequest {
  v: number;
  /** Echoed in the reply. */
  id: number | string;
  command: Command;
  args?: CommandArgs;
}

/**
 * Why a command was not done: the request was malformed (`bad-request`), spoke another
 * version (`unsupported-version`), the client is not the server's user (`forbidden`), the
 * server cannot do it now or at all (`refused`), or it was tried and failed (`failed`).
 */
export type ErrorCode = "bad-request" | "unsupported-version" | "forbidden" | "refused" | "failed";

export type ControlReply =
  | { v: number; id: number | string | null; ok: true; result: unknown }
  | { v: number; id: number | string | null; ok: false; error: string; code: ErrorCode };

/** Exit codes of `multiserve ctl`. */
export const CTL_EXIT = {
  /** Done. */
  ok: 0,
  /** The server refused the command, or it failed (a reload whose new workers could not start). */
  refused: 1,
  /** A bad command or flag: nothing was sent. */
  usage: 2,
  /** No server listens at the socket's path (none there, or a dead server's file). */
  noServer: 3,
  /** Not allowed: the socket's mode or directory keep this user out, or the server refused the user. */
  forbidden: 4,
} as const;

/** The name of a server's default control socket, in `Adapter.controlDirectory()`: from its first address. */
export function defaultControlName(address: Address, pid: number): string {
  if (address.unix !== undefined) {
    const path = address.unix.path;
    return `unix-${path.slice(path.lastIndexOf("/") + 1)}-${hash(path)}.ctl`;
  }
  // A socket an upgrade passed on keeps the name of its host and port: the new primary takes
  // the old one's control socket over.
  if (address.fd !== undefined && !address.passed) return `fd-${address.fd}.ctl`;
  const host = address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname;
  // Port 0 is a new port at every start: no other start could look for it by name.
  return address.port === 0 ? `${host}:0.${pid}.ctl` : `${host}:${address.port}.ctl`;
}

/** FNV-1a, 32 bits, in hex: two unix sockets of one name in different directories get different names. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
