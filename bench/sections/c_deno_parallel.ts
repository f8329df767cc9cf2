/**
 * (c) Deno only: deno serve --parallel on the hello route, against serve() in one isolate and
 * threaded 2.
 *
 * @module
 */
import { compare, LOAD } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { denoServeParallel, multiserve } from "../servers.ts";

export const letter = "c";
export const title = "deno serve --parallel on the hello route, against serve() threaded 2";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const r = await compare(
    [
      multiserve("deno", "hello", [], "serve(), 1 isolate"),
      multiserve("deno", "hello", ["-t", "2"], "serve(), threaded 2"),
      denoServeParallel("hello", 2, "deno serve --parallel, DENO_JOBS=2"),
    ],
    LOAD.hello,
    1,
    seconds,
  );
  results["c.deno"] = Object.fromEntries(r);
  const base = r.get("deno serve --parallel, DENO_JOBS=2")!.rps;
  for (const [label, { rps }] of r) {
    rows.push({
      section: "(c) hello, -t1 -c32",
      runtime: "deno",
      what: label,
      value: `${fmt(rps)} req/s`,
      ratio: `${(rps / base).toFixed(2)}× deno serve --parallel`,
    });
  }
  return rows;
}
