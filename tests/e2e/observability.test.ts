/**
 * Observability: the access log (every request a line, in each format, our refusals with
 * their status, none lost on a graceful stop), the lifecycle log's levels and JSON lines,
 * and the admin endpoint: Prometheus metrics summed over workers and never going down
 * (checked with `promtool`), `/readyz` turning 503 at once on SIGTERM while requests
 * finish, and the status page in a real browser.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect as connectHttp2 } from "node:http2";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import {
  Child,
  cliTs,
  eventually,
  fetchFresh,
  fixture,
  freePort,
  LOSSLESS,
  MODES,
  root,
  runtime,
  startServer,
  tempDir,
} from "../_harness.ts";
import { adminUrlOf, metrics, sum } from "../_admin.ts";
import { certificate, certificateDir } from "../_certificates.ts";

const MODES_OBSERVED = [MODES[1], MODES[2]];

/** One access log line, read back field by field. */
interface Line {
  remote: string;
  method: string;
  target: string;
  status: number;
  referer?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  worker?: string;
}

const unescape = (text: string) =>
  text.replace(
    /\\x([0-9a-f]{2})|\\(["\\])/g,
    (_, hex, c) => hex ? String.fromCharCode(parseInt(hex, 16)) : c,
  );
const QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`;
const COMMON = String
  .raw`^(\S+) - - \[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "(?:(\S+) (\S+) HTTP/1\.1|-)" (\d{3}) (\d+|-)`;

function parse(format: string, text: string): Line {
  if (format === "json") {
    const o = JSON.parse(text);
    assert.ok(!Number.isNaN(Date.parse(o.time)), text);
    assert.equal(typeof o.pid, "number");
    assert.equal(typeof o.ms, "number");
    assert.equal(o.protocol, "HTTP/1.1");
    return o;
  }
  const match = text.match(
    new RegExp(format === "combined" ? `${COMMON} ${QUOTED} ${QUOTED}$` : `${COMMON}$`),
  );
  assert.ok(match, `a ${format} line: ${text}`);
  const dash = (value: string) => value === "-" ? null : unescape(value);
  return {
    remote: match[1],
    method: match[3] ?? "",
    target: match[4] ?? "",
    status: Number(match[5]),
    ...(format === "combined" ? { referer: dash(match[7]), userAgent: dash(match[8]) } : {}),
  };
}

describe(`${runtime}: access log`, { concurrency: 3 }, () => {
  // combined (the default) in both modes; the other formats differ only in the line they write.
  const cases = [[MODES[1], "combined"], [MODES[2], "combined"], [MODES[1], "common"], [
    MODES[2],
    "json",
  ]] as const;
  for (const [mode, format] of cases) {
    it(`every request is one ${format} line, refusals too, none lost on SIGTERM (${mode.name})`, async () => {
      const file = join(tempDir("multiserve-access-"), "access.log");
      const { child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...mode.args,
        `--access-log=${file}`,
        "--access-log-format",
        format,
        "--max-body-size",
        "16",
        "--max-header-size",
        "2048",
        fixture("app.ts"),
      ]);
      try {
        const N = 60;
        const replies = await Promise.all(
          Array.from({ length: N }, (_, i) =>
            fetchFresh(`${url}token?i=${i}`, {
              headers: {
                "user-agent": `agent ${i} "quoted" \\`,
                referer: `http://example.test/${i}`,
                "x-request-id": `req-${i}`,
              },
            })),
        );
        assert.deepEqual(replies.map((r) => r.status), Array(N).fill(200));
        const tooLarge = await fetchFresh(`${url}echo`, { method: "POST", body: new Uint8Array(100) });
        assert.equal(tooLarge.status, 413);
        assert.equal(
          (await fetchFresh(`${url}token`, { headers: { "x-big": "a".repeat(4096) } })).status,
          431,
        );
        // At once: the lines of the burst must survive the stop.
        child.signal("SIGTERM");
        assert.equal((await child.exit()).code, 0, child.stderr);

        const text = readFileSync(file, "utf8");
        const lines = text.split("\n").filter((line) => line !== "").map((line) => parse(format, line));
        assert.equal(lines.length, N + 2, `${N} requests and 2 refusals, a line each:\n${text}`);
        const served = lines.filter((line) => line.status === 200);
        const index = (line: Line) => Number(line.target.slice("/token?i=".length));
        assert.deepEqual(served.map(index).sort((a, b) => a - b), [...Array(N).keys()]);
        for (const line of served) {
          assert.equal(line.remote, "127.0.0.1");
          assert.equal(line.method, "GET");
          if (format !== "common") {
            assert.equal(line.userAgent, `agent ${index(line)} "quoted" \\`);
            assert.equal(line.referer, `http://example.test/${index(line)}`);
          }
          if (format === "json") {
            assert.equal(line.requestId, `req-${index(line)}`);
            assert.match(line.worker!, /^[12]$/);
          }
        }
        const refused = lines.find((line) => line.status === 413);
        assert.ok(refused, "the 413 is logged");
        assert.equal(refused.method, "POST");
        assert.equal(refused.target, "/echo");
        assert.ok(lines.some((line) => line.status === 431), "the 431 is logged");
      } finally {
        child.killTree();
      }
    });
  }
});

