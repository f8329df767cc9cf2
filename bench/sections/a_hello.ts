/**
 * (a) Hello world in one isolate: serve() against the runtime's own server (and on Node,
 * node:http without the @hono/node-server bridge), pinned, paired rounds.
 *
 * @module
 */
import { compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { command, multiserve, raw, rawBaseline, RUNTIMES } from "../servers.ts";

export const letter = "a";
export const title = "hello world, one isolate: serve() vs the runtime's raw server";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const baseline = rawBaseline(runtime);
    const targets = [raw(runtime, "hello", baseline), multiserve(runtime, "hello", [], "serve()")];
    if (runtime === "node") {
      // The bridges side by side: none, @hono/node-server's (the baseline, what serve() uses)
      // and srvx's, whose Node adapter is the other well-kept one.
      targets.push(raw("node", "hello", "node:http alone", "http"), {
        label: "srvx's Node adapter",
        runtime,
        cmd: (port) => command(runtime, "bench/servers/srvx_app.ts", [String(port), "hello"]),
      });
    }
    const r = await compareIsolates(targets, LOAD.hello, 3, seconds);
    const base = r.get(baseline)!.rounds;
    results[`a.${runtime}`] = Object.fromEntries(r);
    for (const [label, { rps, rounds }] of r) {
      rows.push({
        section: "(a) hello, 1 isolate",
        runtime,
        what: label,
        value: `${fmt(rps)} req/s`,
        ratio: `${pairedRatio(rounds, base).toFixed(2)}× ${baseline}`,
        target: label === "serve()" ? "≥ 0.95" : undefined,
      });
    }
  }
  return rows;
}
