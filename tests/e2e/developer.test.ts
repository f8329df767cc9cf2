/**
 * The developer's loop: a watched app edited under load (good, broken, good) serves each
 * good version and keeps serving through the broken one, with no failed request; every
 * kind of load error names its file and line; --check loads an app without serving it.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  Child,
  cliTs,
  eventually,
  fetchFresh,
  fixture,
  loadLoop,
  MODES,
  runtime,
  startServer,
  tempDir,
} from "../_harness.ts";

/** A fresh directory holding `files`. */
function project(files: Record<string, string>): string {
  const dir = tempDir("multiserve-dev-");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const version = (v: string) => `export default { fetch: () => Response.json({ token: "${v}" }) };\n`;

for (const mode of [MODES[1], MODES[2]]) {
  describe(`${runtime}, ${mode.name}: developing`, () => {
    it("--watch: each good edit is served, a broken one leaves the old serving and shows its place, no request fails", async () => {
      const dir = project({ "app.ts": version("v1") });
      const app = join(dir, "app.ts");
      const { child, url } = await startServer(cliTs, ["-p", "0", "--watch", ...mode.args, app]);
      const token = async () => JSON.parse((await fetchFresh(`${url}token`)).text).token;
      const load = loadLoop(url, 4, { keepAlive: true });
      try {
        assert.match(child.stdout, new RegExp(`watching ${dir} for changes`));
        writeFileSync(app, version("v2"));
        await eventually(() => child.count(/watch: reloaded in \d+ ms/g) === 1, "the first reload");
        assert.equal(await token(), "v2");
        assert.match(child.stderr, /watch: \S*app\.ts changed; reloading/);
        writeFileSync(app, `export default { fetch: () => new Response("v3" }\n`);
        await child.waitFor(/watch: the change did not load/);
        assert.match(child.stderr, /app\.ts:1/, "the broken edit's place is shown");
        assert.equal(await token(), "v2", "the old workers serve on");
        writeFileSync(app, version("v4"));
        await eventually(() => child.count(/watch: reloaded in \d+ ms/g) === 2, "the reload after the fix");
        assert.equal(await token(), "v4");
      } finally {
        const { failures, ok } = await load.stop();
        child.signal("SIGTERM");
        await child.exit();
        assert.deepEqual(failures, [], "no request failed");
        assert.ok(ok > 20, `only ${ok} requests`);
      }
    });

    const broken: [string, Record<string, string>, string, RegExp][] = [
      [
        "a syntax error",
        { "app.ts": 'export default {\n  fetch() {\n    return new Response("x"\n  },\n};\n' },
        "app.ts",
        /app\.ts:4/,
      ],
      [
        "a throw at import",
        {
          "app.ts":
            'function connect() {\n  throw new Error("no database");\n}\nconnect();\nexport default { fetch: () => new Response("x") };\n',
        },
        "app.ts",
        /no database\n(.*\n)*.*app\.ts:2:\d+/,
      ],
      [
        "a missing import",
        {
          "app.ts":
            'import { value } from "./missing.ts";\nexport default { fetch: () => new Response(value) };\n',
        },
        "app.ts",
        /missing\.ts/,
      ],
    ];
    // Every kind in threads; in processes (the same loader) one kind.
    for (const [name, files, entry, place] of mode === MODES[1] ? broken : broken.slice(1, 2)) {
      it(`a load error shows its place: ${name}, exit 4`, async () => {
        const dir = project(files);
        const child = new Child(cliTs, ["-p", "0", ...mode.args, join(dir, entry)]);
        assert.equal((await child.exit()).code, 4, child.stderr);
        assert.match(child.stderr, new RegExp(`app module ${dir}/${entry} failed to load`));
        assert.match(child.stderr, place);
      });
    }
  });
}

describe(`${runtime}: --check`, () => {
  it("a good app: what it exports and the plan the flags make, exit 0, nothing served", async () => {
    const child = new Child(cliTs, ["--check", "-w", "2", "-t", "2", "-p", "0", fixture("hooks_app.ts")], {
      MS_HOOK_DIR: tmpdir(),
    });
    assert.equal((await child.exit()).code, 0, child.stderr);
    assert.match(child.stdout, /hooks_app\.ts: the app loads/);
    assert.match(child.stdout, /exports: fetch, onStart, onStop/);
    assert.match(child.stdout, new RegExp(`runtime: ${runtime} `));
    assert.match(child.stdout, /2 processes × 2 threads: 4 workers/);
    assert.doesNotMatch(child.stdout, /listening on/);
  });

  it("a broken app: its error with its place, exit 4; a bad flag: exit 2", async () => {
    const dir = project({ "app.ts": "export default {\n  fetch() {\n    return new Response(\n  },\n};\n" });
    const broken = new Child(cliTs, ["--check", join(dir, "app.ts")]);
    assert.equal((await broken.exit()).code, 4, broken.stderr);
    assert.match(broken.stderr, /app\.ts:4/);
    const bad = new Child(cliTs, ["--check", "-w", "zero", fixture("app.ts")]);
    assert.equal((await bad.exit()).code, 2, bad.stderr);
  });

  it('a module loaded as CommonJS gets the hint to use "type": "module" (Node; Deno and Bun load it as ESM)', async () => {
    const dir = project({
      "package.json": '{ "type": "commonjs" }\n',
      "app.js":
        'import { hostname } from "node:os";\nexport default { fetch: () => new Response(hostname()) };\n',
    });
    const child = new Child(cliTs, ["--check", join(dir, "app.js")]);
    const { code } = await child.exit();
    if (runtime === "node") {
      assert.equal(code, 4, child.stderr);
      assert.match(child.stderr, /hint: the module was loaded as CommonJS[^\n]*"type": "module"[^\n]*\.mjs/);
    } else assert.equal(code, 0, child.stderr);
  });
});
