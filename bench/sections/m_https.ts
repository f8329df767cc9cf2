/**
 * (m) HTTPS hello world in one isolate: serve() with --cert/--key against the runtime's own
 * HTTPS server, on a self-signed certificate made for the run.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { multiserve, raw, rawBaseline, RUNTIMES } from "../servers.ts";

export const letter = "m";
export const title = "HTTPS hello, one isolate: serve() against the runtime's own HTTPS server";

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(`${tmpdir()}/multiserve-bench-tls-`);
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
  }
  return rows;
}
