/**
 * Writes what the options table documents: `ServeOptions` (src/serve_options.ts, whole) and
 * the option tables of docs/options.md, each between its markers. `npm run docs` rewrites
 * them; tests/unit/structure.test.ts fails when they are out of date. (`--help` is made
 * from the same table as it runs.)
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isMainModule } from "../src/host.ts";
import { defaultDoc, type Section, type Setting, SETTINGS } from "../src/settings.ts";

type Entry = Setting<unknown, unknown>;
const entries = Object.entries(SETTINGS) as [string, Entry][];

/** The files written, by path from the repository root. */
export const TARGETS = ["src/serve_options.ts", "docs/options.md"] as const;

/** `text` with what lies between `start` and `end` replaced by `body`. */
export function between(text: string, start: string, end: string, body: string): string {
  const from = text.indexOf(start);
  const to = text.indexOf(end, from);
  if (from === -1 || to === -1) throw new Error(`markers ${start} … ${end} not found`);
  return text.slice(0, from + start.length) + "\n" + body + text.slice(to);
}

/** The members of `ServeOptions`, with their JSDoc. */
export function serveOptionsMembers(): string {
  return entries.map(([name, entry]) => {
    const doc = [...entry.doc.split("\n"), `@default ${defaultDoc(entry)}`, `@example ${entry.example}`];
    return ["  /**", ...doc.map((line) => `   * ${line}`.trimEnd()), "   */", `  ${name}?: ${entry.type};`]
      .join("\n");
  }).join("\n") + "\n";
}

/** A Markdown table as `deno fmt` lays it out: every column padded to its widest cell. */
export function markdownTable(head: string[], rows: string[][]): string {
  const widths = head.map((cell, i) => Math.max(cell.length, 3, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The option table of one section. */
export function optionTable(section: Section): string {
  const rows = entries.filter(([, entry]) => entry.section === section).map(([name, entry]) => [
    `\`${name}\``,
    (entry.flags ?? []).map((flag) => `\`${flag}\``).join(", "),
    defaultDoc(entry),
    entry.help.replaceAll("|", "\\|"),
  ]);
  return markdownTable(["option", "flags", "default", "meaning"], rows);
}

/** The whole of src/serve_options.ts. */
export function serveOptionsModule(): string {
  return `// Written by \`npm run docs\` (scripts/docs.ts) from the options table in src/settings.ts:
// do not edit. A test fails when it is stale.
/**
 * Options of \`serve()\`. Every option is checked up front; a bad value throws an
 * \`OptionError\` naming it. Each member comes from the options table (\`src/settings.ts\`), as
 * \`--help\` and the tables of docs/options.md do.
 *
 * @module
 */
import type { ListenInfo } from "./types.ts";

/** Options of \`serve()\`: in code, as flags, or from the environment, in that order. */
export interface ServeOptions {
${serveOptionsMembers()}}
`;
}

/** What each target should hold. */
export function generated(read: (path: string) => string): Record<(typeof TARGETS)[number], string> {
  let options = read("docs/options.md");
  for (const section of ["serving", "workers", "requests", "observability", "development"] as const) {
    options = between(
      options,
      `<!-- options:${section} -->`,
      `<!-- /options:${section} -->`,
      `\n${optionTable(section)}\n\n`,
    );
  }
  return { "src/serve_options.ts": serveOptionsModule(), "docs/options.md": options };
}

if (isMainModule(import.meta)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const files = generated((path) => readFileSync(root + path, "utf8"));
  for (const [path, text] of Object.entries(files)) writeFileSync(root + path, text);
  console.log(`wrote ${Object.keys(files).join(", ")} from src/settings.ts`);
}
