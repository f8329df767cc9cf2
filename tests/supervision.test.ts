/**
 * The supervisor keeps its workers: a worker process that dies is replaced, and workers
 * whose primary dies (even by SIGKILL) exit instead of lingering as orphans.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, it } from "node:test";
import {
  alive,
  children,
  descendants,
  eventually,
  fetchFresh,
  MODES,
  runtime,
  startApp,
} from "./_harness.ts";

for (const mode of [MODES[1], MODES[2]]) {
  describe(`${runtime}, ${mode.name}: crash`, () => {
    it("replaces an isolate killed by an uncaught error, and keeps serving", async () => {
      const { child, url } = await startApp(mode);
      try {
        const before = new Set<string>();
        for (let i = 0; i < 200 && before.size < 2; i++) {
          before.add(JSON.parse((await fetchFresh(`${url}token`)).text).token);
        }
        assert.equal((await fetchFresh(`${url}crash`)).status, 202);
        await child.waitFor(
          /(thread|process) \d exited unexpectedly \((uncaught error|exit code)[^)]*\); starting a new one/,
        );
        // The replacement has a fresh module-level token; every request meanwhile succeeds.
        let fresh = false;
        for (let i = 0; i < 300 && !fresh; i++) {
          const reply = await fetchFresh(`${url}token`);
          assert.equal(reply.status, 200);
          fresh = !before.has(JSON.parse(reply.text).token);
        }
        assert.ok(fresh, "no answer from a new isolate");
      } finally {
        child.killTree();
      }
    });
  });
}

for (const mode of MODES.filter((m) => m.name.startsWith("processes"))) {
  describe(`${runtime}, ${mode.name}: supervision`, () => {
    it("replaces a worker process that dies, and keeps serving", async () => {
      const { child, url } = await startApp(mode);
      try {
        const before = children(child.pid);
        assert.equal(before.length, 2);
        process.kill(before[0], "SIGKILL");
        await eventually(
          () => children(child.pid).length === 2 && !children(child.pid).includes(before[0]),
          "a new worker process",
        );
        await child.waitFor(/process \d exited unexpectedly \(killed by a signal\); starting a new one/);
        // Every request is answered while and after the worker is replaced.
        for (let i = 0; i < 20; i++) assert.equal((await fetchFresh(`${url}token`)).status, 200);
      } finally {
        child.killTree();
      }
    });

    it("worker processes exit when the primary is killed with SIGKILL", async () => {
      const { child } = await startApp(mode);
      const workers = descendants(child.pid);
      try {
        process.kill(child.pid, "SIGKILL");
        await child.exit();
        await eventually(() => workers.every((pid) => !alive(pid)), "the orphaned workers to exit");
      } finally {
        for (const pid of workers.filter(alive)) process.kill(pid, "SIGKILL");
      }
    });
  });
}
