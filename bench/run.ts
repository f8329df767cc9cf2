/**
 * `npm run bench`: multiserve against the raw runtime servers and the peers, all in one
 * run, on each runtime, with wrk as the client. Prints a markdown table, writes it and the
 * JSON to bench/results/, and puts the table into docs/benchmark.md between the bench markers.
 * Each section is a module of bench/sections/; this file chooses, runs and writes them.
 *
 * Ratios are what to read: this machine is shared and noisy, absolute numbers are not.
 * Set BENCH_SECONDS to lengthen each measurement (default 5), BENCH_ONLY=a,c to run only
 * those sections (docs/benchmark.md is then left alone).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { LOAD, requireWrk } from "./measure.ts";
import type { Row, Section } from "./section.ts";
import * as hello from "./sections/a_hello.ts";
import * as cpuRoute from "./sections/b_cpu_route.ts";
import * as denoParallel from "./sections/c_deno_parallel.ts";
import * as memoryStartup from "./sections/d_memory_startup.ts";
import * as reloadLosses from "./sections/e_reload_losses.ts";
import * as replacement from "./sections/f_replacement.ts";
import * as browserHeaders from "./sections/g_browser_headers.ts";
import * as forwardedHttps from "./sections/h_forwarded_https.ts";
import * as websocketEcho from "./sections/i_websocket_echo.ts";
import * as bulkBytes from "./sections/j_bulk_bytes.ts";
import * as stageCosts from "./sections/k_stage_costs.ts";
import * as observing from "./sections/l_observing.ts";
import * as https from "./sections/m_https.ts";
import * as behindNginx from "./sections/n_behind_nginx.ts";
import * as pubsubFanout from "./sections/o_pubsub_fanout.ts";
import * as proxyProtocol from "./sections/p_proxy_protocol.ts";
import * as peers from "./sections/q_peers.ts";
import { bin, HAS_TASKSET, root } from "./servers.ts";

/**
 * Every section, in the order they run and their rows appear: alphabetical. Each starts its
 * own servers and stops them (and all they started) before the next, and (e) puts the kernel
 * setting it changes back, so none leaves anything behind for another; no measurement has shown
 * an order to matter.
 */
const SECTIONS: readonly Section[] = [
  hello,
  cpuRoute,
  denoParallel,
  memoryStartup,
  reloadLosses,
  replacement,
  browserHeaders,
  forwardedHttps,
  websocketEcho,
  bulkBytes,
  stageCosts,
  observing,
  https,
  behindNginx,
  pubsubFanout,
  proxyProtocol,
  peers,
];

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ONLY = process.env.BENCH_ONLY?.split(",");

async function main() {
  const unknown = ONLY?.filter((letter) => !SECTIONS.some((s) => s.letter === letter)) ?? [];
  if (unknown.length > 0) {
    console.error(
      `BENCH_ONLY: no section ${unknown.join(", ")} (there are ${SECTIONS.map((s) => s.letter).join(", ")})`,
    );
    process.exit(1);
  }
  requireWrk();
  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  const json = {
    date: new Date().toISOString(),
    seconds: SECONDS,
    cpus: navigator.hardwareConcurrency,
    load: LOAD,
    results,
  };
  for (const section of SECTIONS) {
    if (ONLY !== undefined && !ONLY.includes(section.letter)) continue;
    console.error(`(${section.letter}) ${section.title}`);
    rows.push(...await section.run({ seconds: SECONDS, results }));
  }

  const table = [
    `Measured ${json.date} on ${json.cpus} CPUs, wrk on the same machine, ${SECONDS} s per run; (a): servers pinned to CPU 0 and wrk to CPU 1${
      HAS_TASKSET ? "" : " (taskset missing: not pinned)"
    }, median of 3 fresh starts × 4 alternating bursts.`,
    "",
    "| section | runtime | what | result | ratio | target |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.section} | ${r.runtime} | ${r.what} | ${r.value} | ${r.ratio} | ${r.target ?? ""} |`
    ),
  ].join("\n");
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/latest.json`, JSON.stringify(json, null, 2) + "\n");
  writeFileSync(`${root}bench/results/latest.md`, table + "\n");
  const page = readFileSync(`${root}docs/benchmark.md`, "utf8");
  const marked = /<!-- bench:start -->[\s\S]*<!-- bench:end -->/;
  // Only a full run replaces the page's table: a partial one would drop the other sections' rows.
  if (marked.test(page) && ONLY === undefined) {
    writeFileSync(
      `${root}docs/benchmark.md`,
      page.replace(marked, `<!-- bench:start -->\n${table}\n<!-- bench:end -->`),
    );
    spawnSync(bin("deno"), ["fmt", "docs/benchmark.md"], { cwd: root }); // keep npm test's format check green
  }
  console.log(table);
}

await main();
