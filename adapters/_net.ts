/**
 * Socket facts over `node:net` and `node:fs`: port reservation (Node and Bun adapters) and
 * whether closing one SO_REUSEPORT socket can drop connections here (all three).
 *
 * @module
 */
import { fs, net } from "./_builtins.ts";
import { BootError } from "../src/errors.ts";
import { listenError } from "./_shared.ts";
import type { PortReservation } from "../src/adapter.ts";

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
 *
 * With `hold` (the workers will bind with SO_REUSEPORT), port 0 is instead bound with
 * SO_REUSEPORT and kept until `release()`. Closed at once, the port was free again until the
 * workers bound it: another server starting then could be handed the same port, and its
 * workers would bind it beside ours (seen in this suite: two servers on one port, told
 * apart only by the control socket). The kernel hands out no port a listener holds, shared
 * or not; and nobody connects to the holder, as nobody knows the port before it is announced.
 */
export function reservePort(hostname: string, port: number, hold = false): Promise<PortReservation> {
  return new Promise((resolve, reject) => {
    const server = net().createServer();
    const holding = hold && port === 0;
    server.once("error", (error) => reject(listenError(error, hostname, port)));
    const options = holding
      ? { host: hostname, port, reusePort: true }
      : { host: hostname, port, exclusive: true };
    server.listen(options, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : port;
      if (holding) {
        server.unref();
        return resolve({ port: bound, release: () => server.close() });
      }
      server.close(() => resolve({ port: bound, release: () => {} }));
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
