/**
 * The layout keeps its promises: what is written from the options table is current, the
 * file list of docs/architecture.md names every file in the repository, every link of the
 * README and docs/ leads somewhere, no module takes part in a value import cycle, the
 * contracts import only types, and every adapter lists the contract's members in the
 * contract's order.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { describe, it } from "node:test";
import { generated, TARGETS } from "../../scripts/docs.ts";
import { root, runtime } from "../_harness.ts";

const read = (path: string) => readFileSync(`${root}${path}`, "utf8");

/** The `.ts` modules of the library, its programs and its adapters. */
function sourceModules(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(`${root}${dir}`).flatMap((name) => {
      const path = `${dir}/${name}`;
      return statSync(`${root}${path}`).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : [];
    });
  return ["mod.ts", "cli.ts", ...walk("src"), ...walk("adapters")];
}

/** The static imports and re-exports of a module: the path, and whether only types come through. */
function importsOf(path: string): { target: string; typeOnly: boolean }[] {
  const source = read(path);
  const found = [];
  for (const match of source.matchAll(/^(?:import|export)\s+(type\s+)?([^;]*?)\s*from\s+"([^"]+)";/gms)) {
    const [, typeKeyword, clause, specifier] = match;
    if (!specifier.startsWith(".")) continue;
    const names = /\{([^}]*)\}/s.exec(clause)?.[1].split(",").map((n) => n.trim()).filter(Boolean);
    const allTypes = names !== undefined && !/^\s*\w+\s*,/.test(clause) &&
      names.every((name) => name.startsWith("type "));
    const target = new URL(specifier, `file:///${path}`).pathname.slice(1);
    found.push({ target, typeOnly: typeKeyword !== undefined || allTypes });
  }
  return found;
}

/** The anchors of a Markdown page's headings, as GitHub makes them. */
function anchorsOf(markdown: string): Set<string> {
  const headings = markdown.replace(/```[^]*?```/g, "").matchAll(/^#{1,6} (.+)$/gm);
  return new Set(
    [...headings].map(([, title]) => title.toLowerCase().replace(/[^\w\- ]/g, "").replaceAll(" ", "-")),
  );
}

describe(`${runtime}: the layout`, () => {
  it("ServeOptions and the option tables of docs/options.md are current with src/settings.ts (npm run docs)", () => {
    const expected = generated(read);
    for (const path of TARGETS) {
      assert.equal(read(path), expected[path], `${path} is stale: run npm run docs`);
    }
  });

  it("the Layout of docs/architecture.md names every file in the repository, and no other", (t) => {
    const listed = spawnSync("git", ["ls-files"], { cwd: root, encoding: "utf8" });
    if (listed.status !== 0) return t.skip("not a git checkout");
    const files = listed.stdout.trim().split("\n").sort();
    const section = /## Layout\n[^]*?```\n([^]*?)```/.exec(read("docs/architecture.md"))?.[1];
    assert.ok(section, "docs/architecture.md has a Layout section with a code block");
    const named = section.split("\n").map((line) => line.split(/\s+/)[0]).filter((word) => word !== "")
      .sort();
    assert.deepEqual(named, files);
  });

  it("every link of the README, CONTRIBUTING.md and docs/ leads to a file, and to a heading there", () => {
    const pages = [
      "README.md",
      "CONTRIBUTING.md",
      ...readdirSync(`${root}docs`).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`),
    ];
    const broken: string[] = [];
    for (const page of pages) {
      const text = read(page).replace(/```[^]*?```/g, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:: not ours to check
        const [path, anchor] = target.split("#");
        const file = path === "" ? page : new URL(path, `file:///${page}`).pathname.slice(1);
        let exists = true;
        try {
          statSync(`${root}${file}`);
        } catch {
          exists = false;
        }
        if (!exists) broken.push(`${page}: ${target} (no such file)`);
        else if (anchor !== undefined && !anchorsOf(read(file)).has(anchor)) {
          broken.push(`${page}: ${target} (no such heading)`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it("no module takes part in a value import cycle", () => {
    const graph = new Map(
      sourceModules().map((path) => [
        path,
        importsOf(path).filter((edge) => !edge.typeOnly).map((edge) => edge.target),
      ]),
    );
    const state = new Map<string, "visiting" | "done">();
    const visit = (path: string, trail: string[]): void => {
      if (state.get(path) === "done") return;
      if (state.get(path) === "visiting") assert.fail(`value import cycle: ${[...trail, path].join(" → ")}`);
      state.set(path, "visiting");
      for (const next of graph.get(path) ?? []) visit(next, [...trail, path]);
      state.set(path, "done");
    };
    for (const path of graph.keys()) visit(path, []);
    assert.ok(graph.size > 30, `found ${graph.size} modules`);
  });

  it("the contracts (src/types.ts, src/adapter.ts, src/protocol.ts) import only types", () => {
    for (const path of ["src/types.ts", "src/adapter.ts", "src/protocol.ts"]) {
      for (const edge of importsOf(path)) {
        assert.ok(edge.typeOnly, `${path} imports values from ${edge.target}`);
      }
    }
  });

  it("every adapter lists the contract's members in the contract's order, with the same names", () => {
    const contract = /export interface Adapter \{\n([^]*?)\n\}/.exec(read("src/adapter.ts"))![1];
    const members = [...contract.matchAll(/^ {2}(?:readonly )?(\w+)[?(:]/gm)].map((m) => m[1]);
    assert.ok(members.length > 10, `the contract has ${members.length} members`);
    for (const name of ["deno", "bun", "node"]) {
      const body = /export const adapter: Adapter = \{\n([^]*?)\n\};/.exec(read(`adapters/${name}.ts`))![1];
      const keys = [...body.matchAll(/^ {2}(\w+)\s*[:(,]/gm)].map((m) => m[1]);
      assert.deepEqual(keys, members, `adapters/${name}.ts`);
    }
  });
});
