/**
 * (k) What each stage of serve()'s request path costs: server CPU per request with ten
 * browser and proxy headers, the runtime's own server against serve() with each stage
 * (the header walk, proxy trust, the concurrency limit) turned off in turn.
 *
 * @module
 */
import { BROWSER_HEADERS, cpuPerRequest, median } from "../measure.ts";
import type { Context, Row } from "../section.ts";
import { multiserve, raw, rawBaseline, RUNTIMES, type Target } from "../servers.ts";

export const letter = "k";
export const title = "what each stage costs: server CPU per request, hello + 10 browser and proxy headers";

/** What the row says, and the server: the runtime's own first, the base of every difference. */
function variants(runtime: (typeof RUNTIMES)[number]): [string, Target][] {
  const list: [string, Target][] = [
    [rawBaseline(runtime), raw(runtime, "hello", rawBaseline(runtime))],
    ["serve(), defaults", multiserve(runtime, "hello", [], "defaults")],
    [
      "  without the header walk (max header size and count 0)",
      multiserve(runtime, "hello", ["--max-header-size", "0", "--max-header-count", "0"], "no walk"),
    ],
    [
      "  without proxy trust (--forwarded-allow-ips=)",
      multiserve(runtime, "hello", ["--forwarded-allow-ips="], "no proxy"),
    ],
    [
      "  without the concurrency limit (--max-concurrency 0)",
      multiserve(runtime, "hello", ["--max-concurrency", "0"], "no limit"),
    ],
    [
      "  all three off",
      multiserve(runtime, "hello", [
        "--max-header-size",
        "0",
        "--max-header-count",
        "0",
        "--forwarded-allow-ips=",
        "--max-concurrency",
        "0",
      ], "all off"),
    ],
  ];
  if (runtime === "deno") {
    list.splice(1, 0, [
      "Deno.serve, handler taking its request",
      raw("deno", "hello", "raw request", "request"),
    ]);
  }
  return list;
}

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const servers = variants(runtime);
    const micros = new Map<string, number[]>();
    for (let round = 0; round < 3; round++) {
      for (const [label, target] of servers) {
        const us = await cpuPerRequest(target, BROWSER_HEADERS, seconds);
        micros.set(label, [...micros.get(label) ?? [], us]);
      }
    }
    const base = median(micros.get(rawBaseline(runtime))!);
    results[`k.${runtime}`] = Object.fromEntries(micros);
    for (const [label] of servers) {
      const us = median(micros.get(label)!);
      rows.push({
        section: "(k) server CPU per request, + 10 headers",
        runtime,
        what: label,
        value: `${us.toFixed(1)} µs`,
        ratio: `+${(us - base).toFixed(1)} µs`,
      });
    }
  }
  return rows;
}
