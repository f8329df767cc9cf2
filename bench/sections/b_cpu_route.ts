/**
 * (b) A route doing ~2 ms of fixed CPU work (wrk -t1 -c8): one isolate against threaded 2 and
 * processes 2, with the peers (a hand-written node:cluster, deno serve --parallel).
 *
 * @module
 */
import { compare, LOAD } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { denoServeParallel, multiserve, raw, RUNTIMES } from "../servers.ts";

export const letter = "b";
export const title = "~2 ms CPU route, wrk -t1 -c8: 1 isolate vs threaded 2 vs processes 2, and peers";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const targets = [
      multiserve(runtime, "cpu", [], "serve(), 1 isolate"),
      multiserve(runtime, "cpu", ["-t", "2"], "serve(), threaded 2"),
      multiserve(runtime, "cpu", ["-w", "2"], "serve(), processes 2"),
    ];
    if (runtime === "node") targets.push(raw("node", "cpu", "hand-written node:cluster, 2", "cluster"));
    if (runtime === "deno") targets.push(denoServeParallel("cpu", 2, "deno serve --parallel, DENO_JOBS=2"));
    const r = await compare(targets, LOAD.cpu, 1, seconds);
    const base = r.get("serve(), 1 isolate")!.rps;
    results[`b.${runtime}`] = Object.fromEntries(r);
    for (const [label, { rps }] of r) {
      rows.push({
        section: "(b) 2 ms CPU, -t1 -c8",
        runtime,
        what: label,
        value: `${fmt(rps)} req/s`,
        ratio: `${(rps / base).toFixed(2)}× 1 isolate`,
        target: /threaded|processes/.test(label) ? "≥ 1.8" : undefined,
      });
    }
  }
  return rows;
}
