/**
 * (j) Bulk bytes in one isolate, serve() against the runtime's own server: a 1 MiB upload
 * echoed and a 10 MiB download (wrk scripts bench/upload.lua and bench/download.lua), in MiB/s.
 *
 * @module
 */
import { compareIsolates, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { multiserve, raw, rawBaseline, root, RUNTIMES } from "../servers.ts";

export const letter = "j";
export const title = "bulk bytes, one isolate: a 1 MiB upload echoed, a 10 MiB download";

/** What is measured, the wrk script, and the MiB a request moves (an upload echoed: 2). */
const TRANSFERS = [
  ["1 MiB upload, echoed", "upload.lua", 2],
  ["10 MiB download", "download.lua", 10],
] as const;

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const baseline = rawBaseline(runtime);
    const targets = [raw(runtime, "bytes", baseline), multiserve(runtime, "bytes", [], "serve()")];
    for (const [what, script, mib] of TRANSFERS) {
      const r = await compareIsolates(targets, { threads: 1, connections: 8 }, 3, seconds, [
        "-s",
        `${root}bench/${script}`,
      ]);
      const base = r.get(baseline)!.rounds;
      results[`j.${runtime}.${script}`] = Object.fromEntries(r);
      const { rps, rounds } = r.get("serve()")!;
      rows.push({
        section: "(j) bulk bytes, 1 isolate, -c8",
        runtime,
        what: `serve(), ${what}`,
        value: `${fmt(rps * mib)} MiB/s`,
        ratio: `${pairedRatio(rounds, base).toFixed(2)}× ${baseline}`,
        target: "≥ 0.95",
      });
    }
  }
  return rows;
}
