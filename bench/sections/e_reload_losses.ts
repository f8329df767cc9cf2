/**
 * (e) SIGHUP under load from 16 clients, threaded 2 and processes 2: keep-alive (wrk) and a
 * new connection per request (with tcp_migrate_req 0 and 1 where this user may set it),
 * failed requests against all.
 *
 * @module
 */
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import process from "node:process";
import { eventually, freePort } from "../../tests/_processes.ts";
import { WARMUP_SECONDS, wrk } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { command, multiserveEntry, type Runtime, RUNTIMES, start, stop } from "../servers.ts";

export const letter = "e";
export const title = "SIGHUP under load from 16 clients";

/** Read, and where allowed set, the kernel setting that makes closing a reuseport socket lossless. */
const MIGRATE = "/proc/sys/net/ipv4/tcp_migrate_req";
function migrateSetting(value?: string): string | undefined {
  try {
    if (value !== undefined) writeFileSync(MIGRATE, value);
    return readFileSync(MIGRATE, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** `concurrency` loops of requests, each on a new connection, for `seconds`; counts failures. */
async function freshLoad(url: string, concurrency: number, seconds: number) {
  let requests = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1_000;
  const once = () =>
    new Promise<boolean>((resolve) => {
      const req = httpRequest(url, { agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
        res.on("error", () => resolve(false));
      });
      req.setTimeout(10_000, () => req.destroy());
      req.on("error", () => resolve(false));
      req.end();
    });
  const loop = async () => {
    while (performance.now() < end) {
      requests++;
      if (!(await once())) errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, errors };
}

/**
 * Load for `seconds` with 16 clients, SIGHUP a third of the way in; every request that
 * fails counts. Keep-alive load is wrk's; `fresh` opens a new connection per request
 * (our own client: wrk with "Connection: close" reports read errors against Bun even
 * without a reload).
 */
async function reloadUnderLoad(runtime: Runtime, flags: string[], fresh: boolean, seconds: number) {
  const port = await freePort();
  const app = "bench/servers/hello_app.ts";
  const running = await start(
    command(runtime, multiserveEntry(runtime), ["-p", String(port), ...flags, app]),
    port,
  );
  try {
    await wrk(running.url, 1, 16, WARMUP_SECONDS);
    const load = fresh ? freshLoad(running.url, 16, seconds) : wrk(running.url, 1, 16, seconds);
    // A third of the load before the reload and two during and after it.
    await new Promise((r) => setTimeout(r, (seconds * 1_000) / 3));
    const sent = performance.now();
    process.kill(running.child.pid!, "SIGHUP");
    // Polled every 5 ms: the wait is the reload time reported.
    await eventually(() => /reload done/.test(running.output()), "the reload", 20_000, 5);
    const reloadMs = performance.now() - sent;
    const { requests, errors } = await load;
    return { requests, errors, reloadMs };
  } finally {
    await stop(running);
  }
}

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  // Fresh connections meet the kernel's tcp_migrate_req (see docs/supervision.md): measured both
  // ways when this user may set it, and put back as found.
  const found = migrateSetting();
  const settings = found === undefined ? [] : migrateSetting(found) === found ? ["0", "1"] : [found];
  console.error(`  tcp_migrate_req: ${found ?? "not on this OS"}`);
  try {
    for (const runtime of RUNTIMES) {
      for (const [mode, flags] of [["threaded 2", ["-t", "2"]], ["processes 2", ["-w", "2"]]] as const) {
        for (const variant of ["keep-alive", ...settings.map((v) => `fresh, tcp_migrate_req=${v}`)]) {
          const fresh = variant !== "keep-alive";
          if (fresh) migrateSetting(variant.slice(-1));
          const r = await reloadUnderLoad(runtime, [...flags], fresh, seconds);
          results[`e.${runtime}.${mode}.${variant}`] = r;
          console.error(`  ${runtime} ${mode}, ${variant}: ${r.errors} of ${r.requests} failed`);
          rows.push({
            section: "(e) SIGHUP under load, 16 clients",
            runtime,
            what: `${mode}, ${
              fresh ? `new connection per request, ${variant.slice(7)}` : "keep-alive (wrk)"
            }: failed / all`,
            value: `${r.errors} / ${r.requests} (reload took ${fmt(r.reloadMs)} ms)`,
            ratio: `${((r.errors / Math.max(1, r.requests)) * 100).toFixed(3)} % failed`,
            target: "0",
          });
        }
      }
    }
  } finally {
    if (found !== undefined) migrateSetting(found);
  }
  return rows;
}
