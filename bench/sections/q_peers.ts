/**
 * (q) The peers side by side, in one run, on the same routes and client (wrk -t1): hello,
 * ~2 ms of CPU, and hello with ten browser and proxy headers. serve() with processes 2 and
 * threaded 2 against each runtime's own way to use two cores (`deno serve --parallel`, two
 * Bun processes with `reusePort`, a hand-written `node:cluster`, pm2 in cluster mode) and
 * srvx (one process: it has no workers of its own). Nothing is pinned: two workers need both
 * CPUs, which wrk shares.
 *
 * @module
 */
import { tempDir } from "../../tests/_processes.ts";
import { BROWSER_HEADERS, compare, LOAD, type Load } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import {
  bin,
  command,
  denoServeParallel,
  multiserve,
  raw,
  root,
  type Runtime,
  RUNTIMES,
  type Target,
} from "../servers.ts";

export const letter = "q";
export const title = "peers side by side, 2 workers: hello, 2 ms CPU, 10 browser headers";

/** pm2 in cluster mode (2 instances) running the bridge baseline (raw_node.ts), in the foreground (pm2-runtime). */
const pm2Cluster = (app: string): Target => ({
  label: "pm2 cluster mode, 2 instances",
  runtime: "node",
  // The port by environment too (env(1) sets it), since pm2 runs the file with its own arguments.
  cmd: (port) => ["env", [
    `BENCH_PORT=${port}`,
    bin("node"),
    `${root}node_modules/pm2/bin/pm2-runtime`,
    "start",
    `${root}bench/servers/raw_node.ts`,
    "-i",
    "2",
  ]],
  env: {
    PM2_HOME: tempDir("multiserve-bench-pm2-"),
    BENCH_PM2: "1",
    BENCH_APP: app,
  },
});

function peers(runtime: Runtime, app: string): Target[] {
  const srvx: Target = {
    label: "srvx, 1 process",
    runtime,
    cmd: (port) => command(runtime, "bench/servers/srvx_app.ts", [String(port), app]),
  };
  if (runtime === "deno") return [denoServeParallel(app, 2, "deno serve --parallel, DENO_JOBS=2"), srvx];
  if (runtime === "bun") {
    return [{
      label: "Bun.serve reusePort, 2 processes",
      runtime,
      cmd: (port) => command("bun", "bench/servers/bun_reuseport.ts", [String(port), app]),
    }, srvx];
  }
  return [raw("node", app, "hand-written node:cluster, 2", "cluster"), pm2Cluster(app), srvx];
}

const ROUTES: { name: string; app: string; load: Load; wrkArgs: string[] }[] = [
  { name: "hello", app: "hello", load: LOAD.hello, wrkArgs: [] },
  { name: "2 ms CPU", app: "cpu", load: LOAD.cpu, wrkArgs: [] },
  { name: "hello + 10 headers", app: "hello", load: LOAD.hello, wrkArgs: BROWSER_HEADERS },
];

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    for (const route of ROUTES) {
      const targets = [
        multiserve(runtime, route.app, ["-w", "2"], "serve(), processes 2"),
        multiserve(runtime, route.app, ["-t", "2"], "serve(), threaded 2"),
        ...peers(runtime, route.app),
      ];
      const r = await compare(targets, route.load, 1, seconds, route.wrkArgs);
      results[`q.${runtime}.${route.name}`] = Object.fromEntries(r);
      // The fastest peer with two workers: what serve() must match.
      const best = Math.max(
        ...[...r].filter(([label]) => !label.startsWith("serve()") && !label.startsWith("srvx"))
          .map(([, { rps }]) => rps),
      );
      for (const [label, { rps, errors }] of r) {
        rows.push({
          section: `(q) peers, ${route.name}`,
          runtime,
          what: label,
          value: `${fmt(rps)} req/s${errors ? `, ${errors} errors` : ""}`,
          ratio: `${(rps / best).toFixed(2)}× the fastest 2-worker peer`,
          target: label.startsWith("serve()") ? "≥ 1.0" : undefined,
        });
      }
    }
  }
  return rows;
}
