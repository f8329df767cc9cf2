/**
 * Graceful restarts under load lose no request: SIGHUP reloads every worker, and
 * --max-requests recycles them, while clients keep asking, with keep-alive connections and
 * with a new connection per request, in threads and in processes, on every runtime. (Its own
 * file, apart from the rest of supervision, so that the runners start it early: it is slow.)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it, type TestContext } from "node:test";
import { Child, command, fixture, LOSSLESS, MODES, runtime } from "../_harness.ts";

interface LoadResult {
  ok: number;
  failures: string[];
  workersSeen: number;
  recycled: number;
  before: string[];
  after: string[];
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
 * need no such setting, so they run on the machine's own network as is.
 */
async function underLoad(
  t: TestContext,
  scenario: string,
  connections: string,
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

/**
 * Every request succeeded, on every runtime. (Deno once lost a few fresh connections here:
 * Deno.serve's shutdown closes those it has accepted but not yet read, denoland/deno#31959.
 * multiserve now accepts Deno's connections itself and gives such a one a moment to show
 * its request before closing it.)
 */
function assertNoLoss(result: LoadResult): void {
  assert.deepEqual(result.failures, []);
}

for (const mode of [MODES[1], MODES[2]]) {
  describe(`${runtime}, ${mode.name}: graceful restarts under load`, () => {
    for (const connections of ["keep-alive", "fresh"] as const) {
      const clients = connections === "fresh" ? "a new connection per request" : "keep-alive clients";
      it(`recycles workers after --max-requests with no failed request (${clients})`, async (t) => {
        const flags = [...mode.args, "--max-requests", "20", "--max-requests-jitter", "5"];
        const result = await underLoad(t, "recycle", connections, flags);
        if (!result) return;
        assertNoLoss(result);
        // Several generations: far more isolates answered than the two running at a time.
        assert.ok(result.workersSeen >= 6, `only ${result.workersSeen} workers answered`);
        assert.ok(result.recycled >= 4, `only ${result.recycled} recycled`);
      });

      it(`SIGHUP reloads every worker under load with no failed request (${clients})`, async (t) => {
        const result = await underLoad(t, "reload", connections, [...mode.args]);
        if (!result) return;
        assertNoLoss(result);
        assert.equal(result.after.length, 2);
        assert.ok(result.after.every((token) => !result.before.includes(token)), "every worker is new");
      });
    }
  });
}
