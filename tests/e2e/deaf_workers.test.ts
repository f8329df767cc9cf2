/**
 * Liveness means serving: a worker whose listener stopped accepting while its process (and
 * its heartbeat) lives on is replaced as a crashed one, counted as restart reason
 * `unserving`; serving alone, such a server exits with code 6 for its process manager.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adminUrlOf, metrics, sum } from "../_admin.ts";
import { cliTs, eventually, fetchFresh, fixture, MODES, runtime, startServer } from "../_harness.ts";

/** The isolate that answered a fresh request to `/token`. */
async function token(url: string): Promise<string> {
  const reply = await fetchFresh(`${url}token`);
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text).token;
}

describe(`${runtime}: a worker that stops serving`, { concurrency: 3 }, () => {
  for (const mode of [MODES[1], MODES[2]]) {
    it(`is replaced, its place serves again, and the restart counts as unserving (${mode.name})`, async () => {
      const { child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...mode.args,
        "--admin-port",
        "0",
        fixture("deaf_app.ts"),
      ]);
      const admin = adminUrlOf(child);
      try {
        const deafened = /^deafened (\S+)$/.exec((await fetchFresh(`${url}deafen`)).text)?.[1];
        assert.ok(deafened, "a worker deafened itself");
        await eventually(
          async () => {
            const text = await metrics(admin);
            return sum(text, "multiserve_worker_restarts_total", 'reason="unserving"') === 1 &&
              sum(text, "multiserve_workers_alive") === 2;
          },
          "the deaf worker replaced, counted as unserving",
          15_000,
        );
        assert.match(child.stderr, /stopped serving \([^)]+\); starting its replacement/);
        // Every request is answered, by two isolates, never the deaf one.
        const seen = new Set<string>();
        for (let i = 0; i < 60 && seen.size < 2; i++) seen.add(await token(url));
        assert.equal(seen.size, 2);
        assert.ok(!seen.has(deafened), "the deaf worker answers no more");
        assert.equal(sum(await metrics(admin), "multiserve_worker_restarts_total", 'reason="crash"'), 0);
      } finally {
        child.signal("SIGTERM");
        assert.equal((await child.exit()).code, 0, child.stderr);
      }
    });
  }

  it("serving alone, exits with code 6, saying why", async () => {
    const { child, url } = await startServer(cliTs, ["-p", "0", fixture("deaf_app.ts")]);
    try {
      assert.match((await fetchFresh(`${url}deafen`)).text, /^deafened /);
      assert.equal((await child.exit(15_000)).code, 6, child.stderr);
      assert.match(child.stderr, /stopped serving: .+; exiting \(code 6\)/);
    } finally {
      child.killTree();
    }
  });
});
