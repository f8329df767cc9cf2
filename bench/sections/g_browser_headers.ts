/**
 * (g) Hello world with ten browser and proxy headers in one isolate, serve() against the
 * runtime's own server: what the edge checks and proxy trust cost per request.
 *
 * @module
 */
import { BROWSER_HEADERS, compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { multiserve, raw, rawBaseline, RUNTIMES } from "../servers.ts";

export const letter = "g";
export const title = "hello + 10 browser and proxy headers, one isolate: the edge checks' cost";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const baseline = rawBaseline(runtime);
    const targets = [raw(runtime, "hello", baseline), multiserve(runtime, "hello", [], "serve()")];
    const r = await compareIsolates(targets, LOAD.hello, 3, seconds, BROWSER_HEADERS);
    const base = r.get(baseline)!.rounds;
    results[`g.${runtime}`] = Object.fromEntries(r);
    const { rps, rounds } = r.get("serve()")!;
    rows.push({
      section: "(g) hello + 10 headers, 1 isolate",
      runtime,
      what: "serve(), edge checks and proxy trust on",
      value: `${fmt(rps)} req/s`,
      ratio: `${pairedRatio(rounds, base).toFixed(2)}× ${baseline}`,
    });
  }
  return rows;
}
