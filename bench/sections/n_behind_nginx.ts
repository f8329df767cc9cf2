/**
 * (n) Behind nginx in one isolate: nginx → serve() against nginx → the runtime's own server,
 * each server with an nginx of its own, pinned with it. Left out where nginx is not installed.
 *
 * @module
 */
import { compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { multiserve, NGINX, raw, rawBaseline, RUNTIMES } from "../servers.ts";

export const letter = "n";
export const title = "behind nginx: nginx → serve() against nginx → the runtime's own server";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  if (NGINX === "") {
    console.error("  no nginx on this machine: left out");
    return rows;
  }
  for (const runtime of RUNTIMES) {
    const baseline = rawBaseline(runtime);
    const targets = [
      { ...raw(runtime, "hello", baseline), behindNginx: true },
      { ...multiserve(runtime, "hello", [], "serve()"), behindNginx: true },
    ];
    const r = await compareIsolates(targets, LOAD.hello, 3, seconds);
    const base = r.get(baseline)!.rounds;
    results[`n.${runtime}`] = Object.fromEntries(r);
    const { rps, rounds, errors } = r.get("serve()")!;
    rows.push({
      section: "(n) behind nginx, hello, 1 isolate",
      runtime,
      what: "nginx (keepalive, X-Forwarded-For/-Proto: https) → serve()",
      value: `${fmt(rps)} req/s${errors ? `, ${errors} errors` : ""}`,
      ratio: `${pairedRatio(rounds, base).toFixed(2)}× nginx → ${baseline}`,
      target: "≥ 0.90",
    });
  }
  return rows;
}
