/**
 * (l) What observing costs in one isolate: serve() with the access log to a file, and with
 * the admin endpoint on (counting every request), against serve() with neither.
 *
 * @module
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { multiserve, removeDir, RUNTIMES } from "../servers.ts";

export const letter = "l";
export const title =
  "observing: the access log to a file, and counting for the admin endpoint, against neither";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const logDir = mkdtempSync(`${tmpdir()}/multiserve-bench-`);
    const targets = [
      multiserve(runtime, "hello", [], "serve()"),
      multiserve(runtime, "hello", [`--access-log=${logDir}/access.log`], "serve(), access log to a file"),
      multiserve(runtime, "hello", ["--admin-port", "0"], "serve(), admin endpoint on (counting)"),
    ];
    // The log holds a line per request measured: gone with its directory once measured.
    const r = await compareIsolates(targets, LOAD.hello, 3, seconds).finally(() => removeDir(logDir));
    const base = r.get("serve()")!.rounds;
    results[`l.${runtime}`] = Object.fromEntries(r);
    for (const label of ["serve(), access log to a file", "serve(), admin endpoint on (counting)"]) {
      const { rps, rounds } = r.get(label)!;
      rows.push({
        section: "(l) observing, hello, 1 isolate",
        runtime,
        what: label,
        value: `${fmt(rps)} req/s`,
        ratio: `${pairedRatio(rounds, base).toFixed(2)}× serve()`,
        target: "≥ 0.80",
      });
    }
  }
  return rows;
}
