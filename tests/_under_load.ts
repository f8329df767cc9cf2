/**
 * Runs tests/fixtures/under_load.ts, a scenario against a server under steady load: in a
 * private network namespace with `net.ipv4.tcp_migrate_req=1` where the workers' sockets
 * need it, for the tests that no request fails while workers are replaced.
 *
 * @module
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";
import { Child, command, fixture, LOSSLESS, runtime } from "./_harness.ts";

/** What tests/fixtures/under_load.ts reports. */
export interface LoadResult {
  ok: number;
  failures: string[];
  workersSeen: number;
  /** Workers recycled after `maxRequests`. */
  recycled: number;
  /** The lines of workers recycled for their memory, each with its figure. */
  outgrown: string[];
  /** The restarts by reason, from `/status`, when the flags turn the admin endpoint on. */
  restarts?: Record<string, number>;
  before: string[];
  after: string[];
  /** The upgrade scenario: the primaries, the pid file, and who is left. */
  upgraded?: {
    oldPid: number;
    pidFileBefore: string;
    newPid: number;
    newAlive: boolean;
    /** The old primary's worker processes (0 with threads in the primary). */
    oldWorkers: number;
    oldWorkersLeft: number[];
  };
}

/**
 * Can this user make a network namespace? There, `net.ipv4.tcp_migrate_req=1` (the
 * setting docs/supervision.md asks for with SO_REUSEPORT workers) can be set without touching
 * the machine.
 */
const privateNetwork = spawnSync("unshare", ["--net", "true"]).status === 0;

/**
 * Run tests/fixtures/under_load.ts: in a private network namespace with
 * tcp_migrate_req on where possible. Node processes share one socket (node:cluster) and
 * need no such setting, so they run on the machine's own network as is (an upgrade passes
 * that socket on to the new primary).
 */
export async function underLoad(
  t: TestContext,
  scenario: "reload" | "recycle" | "memory" | "upgrade",
  connections: "keep-alive" | "fresh",
  flags: string[],
): Promise<LoadResult | undefined> {
  const cluster = runtime === "node" && !flags.some((f) => f === "--threads" || f === "-t");
  if (!cluster && !privateNetwork) {
    t.skip("needs a network namespace (root) to set net.ipv4.tcp_migrate_req=1 for SO_REUSEPORT workers");
    return undefined;
  }
  const args = [scenario, connections, ...flags, ...LOSSLESS];
  const [exec, argv] = command(fixture("under_load.ts"), args);
  const child = cluster ? new Child(fixture("under_load.ts"), args) : new Child(
    "/bin/sh",
    [
      "-c",
      'ip link set lo up && echo 1 > /proc/sys/net/ipv4/tcp_migrate_req && exec "$@"',
      "sh",
      exec,
      ...argv,
    ],
    {},
    undefined,
    { wrap: ["unshare", "--net", "--"] },
  );
  try {
    const { code } = await child.exit(90_000);
    assert.equal(code, 0, `${child.stdout}\n${child.stderr}`);
    return JSON.parse(child.stdout.match(/^RESULT (.*)$/m)![1]);
  } finally {
    child.killTree();
  }
}
