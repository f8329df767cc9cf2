/**
 * Sending systemd's notifications (sd_notify) on every runtime; see `Adapter.notifySocket`.
 *
 * - Deno (with --allow-ffi, which -A gives) and Bun send datagrams of their own, through
 *   libc's socket() and sendto() (`Deno.dlopen`, `bun:ffi`): systemd then takes each message
 *   as the main process's, so `NotifyAccess=main` (the default) is enough, and an abstract
 *   socket (`@name`) works. Deno's own `Deno.listenDatagram` is no way: it needs
 *   --unstable-net, binds a file for the sender, and ends an abstract name with a NUL byte
 *   (checked on Deno 2.9: sending to `@name` is refused). Bun's `udpSocket` and node:dgram
 *   are UDP only.
 * - Node, which has no unix datagram socket and no FFI, and Deno without --allow-ffi, run
 *   Debian's `systemd-notify --pid=<primary>` per message, one at a time (it waits until
 *   systemd has read each). As root it passes the primary's credentials; as another user
 *   the message comes from the helper, which needs `NotifyAccess=all`.
 *
 * @module
 */
import { childProcess, proc } from "./_builtins.ts";
import type { NotifySocket } from "../src/adapter.ts";
import type { BunFfi } from "./_bun_api.ts";
import type { DenoApi } from "./_deno_api.ts";

/** libc's calls, as a runtime's FFI gives them, with errors as negative errno values. */
export interface Libc {
  /** socket(2): a descriptor, or -errno. */
  socket(domain: number, type: number, protocol: number): number;
  /** sendto(2): bytes sent, or -errno. */
  sendto(fd: number, message: Uint8Array, flags: number, address: Uint8Array): number;
  close(fd: number): void;
  /** clock_gettime(CLOCK_MONOTONIC), in µs. */
  monotonicMicros(): bigint;
}

// Linux's values (x86-64 and arm64, the only platforms the datagram path is taken on).
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const CLOCK_MONOTONIC = 1;
const EAGAIN = 11;
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  11: "EAGAIN",
  13: "EACCES",
  111: "ECONNREFUSED",
};
/** sizeof(sun_path). */
const SUN_PATH = 108;
/** libc's file name, on glibc. */
const LIBC = "libc.so.6";

/**
 * The `sockaddr_un` of `address` as systemd names it: an absolute path, or `@name` for an
 * abstract socket (a NUL byte first, no NUL after); a string says why it cannot be one
 * (systemd ≥ 253's `vsock:` addresses are left to `systemd-notify`).
 */
export function sockaddrOf(address: string): Uint8Array | string {
  const abstract = address.startsWith("@");
  if (!abstract && !address.startsWith("/")) return `not a unix socket's address: ${address}`;
  const name = new TextEncoder().encode(abstract ? address.slice(1) : address);
  const length = 1 + name.length; // the leading NUL of an abstract name, or the path's trailing one
  if (length > SUN_PATH) return `a unix socket address longer than ${SUN_PATH} bytes: ${address}`;
  const sockaddr = new Uint8Array(2 + (abstract ? length : name.length + 1));
  new DataView(sockaddr.buffer).setUint16(0, AF_UNIX, true);
  sockaddr.set(name, abstract ? 3 : 2);
  return sockaddr;
}

/**
 * Datagrams from this process to `address`, through `libc`: one socket, kept open; a full
 * queue (systemd busy) is retried, without ever blocking the event loop.
 */
