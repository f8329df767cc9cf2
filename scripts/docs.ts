/**
 * Writes what the options table documents: `ServeOptions` in src/types.ts, and the
 * README's option tables and `--help` block, each between its markers. `npm run docs`
 * rewrites them; tests/docs.test.ts fails when they are out of date.
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { usage } from "../src/cli.ts";
import { isMainModule } from "../src/host.ts";
import { defaultDoc, type Section, type Setting, SETTINGS } from "../src/settings.ts";

type Entry = Setting<unknown, unknown>;
const entries = Object.entries(SETTINGS) as [string, Entry][];

/** The files written, by path from the repository root. */
export const TARGETS = ["src/types.ts", "README.md"] as const;

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

/** What each target should hold. */
export function generated(read: (path: string) => string): Record<(typeof TARGETS)[number], string> {
  let types = read("src/types.ts");
  types = between(types, "  // <options-table>", "  // </options-table>", serveOptionsMembers());
  let readme = read("README.md");
  for (const section of ["serving", "workers", "requests", "observability", "development"] as const) {
    readme = between(
      readme,
      `<!-- options:${section} -->`,
      `<!-- /options:${section} -->`,
      `\n${optionTable(section)}\n\n`,
    );
  }
  readme = between(readme, "<!-- help -->", "<!-- /help -->", `\n\`\`\`\n${usage()}\n\`\`\`\n\n`);
  return { "src/types.ts": types, "README.md": readme };
}

if (isMainModule(import.meta)) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const files = generated((path) => readFileSync(root + path, "utf8"));
  for (const [path, text] of Object.entries(files)) writeFileSync(root + path, text);
  console.log(`wrote ${Object.keys(files).join(", ")} from src/settings.ts`);
}
