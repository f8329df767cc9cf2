/**
 * The supervisor keeps its workers: crashed ones are replaced (backing off when crashes
 * repeat), hung ones are killed and replaced, SIGHUP reloads them (picking up new code, or
 * leaving the old serving when the new cannot boot), SIGTTIN/SIGTTOU scale them, and none
 * outlives the primary. Reloads and recycling under load: graceful_restarts.test.ts.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { after, before, describe, it } from "node:test";
import {
  alive,
  Child,
  children,
  descendants,
  distinctTokens,
  eventually,
  expectedProcesses,
  fetchFresh,
  fixture,
  MODES,
  modTs,
  runtime,
  startApp,
  startServer,
  tempDir,
  token,
} from "../_harness.ts";

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
            new RegExp(
              `${kind} (\\d) \\([^)]+\\) exited unexpectedly \\([^\\n]+\\); starting a new one${backoff}\\n`,
            ),
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

    it("a worker that hangs while it starts is a boot failure: named, then exit 3", async () => {
      const dir = tempDir("multiserve-boot-hang-");
      const app = join(dir, "app.mjs");
      // At the lowest priority, as tests/fixtures/app.ts spins: the loop is as busy, but the
      // suite's other files keep their CPU while it waits out the timeout.
      writeFileSync(
        app,
        'import { setPriority } from "node:os";\ntry { setPriority(19); } catch { /* spins at the usual priority */ }\n' +
          "while (true) {}\nexport default { fetch: () => new Response('never') };\n",
      );
      const child = new Child(modTs, ["-p", "0", ...mode.args, "--timeout", "2", app]);
      try {
        const { code } = await child.exit(20_000);
        assert.equal(code, 3, child.stderr);
        assert.match(
          child.stderr,
          /hung while starting: its event loop sent no heartbeat for \d+\.\d s \(timeout 2 s\)/,
        );
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
          await child.waitFor(
            new RegExp(`${kind} ${gone} \\([^)]+\\) exited \\(exit code 0; scaled down\\)`),
          );
          if (kind === "process") {
            await eventually(() => children(child.pid).length === left, `${left} workers`);
          }
        }
        child.signal("SIGTTOU");
        await child.waitFor(/SIGTTOU: already down to 1 worker; keeping it/);
        const last = await distinctTokens(url, 2, 30);
        assert.equal(last.size, 1);
      } finally {
        child.killTree();
      }
    });

    it("server.reload() and server.scale() do from code what the signals do", async () => {
      const { child, url } = await startServer(fixture("function_form.ts"), [], {
        MS_OPTIONS: JSON.stringify({ port: 0, ...mode.options }),
      });
      try {
        const before = await distinctTokens(url, 2);
        child.process.stdin!.write("scale 3\n");
        await child.waitFor(/scaled: 3 workers/);
        assert.equal((await distinctTokens(url, 3)).size, 3);
        child.process.stdin!.write("reload\n");
        await child.waitFor(/reloaded: 3 workers/);
        const after = await distinctTokens(url, 3);
        assert.equal(after.size, 3);
        assert.ok([...after].every((t) => !before.has(t)), "every worker is new");
        child.process.stdin!.write("scale 0\n");
        await child.waitFor(/scale failed: scale\(\) needs a whole number of workers ≥ 1, got 0/);
        child.process.stdin!.write("scale 1\n");
        await child.waitFor(/scaled: 1 workers/);
      } finally {
        child.killTree();
      }
    });
  });

  // One server for both tests (a server start costs more than either test's own work): the
  // first leaves it serving with a replacement, in which the second blocks a worker again.
  describe(`${runtime}, ${mode.name}: supervision of hung workers`, () => {
    let child: Child;
    let url: string;
    before(async () => {
      const args = ["-p", "0", ...mode.args, "--timeout", "3", "--graceful-timeout", "60", fixture("app.ts")];
      ({ child, url } = await startServer(modTs, args));
    });
    after(() => child.killTree());

    it("kills a worker whose event loop is blocked past --timeout, then serves every request", async () => {
      const spin = fetchFresh(`${url}spin`).catch(() => "cut");
      await child.waitFor(/spinning/);
      await child.waitFor(
        new RegExp(
          `${kind} \\d \\([^)]+\\) timed out: its event loop sent no heartbeat for \\d+\\.\\d s \\(timeout 3 s\\)`,
        ),
      );
      assert.equal(await spin, "cut");
      // Deno cannot end a busy Worker: the one process holding the threads is replaced whole.
      const wholeProcess = runtime === "deno" && kind === "thread";
      await child.waitFor(
        wholeProcess
          ? /process 1 \(pid \d+\) exited unexpectedly \(exit code 5\); starting a new one/
          : /was killed after timing out[^\n]*; starting a new one/,
      );
      // A whole process and its threads starting again takes the longest on a loaded machine.
      await eventually(
        () => child.count(new RegExp(`${kind} \\d \\([^)]+\\) ready`, "g")) === (wholeProcess ? 4 : 3),
        "a replacement",
        30_000,
      );
      for (let i = 0; i < 20; i++) await token(url);
    });

    it("SIGTERM does not wait out --graceful-timeout for a worker that hangs while draining", async () => {
      const from = child.mark();
      void fetchFresh(`${url}spin`).catch(() => {});
      await child.waitFor(/spinning/, 20_000, from);
      const stopped = Date.now();
      child.signal("SIGTERM");
      const { code } = await child.exit(15_000);
      assert.equal(code, 0, child.stderr);
      assert.match(
        child.stderr.slice(from.stderr),
        /timed out while draining: its event loop sent no heartbeat/,
      );
      assert.ok(Date.now() - stopped < 10_000, `stopping took ${Date.now() - stopped} ms`);
    });
  });

  // One server and one app on disk for both tests: the reloads leave it serving v3, whose
  // /crash the second test uses once the file on disk no longer loads.
  describe(`${runtime}, ${mode.name}: supervision of the code on disk`, () => {
    const dir = tempDir("multiserve-reload-");
    const app = join(dir, "app.mjs");
    /** Answers its version; /crash then ends its isolate with an error no handler catches. */
    const version = (v: string) =>
      `export default { fetch(request) {\n` +
      `  if (new URL(request.url).pathname === "/crash") setTimeout(() => { throw new Error("crash"); }, 10);\n` +
      `  return new Response(${JSON.stringify(v)});\n} };\n`;
    let child: Child;
    let url: string;
    before(async () => {
      writeFileSync(app, version("v1"));
      ({ child, url } = await startServer(modTs, ["-p", "0", ...mode.args, app]));
    });
    after(() => child.killTree());

    it("SIGHUP picks up code changes; a reload that cannot boot leaves the old workers serving", async () => {
      assert.equal((await fetchFresh(url)).text, "v1");
      writeFileSync(app, version("v2"));
      let from = child.mark();
      child.signal("SIGHUP");
      await child.waitFor(/reload done/, 20_000, from);
      await eventually(
        () => child.count(/exited \(exit code 0; reloaded\)/g) === 2,
        "the old workers to drain",
      );
      for (let i = 0; i < 10; i++) assert.equal((await fetchFresh(url)).text, "v2");

      writeFileSync(app, 'throw new Error("broken deploy");\n');
      from = child.mark();
      child.signal("SIGHUP");
      await child.waitFor(/reload failed, the current \w+ keep serving: [^\n]*broken deploy/, 20_000, from);
      for (let i = 0; i < 10; i++) assert.equal((await fetchFresh(url)).text, "v2");
      assert.ok(alive(child.pid));

      // The old generation is still the one in charge: the next reload replaces it.
      writeFileSync(app, version("v3"));
      from = child.mark();
      child.signal("SIGHUP");
      await child.waitFor(/reload done: 2 new/, 20_000, from);
      await eventually(
        () => child.count(/exited \(exit code 0; reloaded\)/g) === 4,
        "the v2 workers to drain",
      );
      for (let i = 0; i < 10; i++) assert.equal((await fetchFresh(url)).text, "v3");
    });

    it("a crashed worker whose replacement cannot boot stops the server, no respawn loop", async () => {
      writeFileSync(app, 'throw new Error("broken on disk");\n');
      assert.equal((await fetchFresh(`${url}crash`)).text, "v3");
      const { code } = await child.exit();
      assert.equal(code, 4, child.stderr);
      assert.equal(child.count(/stopping: .*broken on disk/g), 1, child.stderr);
    });
  });
}

