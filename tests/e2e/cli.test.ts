/** The command line: help, version, the demo app, and the compiled npm package. */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { usage } from "../../src/cli.ts";
import { VERSION } from "../../src/version.ts";
import { Child, fetchFresh, modTs, root, runtime, startServer } from "../_harness.ts";

describe(`${runtime}: the command line`, () => {
  it("--help shows the usage from the options table and exits 0", async () => {
    const child = new Child(modTs, ["--help"]);
    assert.equal((await child.exit()).code, 0);
    assert.equal(child.stdout, `${usage()}\n`);
  });

  it("--version prints the version in package.json and deno.json", async () => {
    const child = new Child(modTs, ["--version"]);
    assert.equal((await child.exit()).code, 0);
    assert.equal(child.stdout.trim(), VERSION);
    for (const file of ["package.json", "deno.json"]) {
      assert.equal(JSON.parse(readFileSync(`${root}/${file}`, "utf8")).version, VERSION, file);
    }
  });

  it("with no module serves the demo, which names the worker that answered", async () => {
    const { child, url } = await startServer(modTs, ["-p", "0", "-t", "2"]);
    try {
      const page = await fetchFresh(url);
      assert.equal(page.status, 200);
      assert.match(page.text, /multiserve demo/);
      const seen = new Set<string>();
      for (let i = 0; i < 200 && seen.size < 2; i++) {
        seen.add(JSON.parse((await fetchFresh(`${url}whoami`)).text).worker);
      }
      assert.deepEqual([...seen].sort(), ["1", "2"]);
    } finally {
      child.signal("SIGTERM");
      await child.exit();
    }
  });

  it("--port wins over env PORT, in every worker, even when PORT is not a number", async () => {
    const { child, url } = await startServer(modTs, ["-p", "0", "-t", "2", "-w", "2"], { PORT: "abc" });
    try {
      assert.equal((await fetchFresh(`${url}whoami`)).status, 200);
    } finally {
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0);
    }
  });

  it("the compiled npm package (dist/) serves through its bin", async () => {
    const bin = `${root}/dist/cli.js`;
    assert.ok(existsSync(bin), "dist/ is missing: npm test builds it first (npm run build)");
    const { child, url } = await startServer(bin, ["-p", "0", "-w", "2"]);
    try {
      assert.equal((await fetchFresh(`${url}whoami`)).status, 200);
    } finally {
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0);
    }
  });
});
