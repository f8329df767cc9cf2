/**
 * "Hosts" for the tests that need more than one machine, or a kernel setting of their own:
 * Linux network namespaces joined to this one by veth pairs (root and iproute2 only).
 *
 * @module
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";

/** Can this user make network namespaces (root, with iproute2)? */
export const canMakeHosts = process.getuid?.() === 0 &&
  spawnSync("ip", ["netns", "list"], { stdio: "ignore" }).status === 0;

/**
 * A "host": network namespace `name`, reached from here at 10.`net`.`n`.2 over a veth pair,
 * with `net.ipv4.tcp_migrate_req` on in it (connections queued on a closing SO_REUSEPORT
 * socket move to a sibling: docs/supervision.md), without touching this machine's setting.
 */
export function makeHost(
  name: string,
  net: number,
  n: number,
): { name: string; address: string; remove(): void } {
  const sh = (script: string) => {
    const result = spawnSync("sh", ["-c", script], { encoding: "utf8" });
    assert.equal(result.status, 0, `${script}\n${result.stderr}`);
  };
  const remove = () => sh(`ip netns del ${name} 2>/dev/null; ip link del ${name}-out 2>/dev/null; true`);
  remove();
  sh(
    [
      `ip netns add ${name}`,
      `ip link add ${name}-out type veth peer name ${name}-in`,
      `ip link set ${name}-in netns ${name}`,
      `ip addr add 10.${net}.${n}.1/24 dev ${name}-out`,
      `ip link set ${name}-out up`,
      `ip netns exec ${name} ip addr add 10.${net}.${n}.2/24 dev ${name}-in`,
      `ip netns exec ${name} ip link set ${name}-in up`,
      `ip netns exec ${name} ip link set lo up`,
      `ip netns exec ${name} sh -c "echo 1 > /proc/sys/net/ipv4/tcp_migrate_req"`,
    ].join(" && "),
  );
  return { name, address: `10.${net}.${n}.2`, remove };
}
