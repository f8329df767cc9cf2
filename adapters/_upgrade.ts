/**
 * The two primaries of an upgrade (SIGUSR2), through `node:child_process` and
 * `node:process`, which all three runtimes have: the old one starts the new one from its own
 * command line with an IPC channel; the new one talks back over it. See
 * `Adapter.startPrimary` and `Adapter.upgradeLink`.
 *
 * @module
 */
import { childProcess, fs, proc } from "./_builtins.ts";
import type { PrimaryHandle, UpgradeLink, UpgradeMessage } from "../src/adapter.ts";

function isUpgradeMessage(message: unknown): message is UpgradeMessage {
  const kind = (message as Partial<UpgradeMessage> | null)?.multiserveUpgrade;
  return kind === "ready" || kind === "handover";
}

/**
 * The path of the runtime binary: Linux says `/path (deleted)` of one replaced since it
 * started (a package upgrade renames a new one over it), and the new binary is the one wanted.
 */
export function binaryPath(execPath: string): string {
  return execPath.replace(/ \(deleted\)$/, "");
}

/**
 * This process's whole command line, runtime flags included, from `/proc/self/cmdline`;
 * undefined where there is none (not Linux). Each argument ends with a NUL byte.
 */
export function procCommandLine(): string[] | undefined {
  let text: string;
  try {
    text = fs().readFileSync("/proc/self/cmdline", "utf8");
  } catch {
    return undefined;
  }
  const args = text.split("\0");
  if (args.at(-1) === "") args.pop();
  return args.length > 0 ? args : undefined;
}

/** Linux's flag of a listening socket in /proc/net/unix (__SO_ACCEPTCON). */
const ACCEPTING = 0x10000;
/** TCP_LISTEN in /proc/net/tcp's `st` column. */
const TCP_LISTEN = "0A";

/**
 * The descriptor of this process's socket listening on TCP `port`, or at unix `path`: the
 * sockets' inodes from /proc/net, then the fd in /proc/self/fd that links to one of them;
 * undefined when there is none, or more than one (two binds of one port on two hosts).
 */
export function listeningFd({ port, unix }: { port: number; unix?: { path: string } }): number | undefined {
  const inodes = new Set<string>();
  try {
    if (unix !== undefined) {
      // Num: RefCount Protocol Flags Type St Inode Path (a path may hold spaces).
      for (const line of fs().readFileSync("/proc/net/unix", "utf8").split("\n")) {
        const [, flags, inode, bound] = line.match(/^\S+: \S+ \S+ (\S+) \S+ \S+ +(\d+) (.*)$/) ?? [];
        if (bound === unix.path && (parseInt(flags, 16) & ACCEPTING) !== 0) inodes.add(inode);
      }
    } else {
      // sl local_address rem_address st … inode: the port is the local address's hex tail.
      for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
        let text = "";
        try {
          text = fs().readFileSync(table, "utf8");
        } catch { /* no IPv6 */ }
        for (const line of text.split("\n").slice(1)) {
          const fields = line.trim().split(/\s+/);
          if (fields[3] !== TCP_LISTEN) continue;
          if (parseInt(fields[1].slice(fields[1].lastIndexOf(":") + 1), 16) === port) inodes.add(fields[9]);
        }
      }
    }
    const found: number[] = [];
    for (const fd of fs().readdirSync("/proc/self/fd")) {
      let link = "";
      try {
        link = fs().readlinkSync(`/proc/self/fd/${fd}`);
      } catch { /* closed while we looked */ }
      const inode = link.match(/^socket:\[(\d+)\]$/)?.[1];
      if (inode !== undefined && inodes.has(inode)) found.push(Number(fd));
    }
    return found.length === 1 ? found[0] : undefined;
  } catch {
    return undefined; // no /proc
  }
}

/**
 * Start a new primary from this process's own command line where the runtime keeps it whole
 * in `process` (Node and Bun: the binary, its flags, the script and its arguments).
 */
export function startPrimaryAgain(env: Record<string, string>, fds: number[]): PrimaryHandle | string {
  return startPrimaryProcess(
    binaryPath(proc().execPath),
    [...proc().execArgv, ...proc().argv.slice(1)],
    env,
    fds,
  );
}

/** Start `command args` as a new primary (see `Adapter.startPrimary`). */
export function startPrimaryProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  fds: number[],
): PrimaryHandle | string {
  // Each listening socket at its own number, the IPC channel after them (3 when none: a
  // socket systemd passed is from 3 on).
  const stdio: (number | "ignore" | "inherit" | "ipc")[] = ["ignore", "inherit", "inherit"];
  for (const fd of fds) {
    while (stdio.length < fd) stdio.push("ignore");
    stdio[fd] = fd;
  }
  stdio.push("ipc");
  // Detached: a session and process group of its own, so that the stop of this primary's
  // group (a Ctrl-C in its terminal) does not reach it, and it outlives this one. stdin is
  // not passed: nothing reads it, and a terminal's would outlive its session.
  const child = childProcess().spawn(command, args, {
    cwd: proc().cwd(),
    env: { ...proc().env, ...env },
    detached: true,
    stdio,
  });
  if (child.pid === undefined) return `${command} could not be started`;
  const exitListeners: ((code: number | null, signal: string | null) => void)[] = [];
  let exited = false;
  const exit = (code: number | null, signal: string | null) => {
    if (exited) return;
    exited = true;
    for (const listener of exitListeners) listener(code, signal);
  };
  child.on("error", () => exit(null, null));
  child.on("exit", (code, signal) => exit(code, signal));
  // Its life is its own: this process may exit while it runs.
  child.unref();
  return {
    pid: child.pid,
    send: (message) => {
      if (child.connected) child.send(message, () => {});
    },
    onMessage: (listener) =>
      child.on("message", (message) => {
        if (isUpgradeMessage(message)) listener(message);
      }),
    onExit: (listener) => exitListeners.push(listener),
    kill: (signal) => {
      if (!exited) child.kill(signal);
    },
    disconnect: () => {
      if (child.connected) child.disconnect();
    },
  };
}

/** The new primary's channel to the old one: the IPC channel it was started with. */
export function processUpgradeLink(): UpgradeLink | undefined {
  if (!proc().send || !proc().connected) return undefined;
  return {
    send: (message) => {
      if (proc().connected) proc().send!(message, undefined, {}, () => {});
    },
    onMessage: (listener) =>
      proc().on("message", (message) => {
        if (isUpgradeMessage(message)) listener(message);
      }),
    onClose: (listener) => proc().on("disconnect", listener),
    close: () => {
      if (proc().connected) proc().disconnect?.();
    },
  };
}
