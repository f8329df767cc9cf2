/**
 * (d) Resident memory of one isolate and per extra thread or process, and the time from
 * start to every worker listening.
 *
 * @module
 */
import { freePort } from "../../tests/_processes.ts";
import { wrk } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { command, type Runtime, RUNTIMES, start, stop, treeRssMiB } from "../servers.ts";

export const letter = "d";
export const title = "memory per extra worker, time to all workers listening";

/** Start the hello app with `flags`, load it briefly, read its tree's memory, stop it. */
async function sample(runtime: Runtime, flags: string[]) {
  const port = await freePort();
  const running = await start(
    command(runtime, "mod.ts", ["-p", String(port), ...flags, "bench/servers/hello_app.ts"]),
    port,
  );
  try {
    await wrk(running.url, 1, 8, 1); // touch every worker's code paths
    return { rss: treeRssMiB(running.child.pid!), startMs: running.startMs };
  } finally {
    await stop(running);
  }
}

export async function run({ results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    const one = await sample(runtime, []);
    // Differences over two extra workers halve the noise of a garbage collector's timing.
    const [t2, t4] = [await sample(runtime, ["-t", "2"]), await sample(runtime, ["-t", "4"])];
    const [p2, p4] = [await sample(runtime, ["-w", "2"]), await sample(runtime, ["-w", "4"])];
    results[`d.${runtime}`] = { one, t2, t4, p2, p4 };
    const section = "(d) memory, start-up";
    rows.push(
      { section, runtime, what: "RSS, 1 isolate", value: `${one.rss.toFixed(0)} MiB`, ratio: "" },
      {
        section,
        runtime,
        what: "RSS per extra thread",
        value: `${((t4.rss - t2.rss) / 2).toFixed(0)} MiB`,
        ratio: "",
      },
      {
        section,
        runtime,
        what: "RSS per extra process",
        value: `${((p4.rss - p2.rss) / 2).toFixed(0)} MiB`,
        ratio: "",
      },
      {
        section,
        runtime,
        what: "start → all listening (1 / threaded 2 / processes 2)",
        value: `${fmt(one.startMs)} / ${fmt(t2.startMs)} / ${fmt(p2.startMs)} ms`,
        ratio: "",
      },
    );
  }
  return rows;
}
