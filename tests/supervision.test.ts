/**
 * The supervisor keeps its workers: crashed ones are replaced (backing off when crashes
 * repeat), hung ones are killed and replaced, worn ones are recycled, SIGHUP reloads them
 * without a failed request, SIGTTIN/SIGTTOU scale them, and none outlives the primary.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import {
  alive,
  children,
  descendants,
  distinctTokens,
  eventually,
  fetchFresh,
  fixture,
  loadLoop,
  MODES,
  modTs,
  runtime,
  startApp,
  startServer,
  token,
} from "./_harness.ts";

/** The two shapes every supervisor behaviour is tested in. */
const SUPERVISED = [MODES[1], MODES[2]];
const kindOf = (mode: (typeof MODES)[number]) => mode.name.startsWith("threaded") ? "thread" : "process";

for (const mode of SUPERVISED) {
  const kind = kindOf(mode);
  describe(`${runtime}, ${mode.name}: supervision`, () => {
    it("replaces isolates ended by an async throw and a rejection, backing off the second time", async () => {
      const { child, url } = await startApp(mode);
      try {
        const before = await distinctTokens(url, 2);
        assert.equal(before.size, 2);
        for (const [route, crashes] of [["crash", 1], ["reject", 2]] as const) {
          const from = child.mark();
          const crashed = Date.now();
          assert.equal((await fetchFresh(`${url}${route}`)).status, 202);
          const backoff = crashes === 1 ? "" : " in 100 ms \\(crash 2 within a minute\\)";
          await child.waitFor(
            new RegExp(`${kind} (\\d) \\([^)]+\\) exited unexpectedly \\([^\\n]+\\); starting a new one${backoff}\\n`),
            10_000,
            from,
          );
          await child.waitFor(new RegExp(`${kind} \\d \\([^)]+\\) ready`), 10_000, from);
          assert.ok(Date.now() - crashed < 3_000, `replacement took ${Date.now() - crashed} ms`);
        }
        // Full count again: two isolates answer, and at least one of them is new.
        const after = await distinctTokens(url, 2);
        assert.equal(after.size, 2, "the server is back to 2 workers");
        assert.ok([...after].some((t) => !before.has(t)), "a new isolate answers");
      } finally {
        child.killTree();
      }
    });

    it("kills a worker whose event loop is blocked past --timeout, then serves every request", async () => {
      const { child, url } = await startServer(modTs, ["-p", "0", ...mode.args, "--timeout", "2", fixture("app.ts")]);
      try {
        const spin = fetchFresh(`${url}spin`).catch(() => "cut");
        await child.waitFor(/spinning/);
        const timedOut = child.waitFor(
          new RegExp(`${kind} \\d \\([^)]+\\) timed out: its event loop sent no heartbeat for \\d+\\.\\d s \\(timeout 2 s\\)`),
        );
        if (runtime === "deno" && kind === "thread") {
          // Deno cannot end a busy Worker: the process exits so that its manager restarts it.
          await timedOut;
          assert.equal((await child.exit()).code, 5);
          assert.match(child.stderr, /is hung and cannot be replaced: Deno cannot end a Worker/);
          return;
        }
        await timedOut;
        assert.equal(await spin, "cut");
        await child.waitFor(new RegExp(`was killed after timing out[^\\n]*; starting a new one`));
        await eventually(() => child.count(new RegExp(`${kind} \\d \\([^)]+\\) ready`, "g")) === 3, "a replacement");
        for (let i = 0; i < 20; i++) await token(url);
      } finally {
        child.killTree();
      }
    });

    it("recycles workers after --max-requests with no failed request", async () => {
      const { child, url } = await startServer(modTs, [
        "-p",
        "0",
        ...mode.args,
        "--max-requests",
        "20",
        "--max-requests-jitter",
        "5",
        fixture("app.ts"),
      ]);
      try {
        const load = loadLoop(url, 2);
        await eventually(() => load.done() >= 200, "200 requests", 60_000);
        const { failures, tokens } = await load.stop();
        assert.deepEqual(failures, []);
        // Each worker answers at most 25 requests: 200 need at least 8 of them.
        assert.ok(new Set(tokens).size >= 8, `only ${new Set(tokens).size} workers answered`);
        assert.ok(child.count(/served \d+ requests \(maxRequests\): starting its replacement/g) >= 6);
        assert.match(child.stderr, /exited \(exit code 0; recycled after \d+ requests\)/);
      } finally {
        child.killTree();
      }
    });

    it("SIGHUP reloads every worker under load with no failed request", async () => {
      const { child, url } = await startApp(mode);
      try {
        const before = await distinctTokens(url, 2);
        const load = loadLoop(url);
        await eventually(() => load.done() >= 20, "load to start");
        const from = child.mark();
        child.signal("SIGHUP");
        await child.waitFor(/reload done: 2 new \w+ serving/, 20_000, from);
        await eventually(() => child.count(/exited \(exit code 0; reloaded\)/g) === 2, "the old workers to drain");
        const served = load.done();
        await eventually(() => load.done() >= served + 20, "load to go on");
        const { failures } = await load.stop();
        assert.deepEqual(failures, []);
        const after = await distinctTokens(url, 2);
        assert.equal(after.size, 2);
        assert.ok([...after].every((t) => !before.has(t)), "every worker is new");
      } finally {
        child.killTree();
      }
    });

    it("SIGHUP picks up code changes; a reload that cannot boot leaves the old workers serving", async () => {
      const dir = mkdtempSync(join(tmpdir(), "multiserve-reload-"));
      const app = join(dir, "app.mjs");
      const version = (v: string) =>
        `export default { fetch: () => new Response(${JSON.stringify(v)}) };\n`;
      writeFileSync(app, version("v1"));
      const { child, url } = await startServer(modTs, ["-p", "0", ...mode.args, app]);
      try {
        assert.equal((await fetchFresh(url)).text, "v1");
        writeFileSync(app, version("v2"));
        let from = child.mark();
        child.signal("SIGHUP");
        await child.waitFor(/reload done/, 20_000, from);
        await eventually(() => child.count(/exited \(exit code 0; reloaded\)/g) === 2, "the old workers to drain");
        for (let i = 0; i < 10; i++) assert.equal((await fetchFresh(url)).text, "v2");

        writeFileSync(app, 'throw new Error("broken deploy");\n');
        from = child.mark();
        child.signal("SIGHUP");
        await child.waitFor(/reload failed, the current \w+ keep serving: [^\n]*broken deploy/, 20_000, from);
        for (let i = 0; i < 10; i++) assert.equal((await fetchFresh(url)).text, "v2");
        assert.ok(alive(child.pid));
      } finally {
        child.killTree();
      }
    });

    it("SIGTTIN adds a worker, SIGTTOU removes the oldest, never below 1", async () => {
      const { child, url } = await startApp(mode);
      try {
        child.signal("SIGTTIN");
        await child.waitFor(new RegExp(`${kind} 3 \\([^)]+\\) ready`));
        assert.equal((await distinctTokens(url, 3)).size, 3);
        if (kind === "process") assert.equal(children(child.pid).length, 3);
        for (const [gone, left] of [[1, 2], [2, 1]]) {
          child.signal("SIGTTOU");
          await child.waitFor(new RegExp(`${kind} ${gone} \\([^)]+\\) exited \\(exit code 0; scaled down\\)`));
          if (kind === "process") await eventually(() => children(child.pid).length === left, `${left} workers`);
        }
        child.signal("SIGTTOU");
        await child.waitFor(/SIGTTOU: already down to 1 worker; keeping it/);
        const last = await distinctTokens(url, 2, 30);
        assert.equal(last.size, 1);
      } finally {
        child.killTree();
      }
    });

    it("no worker outlives a primary killed with SIGKILL", async () => {
      const { child } = await startApp(mode);
      const workers = descendants(child.pid);
      try {
        process.kill(child.pid, "SIGKILL");
        await child.exit();
        await eventually(() => workers.every((pid) => !alive(pid)), "the orphaned workers to exit", 5_000);
      } finally {
        for (const pid of workers.filter(alive)) process.kill(pid, "SIGKILL");
      }
    });
  });
}

