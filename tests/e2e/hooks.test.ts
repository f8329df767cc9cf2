/**
 * Worker hooks: onStart runs in every worker once it serves, and onStop, after its
 * requests, in every worker that stops, on SIGTERM, on reload and on recycling, with the
 * signal aborted at the start of draining; an onStart that fails is a boot failure.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  Child,
  cliTs,
  distinctTokens,
  eventually,
  fetchFresh,
  fixture,
  MODES,
  runtime,
  startServer,
  tempDir,
} from "../_harness.ts";

/** The tokens of the isolates that left `kind` traces in `dir`. */
const traces = (dir: string, kind: string) =>
  readdirSync(dir).filter((name) => name.startsWith(`${kind}-`)).map((name) => name.slice(kind.length + 1));

function start(args: string[]) {
  const dir = tempDir("multiserve-hooks-");
  return startServer(cliTs, ["-p", "0", ...args, fixture("hooks_app.ts")], { MS_HOOK_DIR: dir }).then((
    s,
  ) => ({ ...s, dir }));
}

/** Every isolate in `tokens` ran onStop, after its drain had aborted the signal. */
function stoppedAll(dir: string, tokens: Iterable<string>): void {
  for (const token of tokens) {
    assert.ok(traces(dir, "stop").includes(token), `onStop ran in ${token}`);
    assert.equal(readFileSync(join(dir, `stop-${token}`), "utf8"), "aborted");
    assert.ok(traces(dir, "abort").includes(token), `the signal aborted in ${token}`);
  }
}

describe(`${runtime}: worker hooks`, () => {
  // One isolate, and the most workers (processes × threads); reload and recycling cover the rest.
  for (const mode of [MODES[0], MODES[3]]) {
    it(`SIGTERM: onStop runs in every worker that onStart ran in (${mode.name})`, async () => {
      const { child, url, dir } = await start([...mode.args]);
      const served = await distinctTokens(url, mode.workers);
      assert.equal(served.size, mode.workers);
      assert.deepEqual(
        new Set(traces(dir, "start")),
        served,
        "onStart ran in every worker, before it served",
      );
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0, child.stderr);
      stoppedAll(dir, served);
    });
  }

  it("SIGHUP: the old generation's onStop runs as it drains", async () => {
    const { child, url, dir } = await start([...MODES[1].args]);
    try {
      const old = await distinctTokens(url, 2);
      child.signal("SIGHUP");
      await eventually(() => child.count(/; reloaded\)/g) === 2, "the old workers to exit");
      stoppedAll(dir, old);
      assert.equal(traces(dir, "start").length, 4, "onStart ran in the new workers too");
    } finally {
      child.signal("SIGTERM");
      await child.exit();
    }
  });

  it("recycling: onStop runs in each worker retired after maxRequests", async () => {
    const { child, url, dir } = await start([...MODES[2].args, "--max-requests", "5"]);
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 25; i++) seen.add(JSON.parse((await fetchFresh(url)).text).token);
      await eventually(() => child.count(/recycled after/g) >= 2, "two workers to be recycled");
      const recycled = traces(dir, "stop");
      assert.ok(recycled.length >= 2);
      stoppedAll(dir, recycled);
    } finally {
      child.signal("SIGTERM");
      await child.exit();
    }
  });

  for (const mode of [MODES[0], MODES[2]]) {
    it(`an onStart that fails is a boot failure: named, exit 3 (${mode.name})`, async () => {
      const dir = tempDir("multiserve-hooks-");
      const child = new Child(cliTs, ["-p", "0", ...mode.args, fixture("hooks_app.ts")], {
        MS_HOOK_DIR: dir,
        MS_FAIL_START: "1",
      });
      assert.equal((await child.exit()).code, 3, child.stderr);
      assert.match(child.stderr, /the app's onStart failed: the database is down/);
    });
  }
});
