/**
 * Where a server listens: the addresses the options bind (`bind`, else the sockets systemd
 * passed, else `hostname:port`), and the URL each one is reached at.
 *
 * @module
 */
import { forgetEnv, pid, readEnv } from "./host.ts";
import type { WorkerConfig } from "./settings.ts";
import type { Bind } from "./value_kinds.ts";

/** One place a worker listens: a TCP host and port, a unix socket, or an inherited socket. */
export interface Address {
  hostname: string;
  /** The TCP port; for a unix or inherited socket, 0 until it listens. */
  port: number;
  /** A unix socket instead of `hostname:port` (made with `mode`). */
  unix?: { path: string; mode: number };
  /** A socket this process inherited, open on this file descriptor (`fd://N`). */
  fd?: number;
  /**
   * `fd` is the socket an upgrade's old primary listened on at `hostname:port`, passed on:
   * named by them, not `fd://N`.
   */
  passed?: boolean;
}

/** The addresses the options name, in their order: `bind`, else `hostname:port`. */
export function addressesOf(config: WorkerConfig): Address[] {
  if (config.bind.length === 0) return [{ hostname: config.hostname, port: config.port }];
  return config.bind.map((bind) =>
    "path" in bind
      ? { hostname: config.hostname, port: 0, unix: { path: bind.path, mode: config.unixMode } }
      : "fd" in bind
      ? { hostname: config.hostname, port: 0, fd: bind.fd }
      : { hostname: bind.hostname, port: bind.port }
  );
}

/** The URL a server at `address` answers on (`secure`: over TLS): `unix:PATH` and `fd://N` for sockets. */
export function urlOf(address: Address, secure = false): string {
  if (address.unix !== undefined) return `unix:${address.unix.path}`;
  if (address.fd !== undefined && !address.passed) return `fd://${address.fd}`;
  const { hostname, port } = address;
  return `http${secure ? "s" : ""}://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`;
}

/** The first file descriptor systemd passes (SD_LISTEN_FDS_START). */
const FIRST_PASSED_FD = 3;

/**
 * The sockets systemd's socket activation passed this process (`LISTEN_FDS` of them from fd
 * 3, when `LISTEN_PID` is ours), as `fd://N` binds; none otherwise. Like sd_listen_fds(),
 * it unsets the variables, so that programs started from here (workers) do not take them
 * for their own.
 */
export function systemdSockets(): Bind[] {
  const listenPid = readEnv("LISTEN_PID");
  const count = Number(readEnv("LISTEN_FDS"));
  if (listenPid === undefined || Number(listenPid) !== pid()) return [];
  for (const name of ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]) forgetEnv(name);
  if (!Number.isInteger(count) || count <= 0) return [];
  return Array.from({ length: count }, (_, i) => ({ fd: FIRST_PASSED_FD + i }));
}
