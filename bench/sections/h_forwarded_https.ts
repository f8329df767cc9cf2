/**
 * (h) Hello world with X-Forwarded-Proto: https from a trusted peer (loopback) in one isolate,
 * serve() against the runtime's own server: what believing the forwarded scheme costs.
 *
 * @module
 */
import { compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { multiserve, raw, rawBaseline, RUNTIMES } from "../servers.ts";

export const letter = "h";
export const title = "hello + X-Forwarded-Proto: https from a trusted peer, one isolate";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const baseline = rawBaseline(runtime);
    const targets = [raw(runtime, "hello", baseline), multiserve(runtime, "hello", [], "serve()")];
    const r = await compareIsolates(targets, LOAD.hello, 3, seconds, ["-H", "X-Forwarded-Proto: https"]);
    const base = r.get(baseline)!.rounds;
    results[`h.${runtime}`] = Object.fromEntries(r);
    const { rps, rounds } = r.get("serve()")!;
    rows.push({
      section: "(h) hello + X-Forwarded-Proto: https, 1 isolate",
      runtime,
      what: "serve(), from loopback (trusted by default)",
      value: `${fmt(rps)} req/s`,
      ratio: `${pairedRatio(rounds, base).toFixed(2)}× ${baseline}`,
      target: "≥ 0.90",
    });
  }
  return rows;
}