describe(`${runtime}: response bytes`, () => {
  // Node's response classes count what they send; Deno's and Bun's servers write the body out
  // of reach, so there only a declared Content-Length is known and the metric is left out.
  const counts = runtime === "node";
  it(
    counts ? "are those sent, in the log and /metrics" : "are those declared, and /metrics leaves them out",
    async () => {
      const file = join(tempDir("multiserve-access-"), "access.log");
      const { child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...MODES[2].args,
        "--admin-port",
        "0",
        `--access-log=${file}`,
        fixture("app.ts"),
      ]);
      try {
        const admin = adminUrlOf(child);
        const sent = {
          "/headers": (await fetchFresh(`${url}headers`)).body.length, // a string, no length declared
          "/stream": (await fetchFresh(`${url}stream`)).body.length, // five chunks
          "/echo": (await fetchFresh(`${url}echo`, { method: "POST", body: new Uint8Array(10) })).body.length,
          "/token": (await fetchFresh(`${url}token`)).body.length, // Response.json
        };
        assert.deepEqual(Object.values(sent).slice(0, 3), [7, 40, 10]);
        assert.equal((await fetchFresh(`${url}headers`, { method: "HEAD" })).body.length, 0);
        await eventually(() => readFileSync(file, "utf8").trim().split("\n").length === 5, "five lines");
        const text = readFileSync(file, "utf8");
        const bytesOf = (method: string, target: string) =>
          text.match(new RegExp(`"${method} ${target} HTTP/1\\.1" \\d{3} (\\d+|-)`))?.[1];
        for (const [target, length] of Object.entries(sent)) {
          assert.equal(
            bytesOf(target === "/echo" ? "POST" : "GET", target),
            counts ? String(length) : "-",
            text,
          );
        }
        assert.equal(bytesOf("HEAD", "/headers"), counts ? "0" : "-", text);
        const total = Object.values(sent).reduce((a, b) => a + b);
        await eventually(async () => {
          const exposed = await metrics(admin);
          if (!counts) return !exposed.includes("http_server_response_body_bytes_total");
          return sum(exposed, "http_server_response_body_bytes_total") === total;
        }, counts ? `${total} bytes in /metrics` : "no sent-bytes metric");
      } finally {
        child.signal("SIGTERM");
        await child.exit();
      }
    },
  );
});