describe(`${runtime}, ${MODES[3].name}: supervision`, () => {
  it("a hung thread is dealt with by its process, and every request then succeeds", async () => {
    // 3 s, not 2: with the suite's other files beside it, a Node process starting two threads
    // once sent its first heartbeat 2.4 s late, and was killed as hung while starting.
    const args = ["-p", "0", ...MODES[3].args, "--timeout", "3", fixture("app.ts")];
    const { child, url } = await startServer(modTs, args);
    try {
      const spin = fetchFresh(`${url}spin`).catch(() => "cut");
      await child.waitFor(/spinning/);
      await child.waitFor(/thread \d\.\d \(#\d+\) timed out/);
      if (runtime === "deno") {
        // Deno cannot end the thread: its process exits (code 5) and the primary replaces it.
        await child.waitFor(/process \d \(pid \d+\) exited unexpectedly \(exit code 5\); starting a new one/);
      } else {
        await child.waitFor(/thread \d\.\d \(#\d+\) was killed after timing out[^\n]*; starting a new one/);
      }
      assert.equal(await spin, "cut");
      // Two processes and four threads at the start, then the replacements.
      await eventually(() => child.count(/\) ready/g) >= 7, "the replacement to listen");
      for (let i = 0; i < 20; i++) await token(url);
      assert.ok(alive(child.pid));
    } finally {
      child.killTree();
    }
  });

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
      await child.waitFor(
        /process \d \(pid \d+\) exited unexpectedly \(killed by a signal\); starting a new one/,
      );
      for (let i = 0; i < 20; i++) await token(url);
    } finally {
      child.killTree();
    }
  });
});

