/**
 * Socket facts over `node:net` and `node:fs`: port reservation (Node and Bun adapters) and
 * whether closing one SO_REUSEPORT socket can drop connections here (all three).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { listenError } from "./_shared.ts";

/**
 * Bind `hostname:port` exclusively (no SO_REUSEPORT), note the port, release it. Fails if
 * any server holds the port, even one that would share it; port 0 yields a free port.
 */
export function reservePort(hostname: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
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
    if (readFileSync(MIGRATE_REQ, "utf8").trim() !== "0") return undefined;
  } catch {
    return undefined; // no such setting (Linux < 5.14) or no permission to read it
  }
  return 'hint: workers each bind with SO_REUSEPORT, so when one closes (reload, recycling, scaling down) Linux resets connections still queued on its socket; run "sysctl -w net.ipv4.tcp_migrate_req=1" so they move to a sibling instead';
}
