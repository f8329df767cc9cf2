/**
 * What an upgrade (SIGUSR2, `upgrade()`) hands the new primary: the environment variable
 * that tells it it is one, the old primary's pid and where its workers listen (so that port
 * 0 stays the port chosen, and the sockets passed on are known), and how long the old
 * primary waits for it.
 *
 * @module
 */
import type { Address } from "./addresses.ts";
import { forgetEnv, readEnv } from "./host.ts";

/** Set in a new primary's environment by the primary it replaces. */
export const UPGRADE_ENV = "MULTISERVE_UPGRADE";

/** What the old primary tells the new one. */
export interface UpgradeMarker {
  /** The old primary's pid: its pid file is taken over, its exit awaited by nobody. */
  pid: number;
  /**
   * Where the old primary's workers listen, in order, as the new one's must: TCP ports
   * (port 0 resolved), and sockets passed on at their descriptor (`fd`: inherited ones, and
   * a node:cluster primary's, `passed`). The new primary's options may not say so:
   * systemd's `LISTEN_FDS` were the old one's.
   */
  addresses: Address[];
}

/**
 * This primary's marker, when an upgrade started it; undefined otherwise. Read once and
 * removed, so that its workers (and what they start) do not inherit it.
 */
export function upgradeMarker(): UpgradeMarker | undefined {
  const text = readEnv(UPGRADE_ENV);
  if (text === undefined) return undefined;
  forgetEnv(UPGRADE_ENV);
  try {
    const marker = JSON.parse(text) as Partial<UpgradeMarker>;
    if (Number.isInteger(marker.pid) && Array.isArray(marker.addresses)) return marker as UpgradeMarker;
  } catch { /* not ours */ }
  return undefined;
}

/**
 * How long the old primary waits for the new one's workers to listen: the boot timeout
 * every worker has, and 30 s more for the new primary's own start (its runtime, its
 * imports). With `bootTimeout` 0 (no bound), 5 minutes.
 */
export function upgradeLimitMs(bootTimeout: number): number {
  return bootTimeout === 0 ? 300_000 : (bootTimeout + 30) * 1_000;
}
