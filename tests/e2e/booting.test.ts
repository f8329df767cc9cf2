/**
 * Booting: a start-up that never finishes is a boot failure within `bootTimeout`; a stop
 * signal while workers boot ends the server in time and leaves no process; an app that
 * imports the module the CLI runs as is served; `serve()` reports a failed start itself
 * when the caller does not read `ready`.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  alive,
  Child,
  cliTs,
  descendants,
  eventually,
  expectedProcesses,
  fetchFresh,
  fixture,
  MODES,
  modTs,
  runtime,
  startServer,
} from "../_harness.ts";

/** Start the CLI serving the fixture that hangs at start, and wait until every worker is loading it. */
async function bootingServer(mode: (typeof MODES)[number], flags: string[]): Promise<Child> {
  const child = new Child(modTs, ["-p", "0", ...flags, ...mode.args, fixture("hangs_at_start.ts")]);
  await child.waitFor(new RegExp(`(loading: waiting for a database[^]*){${mode.workers}}`));
  return child;
}

for (const mode of MODES) {
  describe(`${runtime}, ${mode.name}: booting`, { concurrency: 2 }, () => {
    it("a start-up awaiting what never comes fails after --boot-timeout: named, exit 3", async () => {
      const args = ["-p", "0", "--boot-timeout", "1", ...mode.args, fixture("hangs_at_start.ts")];
      const child = new Child(modTs, args);
      try {
        const { code } = await child.exit(15_000);
        assert.equal(code, 3, child.stderr);
        assert.match(
          child.stderr,
          /did not (listen|load) within 1(\.\d)? s( of starting)? \(bootTimeout( 1 s)?\)/,
        );
      } finally {
        child.killTree();
      }
    });

    // Two signals back to back: the second may find the server still stopping (130) or gone (0).
    for (const [signals, codes] of [[["SIGTERM"], [0]], [["SIGINT", "SIGINT"], [0, 130]]] as const) {
      it(`${signals.join(" and ")} while the workers boot: exit ${codes.join(" or ")} within gracefulTimeout + 3 s, no process left`, async () => {
        const child = await bootingServer(mode, ["--graceful-timeout", "2"]);
        try {
          const workers = descendants(child.pid);
          assert.equal(workers.length, expectedProcesses(mode), `worker processes of ${mode.name}`);
          const sent = Date.now();
          for (const signal of signals) child.signal(signal);
          const { code } = await child.exit(10_000);
          assert.ok((codes as readonly number[]).includes(code!), `exit ${code}\n${child.stderr}`);
          assert.ok(Date.now() - sent < 5_000, `stopping took ${Date.now() - sent} ms`);
          await eventually(() => workers.every((pid) => !alive(pid)), "every worker process to end", 3_000);
        } finally {
          child.killTree();
        }
      });
    }

    if ("threaded" in mode.options) {
      // A thread hears a stop only once its modules have loaded; a Web Worker (Bun's) dropped
      // one sent before, and the thread booted on until killed after the graceful timeout.
      it("SIGTERM the moment its threads have started, before they load: exit 0 within 10 s", async () => {
        const child = new Child(modTs, ["-p", "0", ...mode.args, fixture("hangs_at_start.ts")]);
        try {
          const threads = mode.workers;
          await child.waitFor(new RegExp(`(thread [\\d.]+ \\(#\\d+\\) started[^]*){${threads}}`));
          const sent = Date.now();
          child.signal("SIGTERM");
          const { code } = await child.exit(40_000);
          assert.equal(code, 0, child.stderr);
          assert.ok(Date.now() - sent < 10_000, `stopping took ${Date.now() - sent} ms\n${child.stderr}`);
        } finally {
          child.killTree();
        }
      });
    }

    // mod.ts is where an app's import and the CLI meet; cli.ts once suffices.
    const entries = mode === MODES[0]
      ? [["mod.ts", modTs], ["cli.ts", cliTs]] as const
      : [["mod.ts", modTs]] as const;
    for (const [entry, path] of entries) {
      it(`an app importing workerId from mod.ts is served by ${entry}`, async () => {
        const { child, url } = await startServer(path, ["-p", "0", ...mode.args, fixture("imports_mod.ts")]);
        try {
          const reply = await fetchFresh(url);
          assert.equal(reply.status, 200);
          assert.match(reply.text, mode === MODES[0] ? /^worker none$/ : /^worker \d/);
        } finally {
          child.signal("SIGTERM");
          assert.equal((await child.exit()).code, 0, child.stderr);
        }
      });
    }
  });
}

describe(`${runtime}: serve() when nobody reads ready`, () => {
  let blocker: Server;
  let busyPort: number;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen({ host: "127.0.0.1", port: 0 }, r));
    busyPort = (blocker.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => blocker.close(() => r())));

  for (const mode of [MODES[0], MODES[2]]) {
    it(`a port in use: one line naming it, exit 3, no stack (${mode.name})`, async () => {
      const child = new Child(fixture("function_form.ts"), [], {
        MS_OPTIONS: JSON.stringify({ port: busyPort, ...mode.options }),
        MS_IGNORE_READY: "1",
      });
      assert.equal((await child.exit()).code, 3, child.stderr);
      assert.match(
        child.stderr,
        new RegExp(`^multiserve: port ${busyPort} on 127\\.0\\.0\\.1 is already in use`, "m"),
      );
      assert.doesNotMatch(child.stderr, /\n\s+at /, "no stack trace");
    });
  }
});

// Until the adapter has loaded, no trap is set, and the runtime's default for a SIGHUP was
// to end the process: a reload asked right after a start killed the server.
describe(`${runtime}: a signal before the traps are set`, { concurrency: 2 }, () => {
  for (
    const [signal, done] of [
      ["SIGHUP", /reload: starting 2 new processes(?:[^]*? ready$){2}/m],
      ["SIGTTIN", /scaling from 2 to 3 processes[^]*process 3 \(pid \d+\) ready/],
    ] as const
  ) {
    it(`${signal} right after serve() returns is kept and acted on once every worker listens`, async () => {
      const { child, url } = await startServer(fixture("function_form.ts"), [], {
        MS_OPTIONS: JSON.stringify({ port: 0, processes: 2 }),
        MS_SIGNAL_EARLY: signal,
      });
      try {
        await child.waitFor(done);
        assert.equal((await fetchFresh(`${url}token`)).status, 200);
        child.signal("SIGTERM");
        assert.equal((await child.exit()).code, 0, child.stderr);
      } finally {
        child.killTree();
      }
    });
  }
});
