/**
 * The control socket (src/control/), through `node:net` and `node:fs`, whose unix sockets
 * serve and connect on all three runtimes: listening with an atomic takeover, connecting,
 * lines both ways, the peer's user id where a runtime's FFI can read it, and the directory
 * of default sockets. See `Adapter.listenControl`.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { Stats } from "node:fs";
import { fs, net, os, proc } from "./_builtins.ts";
import type { ControlConnection, ControlListener } from "../src/adapter.ts";

/** A longer line is no request of ours: the connection is closed. */
const MAX_LINE = 64 * 1024;

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/** libc's getsockopt, as a runtime's FFI calls it: 0, or -1 on failure. */
export type GetSockOpt = (
  fd: number,
  level: number,
  name: number,
  value: Uint8Array,
  length: Uint8Array,
) => number;

/** Reads a connected unix socket's peer user id (Linux's SO_PEERCRED: pid, uid, gid) through `getsockopt`. */
export function peerUidReader(getsockopt: GetSockOpt): (fd: number) => number | undefined {
  return (fd) => {
    const credentials = new Uint8Array(12);
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, 12, true);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, credentials, length) !== 0) return undefined;
    return new DataView(credentials.buffer).getUint32(4, true);
  };
}

/** The OS file descriptor under a `node:net` socket: Node, Deno's node:net and Bun's all keep one there. */
function fdOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/** Lines over `socket`. */
function connectionOf(socket: Socket, peerUid: number | undefined): ControlConnection {
  const lineListeners: ((line: string) => void)[] = [];
  const closeListeners: (() => void)[] = [];
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, end).replace(/\r$/, "");
      buffered = buffered.slice(end + 1);
      for (const listener of lineListeners) listener(line);
    }
    if (buffered.length > MAX_LINE) socket.destroy();
  });
  socket.on("error", () => socket.destroy());
  socket.on("close", () => {
    for (const listener of closeListeners) listener();
  });
  return {
    peerUid,
    onLine: (listener) => void lineListeners.push(listener),
    onClose: (listener) => void closeListeners.push(listener),
    send: (line) => void (socket.writable && socket.write(`${line}\n`)),
    close: () => void socket.end(),
  };
}

function uidOf(): number | undefined {
  const process = proc();
  return typeof process.getuid === "function" ? process.getuid() : undefined;
}

/** The same file: device and inode. */
function same(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Listen at `path` with mode 0600: bound at `PATH.PID.tmp`, given its mode, then renamed
 * over `path` (a rename replaces a socket file atomically: the old server's, on an upgrade,
 * or a dead one's). `peerUid` reads a connection's peer, where the runtime can.
 */
export function listenControl(
  path: string,
  onConnection: (connection: ControlConnection) => void,
  peerUid?: (fd: number) => number | undefined,
): Promise<ControlListener> {
  const temporary = `${path}.${proc().pid}.tmp`;
  try {
    if (!fs().lstatSync(path).isSocket()) {
      return Promise.reject(new Error("it exists and is not a socket (remove it, or choose another path)"));
    }
  } catch { /* nothing there */ }
  const open = new Set<Socket>();
  const server = net().createServer((socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    const fd = fdOf(socket);
    onConnection(connectionOf(socket, fd === undefined || peerUid === undefined ? undefined : peerUid(fd)));
  });
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      server.close();
      try {
        fs().unlinkSync(temporary);
      } catch { /* never bound */ }
      reject(error);
    };
    server.once("error", fail);
    try {
      fs().unlinkSync(temporary); // one a crashed process of the same pid left
    } catch { /* none */ }
    server.listen({ path: temporary }, () => {
      let ours: Stats;
      try {
        fs().chmodSync(temporary, 0o600);
        fs().renameSync(temporary, path);
        ours = fs().lstatSync(path);
      } catch (error) {
        return fail(error as Error);
      }
      server.off("error", fail);
      server.on("error", () => {});
      resolve({
        uid: uidOf(),
        close() {
          server.close();
          for (const socket of open) socket.destroy();
          try {
            // Another server may have taken the path over since (an upgrade): its socket stays.
            if (same(fs().lstatSync(path), ours)) fs().unlinkSync(path);
          } catch { /* gone already */ }
        },
      });
    });
  });
}

/** Connect to the control socket at `path`. */
export function connectControl(path: string): Promise<ControlConnection> {
  return new Promise((resolve, reject) => {
    const socket = net().connect({ path });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(connectionOf(socket, undefined));
    });
  });
}

/** See `Adapter.controlDirectory`. */
export function controlDirectory(create: boolean): { path: string; sockets: string[] } {
  const uid = uidOf();
  let runtimeDir: string | undefined;
  try {
    runtimeDir = proc().env.XDG_RUNTIME_DIR || undefined;
  } catch { /* Deno without --allow-env */ }
  const dir = runtimeDir !== undefined
    ? `${runtimeDir}/multiserve`
    : `${os().tmpdir()}/multiserve-${uid ?? "user"}`;
  if (create) {
    try {
      fs().mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
    }
  }
  let stats: Stats;
  try {
    stats = fs().lstatSync(dir);
  } catch (error) {
    if (!create && (error as { code?: string }).code === "ENOENT") return { path: dir, sockets: [] };
    throw error;
  }
  // Anyone could have made a directory in /tmp first: sockets there could be theirs.
  if (!stats.isDirectory() || (uid !== undefined && stats.uid !== uid) || (stats.mode & 0o077) !== 0) {
    throw new Error(
      `${dir} is not a directory of this user's that only this user can enter (mode 0700): remove it, or choose another path`,
    );
  }
  // lstat, not the directory entry's type: Deno's node:fs says no entry is a socket.
  const sockets = fs().readdirSync(dir).filter((name) => {
    try {
      return fs().lstatSync(`${dir}/${name}`).isSocket();
    } catch {
      return false;
    }
  });
  return { path: dir, sockets };
}

/** Resident memory of process `pid` in bytes, from /proc/PID/status (Linux); undefined elsewhere or when gone. */
export function processMemory(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs().readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}