// Threads end with their process by construction; worker processes must see to it themselves
// (on Deno, threads too live in a worker process).
for (const mode of runtime === "deno" ? [MODES[1], MODES[2], MODES[3]] : [MODES[2], MODES[3]]) {
  describe(`${runtime}, ${mode.name}: no orphans`, () => {
    it("no worker outlives a primary killed with SIGKILL", async () => {
      const { child } = await startApp(mode);
      const workers = descendants(child.pid);
      assert.equal(workers.length, expectedProcesses(mode), `worker processes of ${mode.name}`);
      try {
        process.kill(child.pid, "SIGKILL");
        await child.exit();
        // 10 s: with the suite's other files beside it, a Deno worker process holding two
        // threads once took more than 5 s to notice its channel closed and exit.
        await eventually(() => workers.every((pid) => !alive(pid)), "the orphaned workers to exit", 10_000);
      } finally {
        for (const pid of workers.filter(alive)) process.kill(pid, "SIGKILL");
      }
    });
  });
}

describe(`${runtime}, ${MODES[2].name}: worker process death`, () => {
  it("replaces a worker process killed with SIGKILL within 3 s", async () => {
    const { child, url } = await startApp(MODES[2]);
    try {
      const before = children(child.pid);
      const from = child.mark();
      const killed = Date.now();
      process.kill(before[0], "SIGKILL");
      await child.waitFor(
        /process \d \(pid \d+\) exited unexpectedly \(killed by a signal\); starting a new one/,
      );
      await child.waitFor(/process \d \(pid \d+\) ready/, 10_000, from);
      assert.ok(Date.now() - killed < 3_000, `replacement took ${Date.now() - killed} ms`);
      assert.equal(children(child.pid).length, 2);
      for (let i = 0; i < 20; i++) await token(url);
    } finally {
      child.killTree();
    }
  });
});

describe(`${runtime}, ${MODES[0].name}: no supervisor`, () => {
  it("server.reload() says it needs workers instead of doing nothing", async () => {
    const { child } = await startServer(fixture("function_form.ts"), [], {
      MS_OPTIONS: JSON.stringify({ port: 0 }),
    });
    try {
      child.process.stdin!.write("reload\n");
      await child.waitFor(
        /reload failed: reload\(\) needs a running primary with workers \("threaded" or "processes"\); this is one isolate serving alone/,
      );
    } finally {
      child.killTree();
    }
  });
});
