/**
 * Graceful restarts under load lose no request: SIGHUP reloads every worker, and
 * --max-requests recycles them, while clients keep asking, with keep-alive connections and
 * with a new connection per request, in threads and in processes, on every runtime. (Its own
 * file, apart from the rest of supervision, so that the runners start it early: it is slow.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MODES, runtime } from "../_harness.ts";
import { type LoadResult, underLoad } from "../_under_load.ts";

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