// Bun does not say which protocol a request came by: its lines say HTTP/1.1 (docs/observability.md).
if (runtime !== "bun") {
  describe(`${runtime}: access log over HTTP/2`, () => {
    it("names each request's protocol: HTTP/2.0 for a stream, HTTP/1.1 for the rest", async () => {
      const { cert, key } = certificate(certificateDir(), "access");
      const file = join(tempDir("multiserve-access-"), "access.log");
      // On Deno the protocol is known where multiserve takes the TLS handshake itself (LOSSLESS);
      // Deno.serve does not say.
      const { child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...LOSSLESS,
        "--cert",
        cert,
        "--key",
        key,
        `--access-log=${file}`,
        fixture("app.ts"),
      ]);
      try {
        const session = connectHttp2(url, { ca: readFileSync(cert, "utf8") });
        let h2Bytes = 0;
        await new Promise<void>((resolve, reject) => {
          const stream = session.request({ ":path": "/token?over=h2" });
          stream.on("response", () => {});
          stream.on("data", (chunk: Uint8Array) => h2Bytes += chunk.length);
          stream.on("end", resolve);
          stream.on("error", reject);
          stream.end();
        });
        session.close();
        await new Promise<void>((resolve, reject) =>
          httpsRequest(`${url}token?over=h1`, { ca: readFileSync(cert, "utf8"), agent: false }, (res) => {
            res.resume();
            res.on("end", resolve);
          }).on("error", reject).end()
        );
        await eventually(() => (readFileSync(file, "utf8").match(/over=/g) ?? []).length === 2, "two lines");
        const text = readFileSync(file, "utf8");
        assert.match(text, /"GET \/token\?over=h2 HTTP\/2\.0" 200/);
        // Node counts what an HTTP/2 stream sent too.
        if (runtime === "node") assert.match(text, new RegExp(`over=h2 HTTP/2\\.0" 200 ${h2Bytes} `));
        assert.match(text, /"GET \/token\?over=h1 HTTP\/1\.1" 200/);
      } finally {
        child.signal("SIGTERM");
        await child.exit();
      }
    });
  });
}

