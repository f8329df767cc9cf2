/**
 * (m) HTTPS hello world in one isolate: serve() with --cert/--key against the runtime's own
 * HTTPS server, on a self-signed certificate made for the run: HTTP/1.1 with wrk, and HTTP/2
 * with h2load (Debian's nghttp2-client; the rows are left out without it), both servers
 * offering h2 by ALPN.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { freePort, tempDir } from "../../tests/_processes.ts";
import { compareIsolates, LOAD, median, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import {
  multiserve,
  pinned,
  raw,
  rawBaseline,
  type Running,
  RUNTIMES,
  start,
  stop,
  type Target,
} from "../servers.ts";

export const letter = "m";
export const title =
  "HTTPS hello, one isolate: serve() against the runtime's own HTTPS server, HTTP/1.1 and HTTP/2";

const H2LOAD = spawnSync("sh", ["-c", "command -v h2load"], { encoding: "utf8" }).stdout.trim();

/** h2load for `seconds` on CPU 1 (16 connections, 10 streams each): requests per second, and those that failed. */
function h2load(url: string, seconds: number): Promise<{ rps: number; failed: number }> {
  return new Promise((resolve, reject) => {
    const [exe, args] = pinned([H2LOAD, ["-c", "16", "-m", "10", "-D", String(seconds), url]], 1);
    const child = spawn(exe, args, { stdio: "pipe" });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    child.on("exit", () => {
      const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
      const counts = /succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
      if (rate === null || counts === null) return reject(new Error(`h2load gave no rate:\n${out}`));
      resolve({ rps: Number(rate[1]), failed: counts.slice(1).map(Number).reduce((a, b) => a + b, 0) });
    });
  });
}

/**
 * HTTP/2 over TLS with h2load, serve() against the raw server: both started afresh each round
 * (pinned to CPU 0), then alternating bursts; per-round means, as `compareIsolates` does for wrk.
 */
async function compareH2(targets: Target[], rounds: number, seconds: number) {
  const BURSTS = 2;
  const samples = targets.map(() => [] as number[]);
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    const running: Running[] = [];
    try {
      for (const target of targets) {
        const port = await freePort();
        running.push(await start(pinned(target.cmd(port), 0), port, target.env));
      }
      for (const r of running) await h2load(r.url, 1); // warm-up
      const sums = targets.map(() => 0);
      for (let burst = 0; burst < BURSTS; burst++) {
        for (const [i, r] of running.entries()) {
          const result = await h2load(r.url, Math.max(1, Math.round(seconds / 2)));
          sums[i] += result.rps / BURSTS;
          failed += result.failed;
        }
      }
      sums.forEach((sum, i) => samples[i].push(sum));
    } finally {
      for (const r of running) await stop(r);
    }
  }
  return { samples, failed };
}

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = tempDir("multiserve-bench-tls-");
  const [cert, key] = [`${dir}/cert.pem`, `${dir}/key.pem`];
  spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
  ]);
  // The raw servers read these; they also make start() give an https URL.
  const env = { BENCH_TLS_CERT: cert, BENCH_TLS_KEY: key };
  for (const runtime of RUNTIMES) {
    const baseline = rawBaseline(runtime);
    const targets = [
      { ...raw(runtime, "hello", baseline), env },
      { ...multiserve(runtime, "hello", ["--cert", cert, "--key", key], "serve()"), env },
    ];
    const r = await compareIsolates(targets, LOAD.hello, 3, seconds);
    const base = r.get(baseline)!.rounds;
    results[`m.${runtime}`] = Object.fromEntries(r);
    const { rps, rounds } = r.get("serve()")!;
    rows.push({
      section: "(m) HTTPS hello, 1 isolate",
      runtime,
      what: "serve(), --cert --key",
      value: `${fmt(rps)} req/s`,
      ratio: `${pairedRatio(rounds, base).toFixed(2)}× ${baseline} over HTTPS`,
      target: "≥ 0.90",
    });
    if (H2LOAD === "") continue;
    const h2Env = { ...env, BENCH_H2: "1" };
    const h2 = await compareH2(targets.map((target) => ({ ...target, env: h2Env })), 3, seconds);
    results[`m.${runtime}.h2`] = h2;
    rows.push({
      section: "(m) HTTPS hello over HTTP/2 (h2load), 1 isolate",
      runtime,
      what: "serve(), --cert --key",
      value: `${fmt(median(h2.samples[1]))} req/s${h2.failed ? `, ${h2.failed} failed` : ""}`,
      ratio: `${pairedRatio(h2.samples[1], h2.samples[0]).toFixed(2)}× ${baseline} over HTTP/2`,
      target: "≥ 0.90",
    });
  }
  return rows;
}
