/**
 * Bad input gets a precise message and a distinct non-zero exit, in every worker shape:
 * a port in use, bad option values, a missing module, a module that throws at import, a
 * worker killed as it starts.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  Child,
  distinctTokens,
  fetchFresh,
  fixture,
  MODES,
  modTs,
  runtime,
  startApp,
  startServer,
} from "../_harness.ts";

async function run(script: string, args: string[], env: Record<string, string> = {}) {
  const child = new Child(script, args, env);
  const { code } = await child.exit();
  return { code, stdout: child.stdout, stderr: child.stderr };
}

// Each case is a short-lived process of its own: two at a time halve the wait.
describe(`${runtime}: failures before serving`, { concurrency: 2 }, () => {
  let blocker: Server;
  let busyPort: number;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker.listen({ host: "127.0.0.1", port: 0 }, r));
    busyPort = (blocker.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => blocker.close(() => r())));

  for (const mode of MODES) {
    it(`a port in use: names the port, exits 3 (${mode.name})`, async () => {
      const { code, stderr } = await run(modTs, ["-p", String(busyPort), ...mode.args, fixture("app.ts")]);
      assert.equal(code, 3, stderr);
      assert.match(stderr, new RegExp(`port ${busyPort} on 127\\.0\\.0\\.1 is already in use`));
    });

    it(`a module that throws at import: says so, exits 4 (${mode.name})`, async () => {
      const { code, stderr } = await run(modTs, ["-p", "0", ...mode.args, fixture("throws_at_import.ts")]);
      assert.equal(code, 4, stderr);
      assert.match(stderr, /throws_at_import\.ts failed to load: this module fails at import/);
    });

    // Where a module is looked for and read is the same in every mode: two modes suffice.
    if (mode === MODES[1] || mode === MODES[2]) continue;

    it(`a missing module: names it, exits 4 (${mode.name})`, async () => {
      const { code, stderr } = await run(modTs, ["-p", "0", ...mode.args, "tests/fixtures/nope.ts"]);
      assert.equal(code, 4, stderr);
      assert.match(stderr, /cannot find app module \S*tests\/fixtures\/nope\.ts/);
    });

    it(`a module without an app as default export: says so, exits 4 (${mode.name})`, async () => {
      const { code, stderr } = await run(modTs, ["-p", "0", ...mode.args, fixture("no_default_export.ts")]);
      assert.equal(code, 4, stderr);
      assert.match(stderr, /no_default_export\.ts has no app as its default export/);
    });
  }

  // node:cluster's answer to a dying worker can fail (EPIPE), and was emitted as an unhandled
  // "error" that ended the primary (exit 1): a race, so several tries. (Deno's and Bun's
  // worker processes ask their primary for no socket.)
  it(
    "node: a worker process killed while its primary answers it fails the start (exit 3), never the primary itself",
    {
      skip: runtime !== "node",
    },
    async () => {
      for (const spin of ["0", "1", "0", "1", "0", "1"]) {
        const args = ["-p", "0", ...MODES[2].args, fixture("dies_while_listening.ts")];
        const { code, stderr } = await run(modTs, args, { SPIN_MS: spin });
        assert.equal(code, 3, stderr);
        assert.match(stderr, /exited before listening \(killed by a signal\)/);
        assert.doesNotMatch(stderr, /Unhandled 'error' event/);
      }
    },
  );

  it("a port another multiserve shares with SO_REUSEPORT: refused, exits 3", async () => {
    const { child: first, url } = await startApp(MODES[1]);
    try {
      const port = new URL(url).port;
      const { code, stderr } = await run(modTs, ["-p", port, "-t", "2", fixture("app.ts")]);
      assert.equal(code, 3, stderr);
      assert.match(stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      assert.equal((await fetchFresh(`${url}token`)).status, 200, "the first server is unharmed");
    } finally {
      first.signal("SIGTERM");
      await first.exit();
    }
  });

  // The messages of every option, flag and variable are checked in-process (options.test.ts);
  // these check that each way in ends the program with exit 2 and one line.
  it("a bad flag: one line naming it, a pointer to --help, exit 2", async () => {
    const { code, stderr } = await run(modTs, ["--processes", "abc"]);
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr,
      'multiserve: flag --processes must be a whole number ≥ 1 or auto, got "abc"\nRun "multiserve --help" for usage.\n',
    );
  });

  it("a bad environment value: one line naming it, exit 2", async () => {
    const { code, stderr } = await run(modTs, ["-p", "0"], { FORWARDED_ALLOW_IPS: "nginx" });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^multiserve: env FORWARDED_ALLOW_IPS: "nginx" is not an IP address/);
  });

  it("an option that needs workers, given by flag to one isolate: exit 2", async () => {
    const { code, stderr } = await run(modTs, ["--max-requests", "100"]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /option "maxRequests" needs supervised workers/);
  });

  it("serve() with a bad option throws an OptionError naming it", async () => {
    const { code, stderr } = await run(fixture("function_form.ts"), [], {
      MS_OPTIONS: JSON.stringify({ threaded: -1 }),
    });
    assert.notEqual(code, 0);
    assert.match(
      stderr,
      /OptionError: option "threaded" must be true, false or a whole number of threads ≥ 1, got -1/,
    );
  });
});

if (runtime === "deno") {
  describe("deno: flags and permissions", () => {
    it("threaded needs no --unstable-net: the worker process holding the threads gets it", async () => {
      // --no-config: leave out this repository's deno.json, which enables unstable net.
      const { child, url } = await startServer(modTs, ["-t", "2", "-p", "0", fixture("app.ts")], {}, [
        "--no-config",
      ]);
      try {
        assert.equal((await distinctTokens(url, 2)).size, 2);
      } finally {
        child.killTree();
      }
    });

    it("threaded without --allow-run: names the flag, exits 3", async () => {
      const args = ["-t", "2", "-p", "0", fixture("app.ts")];
      const child = new Child(modTs, args, {}, ["--allow-net", "--allow-read", "--allow-env"]);
      const { code } = await child.exit();
      assert.equal(code, 3, child.stderr);
      assert.match(child.stderr, /could not start: Requires run access[^\n]*--allow-run/);
    });

    it("worker processes get the primary's permissions, no more", async () => {
      const { child, url } = await startServer(
        modTs,
        ["-p", "0", "-w", "2", fixture("permissions_app.ts")],
        {},
        ["--allow-net", "--allow-read", "--allow-env", "--allow-run"],
      );
      try {
        const granted = JSON.parse((await fetchFresh(url)).text);
        assert.deepEqual(granted, {
          net: "granted",
          read: "granted",
          env: "granted",
          write: "prompt",
          ffi: "prompt",
        });
      } finally {
        child.signal("SIGTERM");
        await child.exit();
      }
    });
  });
}
