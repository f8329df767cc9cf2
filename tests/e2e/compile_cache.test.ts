/**
 * Start-up on Node: workers started from the `.ts` sources load them, and a `.ts` app, from
 * Node's compile cache in the user's cache directory, written as soon as they listen, so a
 * second start strips no TypeScript (the stripper costs every worker ~17 MiB and its time);
 * an edited source is served as edited; `npm start`'s launcher turns the cache on before
 * `cli.ts` loads, so that the primary need not strip even that. Deno and Bun have their own caches: no Node cache directory is made there.
 */
import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, describe, it } from "node:test";
import {
  type Child,
  cliTs,
  eventually,
  fetchFresh,
  fixture,
  MODES,
  modTs,
  root,
  runtime,
  startServer,
} from "../_harness.ts";

interface Answer {
  greeting: string;
  token: string;
  cache: string | null;
  stripper: boolean;
}

const homes: string[] = [];
after(() => homes.forEach((home) => rmSync(home, { recursive: true, force: true })));

/** A cache home of its own and a copy of the fixture app in it. */
function freshHome(): { env: Record<string, string>; app: string; cache: string } {
  const home = mkdtempSync(join(tmpdir(), "multiserve-cache-"));
  homes.push(home);
  const app = join(home, "app.ts");
  copyFileSync(fixture("stripper_app.ts"), app);
  // An ES module project, as multiserve asks (a .ts file of unknown format is stripped to tell).
  writeFileSync(join(home, "package.json"), `{ "type": "module" }\n`);
  // The suite may run under a NODE_COMPILE_CACHE of its own (npm run test:node): unset it.
  return {
    env: { XDG_CACHE_HOME: home, NODE_COMPILE_CACHE: "" },
    app,
    cache: join(home, "multiserve", "node-compile-cache"),
  };
}

/** Start `script` serving, and collect one answer from each of its `workers` workers. */
async function answers(
  args: string[],
  env: Record<string, string>,
  workers: number,
  script = modTs,
): Promise<{ child: Child; all: Answer[] }> {
  const { child, url } = await startServer(script, ["-p", "0", ...args], env);
  const byToken = new Map<string, Answer>();
  for (let i = 0; i < 300 && byToken.size < workers; i++) {
    const reply = await fetchFresh(url);
    assert.equal(reply.status, 200, reply.text);
    const answer: Answer = JSON.parse(reply.text);
    byToken.set(answer.token, answer);
  }
  assert.equal(byToken.size, workers, "every worker answered");
  return { child, all: [...byToken.values()] };
}

/** Files in the cache, in its one directory per Node version. */
const cachedFiles = (cache: string) =>
  existsSync(cache) ? readdirSync(cache).flatMap((version) => readdirSync(join(cache, version))) : [];

for (const mode of [MODES[1], MODES[2]]) {
  describe(`${runtime}, ${mode.name}: start-up from Node's compile cache`, { concurrency: 1 }, () => {
    if (runtime !== "node") {
      it("no Node compile cache directory is made", async () => {
        const { env, app, cache } = freshHome();
        const { child } = await answers([...mode.args, app], env, mode.workers);
        child.killTree();
        assert.equal(existsSync(cache), false);
      });
      return;
    }

    it("workers fill the cache as they listen; the next start strips no TypeScript; an edited app is served as edited", async () => {
      const { env, app, cache } = freshHome();
      const first = await answers([...mode.args, app], env, mode.workers);
      try {
        for (const answer of first.all) assert.ok(answer.cache?.startsWith(cache), `cache ${answer.cache}`);
        // Written while serving, not at exit: the workers are killed, as a crash would.
        await eventually(() => cachedFiles(cache).length > 10, "the cache written once the workers listen");
      } finally {
        first.child.killTree();
      }
      const second = await answers([...mode.args, app], env, mode.workers);
      second.child.killTree();
      assert.deepEqual(
        second.all.map((answer) => [answer.greeting, answer.stripper]),
        second.all.map(() => ["hello", false]),
      );

      writeFileSync(app, readFileSync(app, "utf8").replace(`"hello"`, `"edited"`));
      const third = await answers([...mode.args, app], env, mode.workers);
      third.child.killTree();
      assert.deepEqual(third.all.map((answer) => answer.greeting), third.all.map(() => "edited"));
    });
  });
}

if (runtime === "node") {
  describe("node: npm start", () => {
    it("its script turns the cache on before cli.ts loads: the second start reads cli.ts from it and strips nothing", async () => {
      const { env, app } = freshHome();
      // The script `npm start` runs (`node SCRIPT --processes auto`), with our arguments.
      const start: string = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.start;
      const launcher = join(root, start.split(" ")[1]);
      const first = await answers([app], env, 1, launcher);
      first.child.killTree();
      // Node's own account of its compile cache, on stderr.
      const second = await answers([app], { ...env, NODE_DEBUG_NATIVE: "COMPILE_CACHE" }, 1, launcher);
      second.child.killTree();
      const cli = `retrieving transpile cache for StrippedTypeScript ${pathToFileURL(cliTs).href}...success`;
      assert.ok(second.child.stderr.includes(cli), second.child.stderr.slice(0, 2000));
      assert.equal(second.all[0].stripper, false, "the type stripper loaded in one isolate");
    });
  });
}
