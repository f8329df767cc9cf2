/**
 * (f) A worker's death to its replacement listening: threaded 2 (an uncaught error) and
 * processes 2 (SIGKILL), median of 3.
 *
 * @module
 */
import process from "node:process";
import { descendants, eventually, freePort } from "../../tests/_processes.ts";
import { median } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { command, multiserveEntry, type Runtime, RUNTIMES, start, stop } from "../servers.ts";

export const letter = "f";
export const title = "a worker's death → its replacement listening";

/** Time from a worker's death (SIGKILL, or an uncaught error) to its replacement listening. */
async function replacementMs(runtime: Runtime, flags: string[]): Promise<number> {
  const port = await freePort();
  const app = "bench/servers/crashable_app.ts";
  const running = await start(
    command(runtime, multiserveEntry(runtime), ["-p", String(port), ...flags, app]),
    port,
  );
  try {
    const ready = () => running.output().match(/\) ready/g)?.length ?? 0;
    const before = ready();
    const died = performance.now();
    if (flags.includes("-w")) process.kill(descendants(running.child.pid!)[0], "SIGKILL");
    else await fetch(`${running.url}crash`).then((r) => r.text());
    // Polled every 5 ms: the wait is the time reported.
    await eventually(() => ready() > before, "the replacement", 20_000, 5);
    return performance.now() - died;
  } finally {
    await stop(running);
  }
}

export async function run({ results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  for (const runtime of RUNTIMES) {
    for (
      const [mode, flags, how] of [
        ["threaded 2", ["-t", "2"], "uncaught error"],
        ["processes 2", ["-w", "2"], "SIGKILL"],
      ] as const
    ) {
      const samples = [];
      for (let i = 0; i < 3; i++) samples.push(await replacementMs(runtime, [...flags]));
      results[`f.${runtime}.${mode}`] = samples;
      console.error(`  ${runtime} ${mode}: ${samples.map(fmt).join(", ")} ms`);
      rows.push({
        section: "(f) death → replacement listening",
        runtime,
        what: `${mode}, ${how} (median of 3)`,
        value: `${fmt(median(samples))} ms`,
        ratio: "peers: not replaced",
        target: "< 3000 ms",
      });
    }
  }
  return rows;
}
