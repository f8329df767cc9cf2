/**
 * (l) What observing costs in one isolate: serve() with the access log to a file, and with
 * the admin endpoint on (counting every request), against serve() with neither.
 *
 * @module
 */
import { tempDir } from "../../tests/_processes.ts";
import { compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { multiserve, RUNTIMES } from "../servers.ts";

export const letter = "l";
export const title =
  "observing: the access log to a file, and counting for the admin endpoint, against neither";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const logDir = tempDir("multiserve-bench-");
    const targets = [
      multiserve(runtime, "hello", [], "serve()"),
      multiserve(runtime, "hello", [`--access-log=${logDir}/access.log`], "serve(), access log to a file"),
      multiserve(runtime, "hello", ["--admin-port", "0"], "serve(), admin endpoint on (counting)"),
    ];
    const r = await compareIsolates(targets, LOAD.hello, 3, seconds);
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