describe(`${runtime}, ${MODES[3].name}: supervision`, () => {
  it("replaces a worker process that dies, and keeps serving", async () => {
    const { child, url } = await startApp(MODES[3]);
    try {
      const before = children(child.pid);
      assert.equal(before.length, 2);
      process.kill(before[0], "SIGKILL");
      await eventually(
        () => children(child.pid).length === 2 && !children(child.pid).includes(before[0]),
        "a new worker process",
      );
      await child.waitFor(/process \d \(pid \d+\) exited unexpectedly \(killed by a signal\); starting a new one/);
      for (let i = 0; i < 20; i++) await token(url);
    } finally {
      child.killTree();
    }
  });

  it("no worker outlives a primary killed with SIGKILL", async () => {
    const { child } = await startApp(MODES[3]);
    const workers = descendants(child.pid);
    try {
      process.kill(child.pid, "SIGKILL");
      await child.exit();
      await eventually(() => workers.every((pid) => !alive(pid)), "the orphaned workers to exit", 5_000);
    } finally {
      for (const pid of workers.filter(alive)) process.kill(pid, "SIGKILL");
    }
  });
});

describe(`${runtime}, ${MODES[2].name}: worker process death`, () => {
  it("replaces a worker process killed with SIGKILL within 3 s", async () => {
    const { child, url } = await startApp(MODES[2]);
    try {
      const before = children(child.pid);
      const from = child.mark();
      const killed = Date.now();
      process.kill(before[0], "SIGKILL");
      await child.waitFor(/process \d \(pid \d+\) exited unexpectedly \(killed by a signal\); starting a new one/);
      await child.waitFor(/process \d \(pid \d+\) ready/, 10_000, from);
      assert.ok(Date.now() - killed < 3_000, `replacement took ${Date.now() - killed} ms`);
      assert.equal(children(child.pid).length, 2);
      for (let i = 0; i < 20; i++) await token(url);
    } finally {
      child.killTree();
    }
  });
});
