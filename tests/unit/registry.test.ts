/**
 * The primary's registry and what it renders, in-process: counts folded from reports
 * survive the workers that sent them, relayed threads go with their process, restarts are
 * counted per place, the Prometheus text passes `promtool`; and the access log's batching
 * and escaping, against a fake writer.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import type { LogWriter } from "../../src/adapter.ts";
import { type AccessEntry, AccessLog } from "../../src/observe/access_log.ts";
import type { StatsReport } from "../../src/observe/events.ts";
import { metricsText } from "../../src/observe/metrics.ts";
import { Registry } from "../../src/observe/registry.ts";
import { Tally } from "../../src/observe/tally.ts";
import { runtime } from "../_harness.ts";

function registry(configured = 2): Registry {
  const r = new Registry({
    runtime: "test",
    version: "0",
    pid: 1,
    configured: () => configured,
    memory: () => 0,
  });
  r.started = true;
  return r;
}

function report(requests: number, inFlight = 0): StatsReport {
  const tally = new Tally();
  for (let i = 0; i < requests; i++) tally.record("GET", 200, 0.002, 10, 20);
  tally.inFlight = inFlight;
  return tally.report(0, 1_000);
}

const spawn = (
  r: Registry,
  key: string,
  worker: string,
  kind: "process" | "thread" = "process",
  pid?: number,
) => {
  r.observe({ type: "spawn", key, worker, kind, pid, at: Date.now() });
  r.observe({ type: "state", key, state: "listening" });
};

describe(`${runtime}: registry`, () => {
  it("a worker's counts stay in the totals after it exits; its place counts a restart", () => {
    const r = registry();
    spawn(r, "1", "1", "process", 101);
    spawn(r, "2", "2", "process", 102);
    r.observe({ type: "stats", key: "1", stats: report(30) });
    r.observe({ type: "stats", key: "2", stats: report(12, 3) });
    assert.equal(r.status().totals.requests, 42);
    assert.equal(r.status().totals.inFlight, 3);
    assert.equal(r.status().totals.bytesIn, 420);
    assert.equal(r.ready, true);

    r.observe({ type: "exit", key: "1" });
    r.observe({ type: "restart", reason: "crash" });
    assert.equal(r.ready, false, "one worker short");
    assert.equal(r.status().totals.requests, 42, "the dead worker's requests stay counted");
    spawn(r, "3", "1", "process", 103);
    r.observe({ type: "stats", key: "3", stats: report(5) });
    const status = r.status();
    assert.equal(status.totals.requests, 47);
    assert.equal(status.totals.restarts.crash, 1);
    assert.deepEqual(status.rows.map((row) => [row.worker, row.pid, row.requests, row.restarts]), [
      ["1", 103, 5, 1],
      ["2", 102, 12, 0],
    ]);
    assert.equal(r.requestsByWorker.get("1"), 35, "a place's requests add up over its workers");
    assert.equal(r.ready, true);
    r.stopping = true;
    assert.equal(r.ready, false, "not ready once a stop begins");
    r.close();
  });

  it("threads relayed by a worker process go with it; only serving threads count as alive", () => {
    const r = registry(2);
    spawn(r, "1", "1", "process", 200);
    spawn(r, "1/1", "1", "thread");
    spawn(r, "1/2", "2", "thread");
    const status = r.status();
    assert.deepEqual(status.workers, { configured: 2, alive: 2 });
    assert.deepEqual(status.rows.map((row) => row.pid), [200, 200, 200], "a thread's pid is its process's");
    r.observe({ type: "exit", key: "1" });
    assert.deepEqual(r.status().rows, []);
    r.close();
  });

  it("the Prometheus text is valid (promtool) and counts what was reported", () => {
    const r = registry();
    spawn(r, "1", "1");
    const tally = new Tally();
    tally.record("GET", 200, 0.003, 0, 5);
    tally.record("GET", 200, 0.3, 0, 5);
    tally.record("BREW", 418, 12, 0, 0);
    r.observe({ type: "stats", key: "1", stats: tally.report(2, 1234) });
    const text = metricsText(r.status(), r.requestTallies, r.requestsByWorker);
    assert.match(
      text,
      /^http_server_request_duration_seconds_bucket\{http_request_method="GET",http_response_status_class="2xx",le="0.005"\} 1$/m,
    );
    assert.match(
      text,
      /^http_server_request_duration_seconds_bucket\{http_request_method="GET",http_response_status_class="2xx",le="0.5"\} 2$/m,
    );
    assert.match(
      text,
      /^http_server_request_duration_seconds_bucket\{http_request_method="_OTHER",http_response_status_class="4xx",le="10"\} 0$/m,
    );
    assert.match(
      text,
      /^http_server_request_duration_seconds_count\{http_request_method="_OTHER",http_response_status_class="4xx"\} 1$/m,
    );
    assert.match(text, /^multiserve_websockets_open 2$/m);
    const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(promtool.error, undefined, "promtool (Debian's prometheus package) must be installed");
    assert.equal(promtool.status, 0, `${promtool.stdout}${promtool.stderr}`);
    r.close();
  });
});

describe(`${runtime}: access log batching`, () => {
  const entry = (i: number, userAgent = "ua"): AccessEntry => ({
    protocol: "HTTP/1.1",
    remote: "10.0.0.1",
    method: "GET",
    target: `/item/${i}`,
    status: 200,
    bytes: 5,
    ms: 1.5,
    referer: null,
    userAgent,
    requestId: null,
  });
  const fake = () => {
    const writes: string[] = [];
    const writer: LogWriter = {
      write: (text) => new Promise((resolve) => setTimeout(() => (writes.push(text), resolve()), 1)),
      close() {},
    };
    return { writes, writer };
  };

  it("to stdout: whole lines, in pieces a pipe writes atomically; close() writes every line", async () => {
    const { writes, writer } = fake();
    const log = new AccessLog(writer, "combined", true, { worker: "1", pid: 9 });
    for (let i = 0; i < 500; i++) log.add(entry(i));
    await log.close();
    assert.ok(writes.every((piece) => piece.length <= 1365 && piece.endsWith("\n")));
    const lines = writes.join("").split("\n").slice(0, -1);
    assert.deepEqual(
      lines.map((line) => line.match(/GET \/item\/(\d+) /)![1]),
      [...Array(500).keys()].map(String),
    );
  });

  it("a quote, a backslash or a control character cannot break a line", async () => {
    const { writes, writer } = fake();
    const log = new AccessLog(writer, "combined", false, { worker: "1", pid: 9 });
    log.add(entry(1, 'evil"\\\n" 200 0 "x'));
    await log.close();
    assert.equal(writes.join("").split("\n").length, 2);
    assert.match(writes[0], /"evil\\"\\\\\\x0a\\" 200 0 \\"x"\n$/);
  });
});
