/**
 * Socket facts over `node:net` and `node:fs`: port reservation (Node and Bun adapters) and
 * whether closing one SO_REUSEPORT socket can drop connections here (all three).
 *
 * @module
 */
import { fs, net } from "./_builtins.ts";
import { BootError } from "../src/errors.ts";
import { listenError } from "./_shared.ts";

/**
 * Make way for a unix socket at `path`: nothing there is fine; a socket nobody answers on
 * (left by a server that died) is removed; a socket a server answers on, or a file that is
 * no socket, is refused with a `BootError` naming it.
 */
export async function claimUnixSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = fs().lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new BootError(`cannot listen on unix:${path}: it exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net().connect({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on("error", () => resolve(false));
  });
  if (live) {
    throw new BootError(`unix:${path} is in use: a server answers on it; stop it or choose another path`);
  }
  fs().unlinkSync(path);
}

/** Give the unix socket at `path` its permissions. */
export function chmodUnixSocket(path: string, mode: number): void {
  fs().chmodSync(path, mode);
}

/** Remove the unix socket at `path`, if it is still there. */
export function releaseUnixSocket(path: string): void {
  try {
    fs().unlinkSync(path);
  } catch { /* gone already */ }
}

/**
 * Bind `hostname:port` exclusively (no SO_REUSEPORT), note the port, release it. Fails if
 * any server holds the port, even one that would share it; port 0 yields a free port.
 */
export function reservePort(hostname: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net().createServer();
    server.once("error", (error) => reject(listenError(error, hostname, port)));
    server.listen({ host: hostname, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}

/** The Linux setting that moves connections queued on a closing SO_REUSEPORT socket to a sibling. */
export const MIGRATE_REQ = "/proc/sys/net/ipv4/tcp_migrate_req";

/**
 * When workers each bind with SO_REUSEPORT, closing one socket (reload, recycling,
 * scaling down) makes Linux reset the connections already queued on it, unless
 * `net.ipv4.tcp_migrate_req` hands them to a sibling socket. Returns advice when that
 * setting is off, undefined when it is on or cannot be read.
 */
export function reusePortCloseHint(platform: string): string | undefined {
  if (platform !== "linux") return undefined;
  try {
    if (fs().readFileSync(MIGRATE_REQ, "utf8").trim() !== "0") return undefined;
  } catch {
    return undefined; // no such setting (Linux < 5.14) or no permission to read it
  }
  return 'hint: workers each bind with SO_REUSEPORT, so when one closes (reload, recycling, scaling down) Linux resets connections still queued on its socket; run "sysctl -w net.ipv4.tcp_migrate_req=1" so they move to a sibling instead';
}
