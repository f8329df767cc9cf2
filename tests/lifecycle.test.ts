/**
 * Stopping: `close()`, SIGTERM and SIGINT each end every worker, let in-flight requests
 * finish, and leave no process behind.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  alive,
  descendants,
  eventually,
  fetchFresh,
  fixture,
  MODES,
  runtime,
  startApp,
  startServer,
} from "./_harness.ts";

for (const mode of MODES) {
  describe(`${runtime}, ${mode.name}: stopping`, () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      it(`${signal} to the primary drains in-flight requests, exits 0, leaves no process`, async () => {
        const { child, url } = await startApp(mode);
        try {
          const workers = descendants(child.pid);
          if (mode.args.some((a) => a === "-w" || a === "--processes")) {
            assert.ok(workers.length >= 2, `expected worker processes, found ${workers.length}`);
          }
          const inFlight = fetchFresh(`${url}slow?ms=700`);
          await child.waitFor(/slow request started/);
          child.signal(signal);
          const reply = await inFlight;
          assert.equal(reply.text, "slept 700");
          const { code } = await child.exit();
          assert.equal(code, 0, child.stderr);
          await eventually(() => workers.every((pid) => !alive(pid)), "every worker process to exit");
        } finally {
          child.killTree();
        }
      });
    }

    it("a request that outlasts gracefulTimeout is cut, and stopping ends on time", async () => {
      const { child, url } = await startServer(fixture("function_form.ts"), [], {
        MS_OPTIONS: JSON.stringify({ port: 0, gracefulTimeout: 300, ...mode.options }),
      });
      try {
        const workers = descendants(child.pid);
        const inFlight = fetchFresh(`${url}slow?ms=20000`).then(() => "answered", () => "cut");
        await child.waitFor(/slow request started/);
        const stopped = Date.now();
        child.signal("SIGTERM");
        assert.equal(await inFlight, "cut");
        assert.equal((await child.exit()).code, 0, child.stderr);
        assert.ok(Date.now() - stopped < 5_000, `stopping took ${Date.now() - stopped} ms`);
        await eventually(() => workers.every((pid) => !alive(pid)), "every worker process to exit");
      } finally {
        child.killTree();
      }
    });

    it("close() stops every worker and lets the program end", async () => {
      const { child, url } = await startServer(fixture("function_form.ts"), [], {
        MS_OPTIONS: JSON.stringify({ port: 0, ...mode.options }),
      });
      try {
        const workers = descendants(child.pid);
        assert.equal((await fetchFresh(`${url}token`)).status, 200);
        // Ending stdin too: the fixture reads it, and a pending read would keep any program alive.
        child.process.stdin!.end("close\n");
        await child.waitFor(/closed/);
        const { code } = await child.exit();
        assert.equal(code, 0, child.stderr);
        await eventually(() => workers.every((pid) => !alive(pid)), "every worker process to exit");
        await assert.rejects(fetchFresh(`${url}token`));
      } finally {
        child.killTree();
      }
    });
  });
}