export function datagramSocket(address: string, libc: Libc, via: string): NotifySocket | string {
  const target = sockaddrOf(address);
  if (typeof target === "string") return target;
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return `socket() failed: ${errnoName(-fd)}`;
  let closed = false;
  const encoder = new TextEncoder();
  return {
    via,
    async send(message) {
      const bytes = encoder.encode(message);
      for (let attempt = 1;; attempt++) {
        if (closed) throw new Error("the notification socket is closed");
        const sent = libc.sendto(fd, bytes, MSG_NOSIGNAL | MSG_DONTWAIT, target);
        if (sent >= 0) return;
        if (-sent !== EAGAIN || attempt === 40) {
          throw new Error(`sending to ${address} failed: ${errnoName(-sent)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    monotonicMicros: () => libc.monotonicMicros(),
    close() {
      if (closed) return;
      closed = true;
      libc.close(fd);
    },
  };
}

function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

/** Is this a platform whose values the datagram path uses (64-bit Linux)? */
export function datagramPlatform(os: string, arch: string): boolean {
  return os === "linux" && ["x86_64", "x64", "aarch64", "arm64"].includes(arch);
}

/** libc through `Deno.dlopen` (needs --allow-ffi); a string says why it could not be opened. */
export function denoLibc(
  deno: Pick<DenoApi, "dlopen" | "UnsafePointerView">,
  symbols: DenoLibcTable,
): Libc | string {
  let lib;
  try {
    lib = deno.dlopen(LIBC, symbols);
  } catch (error) {
    return `cannot open ${LIBC} through Deno.dlopen: ${(error as Error).message}`;
  }
  const { socket, sendto, close, clock_gettime, __errno_location } = lib.symbols;
  const errno = () => {
    const pointer = __errno_location();
    return pointer === null ? 0 : new deno.UnsafePointerView(pointer).getInt32();
  };
  return libcOf({
    socket: (domain, type, protocol) => socket(domain, type, protocol),
    sendto: (fd, message, flags, address) =>
      Number(sendto(fd, message, message.length, flags, address, address.length)),
    close: (fd) => close(fd),
    clock: (timespec) => clock_gettime(CLOCK_MONOTONIC, timespec),
    errno,
  });
}

/** libc through `bun:ffi`; a string says why it could not be opened. */
export function bunLibc(ffi: BunFfi, symbols: BunLibcTable): Libc | string {
  let lib;
  try {
    lib = ffi.dlopen(LIBC, symbols);
  } catch (error) {
    return `cannot open ${LIBC} through bun:ffi: ${(error as Error).message}`;
  }
  const { socket, sendto, close, clock_gettime, __errno_location } = lib.symbols;
  const errno = () => {
    const pointer = __errno_location();
    return pointer === null ? 0 : ffi.read.i32(pointer);
  };
  return libcOf({
    socket: (domain, type, protocol) => socket(domain, type, protocol),
    sendto: (fd, message, flags, address) =>
      Number(sendto(fd, message, message.length, flags, address, address.length)),
    close: (fd) => close(fd),
    clock: (timespec) => clock_gettime(CLOCK_MONOTONIC, timespec),
    errno,
  });
}

type DenoLibcTable = Parameters<DenoApi["dlopen"]>[1];
type BunLibcTable = Parameters<BunFfi["dlopen"]>[1];

/** The calls as C returns them (-1 and errno) turned into `Libc`'s (-errno). */
function libcOf(raw: {
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, message: Uint8Array, flags: number, address: Uint8Array): number;
  close(fd: number): void;
  clock(timespec: BigInt64Array): number;
  errno(): number;
}): Libc {
  const timespec = new BigInt64Array(2);
  return {
    socket(domain, type, protocol) {
      const fd = raw.socket(domain, type, protocol);
      return fd < 0 ? -raw.errno() : fd;
    },
    sendto(fd, message, flags, address) {
      const sent = raw.sendto(fd, message, flags, address);
      return sent < 0 ? -raw.errno() : sent;
    },
    close: (fd) => raw.close(fd),
    monotonicMicros() {
      raw.clock(timespec);
      return timespec[0] * 1_000_000n + timespec[1] / 1_000n;
    },
  };
}

/** How long one `systemd-notify` may take (it waits up to 5 s for systemd to read its message). */
const HELPER_LIMIT_MS = 10_000;

/**
 * Messages through Debian's `systemd-notify`, one run per message; `clock` is CLOCK_MONOTONIC
 * in µs where the runtime reads it (Node's `process.hrtime`).
 */
export function helperSocket(
  address: string,
  pid: number,
  clock: () => bigint | undefined = () => undefined,
): NotifySocket {
  return {
    via: "Debian's systemd-notify (NotifyAccess=all unless running as root)",
    send(message) {
      // --pid sends MAINPID itself, and has systemd-notify pass that process's credentials
      // where it may (root), so that systemd takes the message as the primary's. Another
      // MAINPID (an upgrade's new primary) is passed on: systemd-notify sends it instead.
      const assignments = message.split("\n").filter((line) => line !== "" && line !== `MAINPID=${pid}`);
      return new Promise((resolve, reject) => {
        const child = childProcess().spawn("systemd-notify", [`--pid=${pid}`, ...assignments], {
          env: { ...proc().env, NOTIFY_SOCKET: address },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr!.on("data", (chunk) => (stderr += chunk));
        const timer = setTimeout(() => child.kill("SIGKILL"), HELPER_LIMIT_MS);
        child.on("error", (error: Error & { code?: string }) => {
          clearTimeout(timer);
          reject(
            error.code === "ENOENT"
              ? new Error("systemd-notify is not installed (Debian's package systemd)")
              : error,
          );
        });
        child.on("close", (code, signal) => {
          clearTimeout(timer);
          if (code === 0) return resolve();
          const why = signal ? `was killed (${signal})` : `exited with code ${code}`;
          reject(new Error(`systemd-notify ${why}${stderr.trim() ? `: ${stderr.trim()}` : ""}`));
        });
      });
    },
    monotonicMicros: clock,
    close() {},
  };
}
