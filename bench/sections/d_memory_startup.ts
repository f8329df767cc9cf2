/**
 * (d) Resident memory of one isolate and per extra thread or process, and the time from
 * start to every worker listening; one isolate against the runtime's own server
 * (bench/servers/raw_*.ts), started in turn. The command is `cli.ts`, and on Node the
 * repository's own run command, `npm start`'s `scripts/start.js`: a `.ts` entry is
 * type-stripped before multiserve can turn on Node's compile cache, which loads the stripper
 * into the primary (~0.1 s, ~10 MiB), and `mod.ts` imports most of the package
 * (docs/limits.md). The compiled bin starts as fast as `scripts/start.js` (docs/benchmark.md).
 *
 * @module
 */
import { freePort } from "../../tests/_processes.ts";
import { wrk } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import {
  command,
  multiserveEntry,
  raw,
  type Runtime,
  RUNTIMES,
  start,
  stop,
  treeRssMiB,
} from "../servers.ts";

export const letter = "d";
export const title = "memory per extra worker, time to all workers listening";

/** Start the hello app with `flags`, load it briefly, read its tree's memory, stop it. */
function sample(runtime: Runtime, flags: string[]) {
  return measure((port) =>
    command(runtime, multiserveEntry(runtime), [
      "-p",
      String(port),
      ...flags,
      "bench/servers/hello_app.ts",
    ])
  );
}

/** Start the server `cmd` names, load it briefly, read its tree's memory, stop it. */
async function measure(cmd: (port: number) => [string, string[]]) {
  const port = await freePort();
  const running = await start(cmd(port), port);
  try {
    await wrk(running.url, 1, 8, 1); // touch every worker's code paths
    return { rss: treeRssMiB(running.child.pid!), startMs: running.startMs };
  } finally {
    await stop(running);
  }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];

export async function run({ results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    // Pairs in turn, so that a busy machine weighs on both alike.
    const ours: { rss: number; startMs: number }[] = [];
    const theirs: { rss: number; startMs: number }[] = [];
    for (let i = 0; i < 3; i++) {
      theirs.push(await measure(raw(runtime, "hello", "").cmd));
      ours.push(await sample(runtime, []));
    }
    const one = { rss: median(ours.map((s) => s.rss)), startMs: median(ours.map((s) => s.startMs)) };
    const rawOne = { rss: median(theirs.map((s) => s.rss)), startMs: median(theirs.map((s) => s.startMs)) };
    // Differences over two extra workers halve the noise of a garbage collector's timing.
    const [t2, t4] = [await sample(runtime, ["-t", "2"]), await sample(runtime, ["-t", "4"])];
    const [p2, p4] = [await sample(runtime, ["-w", "2"]), await sample(runtime, ["-w", "4"])];
    results[`d.${runtime}`] = { one, raw: rawOne, t2, t4, p2, p4 };
    const section = "(d) memory, start-up";
    rows.push(
      {
        section,
        runtime,
        what: "RSS, 1 isolate (raw server's)",
        value: `${one.rss.toFixed(0)} MiB (${rawOne.rss.toFixed(0)})`,
        ratio: `${one.rss - rawOne.rss >= 0 ? "+" : ""}${(one.rss - rawOne.rss).toFixed(0)} MiB`,
        target: "≤ +12 MiB",
      },
      {
        section,
        runtime,
        what: "start → listening, 1 isolate (raw server's), median of 3 pairs",
        value: `${fmt(one.startMs)} ms (${fmt(rawOne.startMs)})`,
        ratio: `${one.startMs - rawOne.startMs >= 0 ? "+" : ""}${fmt(one.startMs - rawOne.startMs)} ms`,
        target: "≤ +60 ms",
      },
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
        what: "start → all listening (1 / threaded 2, 4 / processes 2, 4)",
        value: `${fmt(one.startMs)} / ${fmt(t2.startMs)}, ${fmt(t4.startMs)} / ${fmt(p2.startMs)}, ${
          fmt(p4.startMs)
        } ms`,
        ratio: "",
      },
    );
  }
  return rows;
}
