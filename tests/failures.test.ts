/**
 * Bad input gets a precise message and a distinct non-zero exit, in every worker shape:
 * a port in use, bad option values, a missing module, a module that throws at import.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { after, before, describe, it } from "node:test";
import { Child, fixture, MODES, modTs, runtime } from "./_harness.ts";

async function run(script: string, args: string[], env: Record<string, string> = {}) {
  const child = new Child(script, args, env);
  const { code } = await child.exit();
  return { code, stdout: child.stdout, stderr: child.stderr };
}

describe(`${runtime}: failures before serving`, () => {
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

    it(`a missing module: names it, exits 4 (${mode.name})`, async () => {
      const { code, stderr } = await run(modTs, ["-p", "0", ...mode.args, "tests/fixtures/nope.ts"]);
      assert.equal(code, 4, stderr);
      assert.match(stderr, /cannot find app module \S*tests\/fixtures\/nope\.ts/);
    });

    it(`a module that throws at import: says so, exits 4 (${mode.name})`, async () => {
      const { code, stderr } = await run(modTs, ["-p", "0", ...mode.args, fixture("throws_at_import.ts")]);
      assert.equal(code, 4, stderr);
      assert.match(stderr, /throws_at_import\.ts threw while loading: this module fails at import/);
    });
  }

  const badFlags: [string[], RegExp][] = [
    [["--processes", "abc"], /flag --processes must be a whole number ≥ 1 or auto, got "abc"/],
    [["-w", "0"], /flag -w must be a whole number ≥ 1 or auto, got "0"/],
    [["--threads", "-1"], /flag --threads must be a whole number ≥ 1 or auto, got "-1"/],
    [["--port", "70000"], /flag --port must be a whole number from 0 to 65535, got "70000"/],
    [["--port"], /flag --port needs a value/],
    [["--bogus"], /unknown flag --bogus/],
  ];
  for (const [args, message] of badFlags) {
    it(`flag ${args.join(" ")}: names it, exits 2`, async () => {
      const { code, stderr } = await run(modTs, args);
      assert.equal(code, 2, stderr);
      assert.match(stderr, message);
    });
  }

  const badOptions: [object, RegExp][] = [
    [{ threaded: -1 }, /option "threaded" must be true, false or a whole number of threads ≥ 1, got -1/],
    [{ processes: "abc" }, /option "processes" must be a whole number of processes ≥ 1, got "abc"/],
    [{ port: 1.5 }, /option "port" must be an integer from 0 to 65535, got 1.5/],
    [{ workers: 2 }, /unknown option "workers"/],
  ];
  for (const [options, message] of badOptions) {
    it(`serve() option ${JSON.stringify(options)}: throws naming it, exits non-zero`, async () => {
      const { code, stderr } = await run(fixture("function_form.ts"), [], {
        MS_OPTIONS: JSON.stringify(options),
      });
      assert.notEqual(code, 0);
      assert.match(stderr, message);
    });
  }

  it("env WEB_CONCURRENCY=abc: names it, exits 2", async () => {
    const { code, stderr } = await run(modTs, ["-p", "0"], { WEB_CONCURRENCY: "abc" });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /env WEB_CONCURRENCY must be a whole number of processes ≥ 1, got "abc"/);
  });
});
