/**
 * Behind Debian's real nginx, as the README advises: an upstream with keep-alive
 * connections (`proxy_http_version 1.1`, `Connection ""`, `keepalive 16`), forwarding the
 * client and the scheme it was reached by. The app sees the client nginx names (not nginx)
 * and an https URL; a rolling reload (SIGHUP) and recycling (`--max-requests`) under load
 * through nginx fail no request.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import { Child, eventually, fixture, MODES, modTs, runtime, startServer } from "./_harness.ts";

const NGINX =
  spawnSync("sh", ["-c", "command -v nginx || ls /usr/sbin/nginx"], { encoding: "utf8" }).stdout.trim()
    .split("\n")[0];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** nginx in front of `upstream` ("127.0.0.1:PORT" or "unix:PATH"), on a port of its own, until `stop()`. */
async function nginx(upstream: string): Promise<{ url: string; stop(): Promise<void>; log(): string }> {
  assert.ok(NGINX, "nginx (Debian's package) must be installed: .ci/run installs it");
  const dir = mkdtempSync(join(tmpdir(), "multiserve-nginx-"));
  for (const sub of ["body", "proxy"]) mkdirSync(join(dir, sub));
  const port = await freePort();
  const root = process.getuid?.() === 0 ? "user root;" : "";
  writeFileSync(
    join(dir, "nginx.conf"),
    `${root}
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  upstream app {
    server ${upstream};
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      # As if nginx had terminated TLS for the client.
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
`,
  );
  const child: ChildProcess = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 10_000;
  while ((await get(url, "/token").catch(() => undefined)) === undefined) {
    if (Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    log: () => stderr,
    async stop() {
      child.kill("SIGQUIT");
      await exited;
    },
  };
}

interface Reply {
  status: number;
  text: string;
}

/** One request to `url` + `path` on a new connection, from 127.0.0.2 (so nginx's client is not nginx). */
function get(url: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { agent: false, localAddress: "127.0.0.2" }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", reject);
    req.end();
  });
}

/** Requests through nginx from `loops` clients until stopped: every outcome counted. */
function load(url: string, loops = 4) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const tokens = new Set<string>();
  const loop = async () => {
    while (running) {
      try {
        const reply = await get(url, "/token");
        if (reply.status === 200) {
          ok++;
          tokens.add(JSON.parse(reply.text).token);
        } else failures.push(`${reply.status} ${reply.text}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const all = Array.from({ length: loops }, loop);
  return {
    done: () => ok,
    async stop() {
      running = false;
      await Promise.all(all);
      return { ok, failures, tokens };
    },
  };
}

describe(`${runtime}: behind nginx`, { concurrency: 2 }, () => {
  for (const mode of [MODES[1], MODES[2]]) {
    it(`the client and scheme nginx forwards reach the app; SIGHUP under load through nginx fails nothing (${mode.name})`, async () => {
      const { child, url: direct } = await startServer(modTs, ["-p", "0", ...mode.args, fixture("app.ts")]);
      const proxy = await nginx(new URL(direct).host);
      try {
        const seen = JSON.parse((await get(proxy.url, "/token")).text);
        assert.equal(seen.remote.hostname, "127.0.0.2", "the client nginx names");
        assert.equal(seen.peer.hostname, "127.0.0.1", "the peer is nginx");
        assert.equal(seen.url, "https://127.0.0.1/token", "the scheme and host nginx was reached by");

        const traffic = load(proxy.url);
        await eventually(() => traffic.done() >= 50, "load through nginx");
        const mark = child.mark();
        child.signal("SIGHUP");
        await child.waitFor(/reload done/, 20_000, mark);
        await eventually(
          () => child.count(/exited \(exit code 0; reloaded\)/g) >= 2,
          "the old workers' exit",
          20_000,
        );
        const after = traffic.done();
        await eventually(() => traffic.done() >= after + 50, "load after the reload");
        const { ok, failures, tokens } = await traffic.stop();
        assert.deepEqual(
          failures,
          [],
          `${failures.length} of ${ok + failures.length} failed\n${proxy.log()}`,
        );
        assert.ok(tokens.size >= 3, "old and new workers both answered");
      } finally {
        await proxy.stop();
        child.killTree();
      }
    });
  }

  it(`a unix-socket upstream (${runtime === "node" ? "processes 2" : "one isolate"}): served, the client and scheme forwarded`, async () => {
    const path = join(mkdtempSync(join(tmpdir(), "multiserve-nginx-unix-")), "app.sock");
    const args = ["--bind", `unix:${path}`, ...(runtime === "node" ? MODES[2].args : []), fixture("app.ts")];
    const child = new Child(modTs, args);
    await child.waitFor(/listening on unix:/);
    const proxy = await nginx(`unix:${path}`);
    try {
      for (let i = 0; i < 30; i++) {
        const reply = await get(proxy.url, "/token");
        assert.equal(reply.status, 200, reply.text);
        const seen = JSON.parse(reply.text);
        assert.equal(seen.remote.hostname, "127.0.0.2", "a unix socket's peer is believed");
        assert.equal(seen.url, "https://127.0.0.1/token");
      }
    } finally {
      await proxy.stop();
      child.killTree();
    }
  });

  it("recycling under load through nginx fails nothing", async () => {
    const args = ["-p", "0", ...MODES[2].args, "--max-requests", "150", fixture("app.ts")];
    const { child, url: direct } = await startServer(modTs, args);
    const proxy = await nginx(new URL(direct).host);
    try {
      const traffic = load(proxy.url);
      await eventually(
        () => child.count(/exited \(exit code 0; recycled after \d+ requests\)/g) >= 3,
        "3 recycled workers",
        40_000,
      );
      const { ok, failures } = await traffic.stop();
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} failed\n${proxy.log()}`);
    } finally {
      await proxy.stop();
      child.killTree();
    }
  });
});