describe(`${runtime}: lifecycle log`, { concurrency: 2 }, () => {
  it("--log-format json: one object per line, with the worker and its pid", async () => {
    const args = ["-p", "0", ...MODES[2].args, "--log-format", "json", fixture("app.ts")];
    const { child } = await startServer(cliTs, args);
    child.signal("SIGTERM");
    assert.equal((await child.exit()).code, 0);
    const lines = child.stderr.trim().split("\n").map((line) => JSON.parse(line));
    const started = lines.filter((line) => /^process \d \(pid \d+\) started$/.test(line.message));
    assert.equal(started.length, 2, child.stderr);
    for (const line of started) {
      assert.equal(line.level, "info");
      assert.match(line.worker, /^[12]$/);
      assert.ok(line.message.includes(`pid ${line.pid}`));
      assert.ok(!Number.isNaN(Date.parse(line.time)));
    }
    // One stream of JSON: the start-up line too, and nothing on stdout.
    assert.ok(lines.some((line) => /^listening on http:\/\//.test(line.message)), child.stderr);
    assert.equal(child.stdout, "");
  });

  it("--log-level warning: no start-up or stop lines, a crash still shown", async () => {
    const port = await freePort();
    const args = ["-p", String(port), ...MODES[2].args, "--log-level", "warning", fixture("app.ts")];
    const child = new Child(cliTs, args);
    try {
      // Nothing says when it serves: ask until it does.
      const url = `http://127.0.0.1:${port}/`;
      await eventually(
        async () => (await fetchFresh(`${url}token`).catch(() => undefined))?.status === 200,
        "the server",
        15_000,
      );
      assert.equal((await fetchFresh(`${url}crash`)).status, 202);
      await child.waitFor(/exited unexpectedly/);
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0);
      assert.equal(child.stdout, "");
      assert.doesNotMatch(child.stderr, /started|ready|stopping gracefully/);
    } finally {
      child.killTree();
    }
  });
});

describe(`${runtime}: admin endpoint`, { concurrency: 2 }, () => {
  for (const mode of MODES_OBSERVED) {
    it(`/metrics sums every worker, never goes down, counts restarts; /readyz 503 on SIGTERM (${mode.name})`, async () => {
      const args = ["-p", "0", ...mode.args, "--admin-port", "0", fixture("app.ts")];
      const { child, url } = await startServer(cliTs, args);
      const admin = adminUrlOf(child);
      try {
        assert.equal((await fetchFresh(`${admin}healthz`)).status, 200);
        assert.equal((await fetchFresh(`${admin}readyz`)).status, 200);
        for (let round = 0; round < 25; round++) {
          const replies = await Promise.all(Array.from({ length: 8 }, () => fetchFresh(`${url}token`)));
          assert.ok(replies.every((r) => r.status === 200));
        }
        let text = "";
        await eventually(async () => {
          text = await metrics(admin);
          return sum(text, "http_server_request_duration_seconds_count") >= 200;
        }, "200 requests counted");
        assert.equal(
          sum(text, "http_server_request_duration_seconds_count", 'status_class="2xx"'),
          200,
          text,
        );
        assert.equal(sum(text, "multiserve_worker_requests_total"), 200);
        assert.equal(sum(text, "multiserve_workers_alive"), 2);
        const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
        assert.equal(promtool.error, undefined, "promtool (Debian's prometheus package) must be installed");
        assert.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);

        // A worker dies (killed, or a thread crashing): its counts stay, its restart is counted,
        // its place is filled.
        if (mode === MODES[2]) {
          const { rows } = JSON.parse((await fetchFresh(`${admin}status`)).text);
          process.kill(rows[0].pid, "SIGKILL");
        } else assert.equal((await fetchFresh(`${url}crash`)).status, 202);
        await eventually(
          async () => {
            text = await metrics(admin);
            const total = sum(text, "http_server_request_duration_seconds_count");
            assert.ok(total >= 200, `the request counter went down to ${total}`);
            return sum(text, "multiserve_worker_restarts_total", 'reason="crash"') === 1 &&
              sum(text, "multiserve_workers_alive") === 2;
          },
          "the crash counted and the worker replaced",
          15_000,
        );
        const status = JSON.parse((await fetchFresh(`${admin}status`)).text);
        assert.equal(status.totals.restarts.crash, 1);
        const restarted = status.rows.filter((row: { restarts: number }) => row.restarts === 1);
        assert.equal(restarted.length, 1, JSON.stringify(status.rows));
        assert.equal((await fetchFresh(`${admin}metrics`, { method: "POST" })).status, 405);

        // A rolling reload: counted once, and each replaced worker as a restart by reload.
        const reloaded = child.mark();
        child.signal("SIGHUP");
        await child.waitFor(/reload done/, 20_000, reloaded);
        await eventually(
          async () => {
            text = await metrics(admin);
            return sum(text, "multiserve_worker_restarts_total", 'reason="reload"') === 2;
          },
          "the reload counted",
          15_000,
        );
        assert.equal(sum(text, "multiserve_reloads_total"), 1);
        assert.ok(sum(text, "http_server_request_duration_seconds_count") >= 200);

        // Stopping: not ready at once, while the request in flight finishes.
        const mark = child.mark();
        const slow = fetchFresh(`${url}slow?ms=1500`);
        await child.waitFor(/slow request started/, 10_000, mark);
        child.signal("SIGTERM");
        const signalled = Date.now();
        let notReadyAfter = Infinity;
        while (Date.now() - signalled < 1_000) {
          const reply = await fetchFresh(`${admin}readyz`).catch(() => undefined);
          if (reply?.status === 503) {
            notReadyAfter = Date.now() - signalled;
            break;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.ok(notReadyAfter <= 100, `/readyz said 503 only ${notReadyAfter} ms after SIGTERM`);
        const reply = await slow;
        assert.equal(reply.status, 200);
        assert.equal(reply.text, "slept 1500");
        assert.equal((await child.exit()).code, 0, child.stderr);
      } finally {
        child.killTree();
      }
    });
  }

  for (
    const [mode, shape, what] of [[MODES[2], "processes", "a replaced worker's pid"], [
      MODES[3],
      "threads",
      "threads under their process, which shows their sums",
    ]] as const
  ) {
    it(`the status page, in Chromium at 1200 and 390 px: a row per worker, live counts, ${what} (${mode.name})`, async () => {
      const args = ["-p", "0", ...mode.args, "--admin-port", "0", fixture("app.ts")];
      const { child, url } = await startServer(cliTs, args);
      try {
        const screenshot = join(tmpdir(), `multiserve-status-page-${runtime}-${shape}.png`);
        // Always under Node (playwright-core's home), whatever runtime serves.
        const script = [join(root, "tests/_status_page.ts"), adminUrlOf(child), url, screenshot, shape];
        const browser = new Child("node", script, {}, undefined, { program: true });
        const { code } = await browser.exit(60_000);
        assert.equal(code, 0, `${browser.stdout}${browser.stderr}\n(screenshot: ${screenshot})`);
      } finally {
        child.killTree();
      }
    });
  }
});
