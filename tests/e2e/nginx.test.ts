/**
 * Behind Debian's real nginx, as docs/deploying.md advises: an upstream with keep-alive
 * connections (`proxy_http_version 1.1`, `Connection ""`, `keepalive 16`), forwarding the
 * client and the scheme it was reached by. The app sees the client nginx names (not nginx)
 * and an https URL; a rolling reload (SIGHUP) and recycling (`--max-requests`) under load
 * through nginx fail no request.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { describe, it } from "node:test";
import {
  Child,
  eventually,
  fetchFresh,
  fixture,
  freePort,
  LOSSLESS,
  MODES,
  modTs,
  reloadAndDrain,
  runtime,
  tempDir,
} from "../_harness.ts";
import { canMakeHosts, makeHost } from "../_hosts.ts";

const NGINX =
  spawnSync("sh", ["-c", "command -v nginx || ls /usr/sbin/nginx"], { encoding: "utf8" }).stdout.trim()
    .split("\n")[0];

/**
 * nginx in front of `upstream` ("127.0.0.1:PORT", "unix:PATH", or several servers, each
 * tried in turn when one refuses), on a port of its own, until `stop()`.
 */
async function nginx(
  upstream: string | string[],
): Promise<{ url: string; stop(): Promise<void>; log(): string }> {
  const servers = (Array.isArray(upstream) ? upstream : [upstream]).map((server) => `server ${server};`).join(
    "\n    ",
  );
  assert.ok(NGINX, "nginx (Debian's package) must be installed: .ci/run installs it");
  const dir = tempDir("multiserve-nginx-");
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
    ${servers}
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
    log: () =>
      `${stderr}${
        existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8").slice(0, 3000) : ""
      }`,
    async stop() {
      child.kill("SIGQUIT");
      await exited;
    },
  };
}

/**
 * multiserve with `args` on host `n` of this runtime (a network namespace with
 * tcp_migrate_req on, as docs/supervision.md advises for reloads), for nginx to reach at `upstream`.
 */
async function onHost(n: number, args: string[]) {
  const net = { deno: 201, bun: 202, node: 203 }[runtime];
  const name = `ms${n}-${runtime}`;
  const host = makeHost(name, net, n);
  const child = new Child(
    modTs,
    [
      ...[
        "--host",
        host.address,
        "-p",
        "8000",
        "--keep-alive-timeout",
        "75",
        "--forwarded-allow-ips",
        "10.0.0.0/8",
      ],
      ...LOSSLESS,
      ...args,
      fixture("app.ts"),
    ],
    {},
    undefined,
    { wrap: ["ip", "netns", "exec", name] },
  );
  try {
    await child.waitFor(/listening on/);
  } catch (error) {
    host.remove();
    throw error;
  }
  return {
    child,
    upstream: `${host.address}:8000`,
    nginxAddress: `10.${net}.${n}.1`,
    remove() {
      child.killTree();
      host.remove();
    },
  };
}

/** One request to `url` + `path` on a new connection, from 127.0.0.2 (so nginx's client is not nginx). */
const get = (url: string, path: string, localAddress: string | null = "127.0.0.2") =>
  fetchFresh(new URL(path, url).href, { localAddress: localAddress ?? undefined });

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
    /** Has an isolate with this token answered through nginx? */
    seen: (token: string) => tokens.has(token),
    async stop() {
      running = false;
      await Promise.all(all);
      return { ok, failures, tokens };
    },
  };
}

describe(`${runtime}: behind nginx`, { concurrency: 2 }, () => {
  for (const mode of [MODES[1], MODES[2]]) {
    it(`the client and scheme nginx forwards reach the app; SIGHUP under load through nginx fails nothing (${mode.name})`, async (t) => {
      if (!canMakeHosts) return void t.skip("needs root and iproute2 for a host with tcp_migrate_req on");
      const host = await onHost(mode === MODES[1] ? 3 : 4, [...mode.args]);
      const { child } = host;
      const proxy = await nginx(host.upstream).catch((error) => {
        host.remove();
        throw error;
      });
      let started: ReturnType<typeof load> | undefined;
      try {
        const seen = JSON.parse((await get(proxy.url, "/token")).text);
        assert.equal(seen.remote.hostname, "127.0.0.2", "the client nginx names");
        assert.equal(seen.peer.hostname, host.nginxAddress, "the peer is nginx");
        assert.equal(seen.url, "https://127.0.0.1/token", "the scheme and host nginx was reached by");

        const traffic = started = load(proxy.url);
        await eventually(() => traffic.done() >= 50, "load through nginx");
        await reloadAndDrain(child);
        const after = traffic.done();
        await eventually(() => traffic.done() >= after + 50, "load after the reload");
        const { ok, failures, tokens } = await traffic.stop();
        assert.deepEqual(
          failures,
          [],
          `${failures.length} of ${ok + failures.length} failed\n${proxy.log()}`,
        );
        // nginx's few upstream keep-alive connections may all have reached one worker of each
        // generation: two isolates at least, an old one and a new one.
        assert.ok(tokens.size >= 2, `old and new workers both answered: ${[...tokens]}`);
      } finally {
        await started?.stop(); // a failed wait must not leave the loops running
        await proxy.stop();
        host.remove();
      }
    });
  }

  it(`a unix-socket upstream (${runtime === "node" ? "processes 2" : "one isolate"}): served, the client and scheme forwarded`, async () => {
    const path = join(tempDir("multiserve-nginx-unix-"), "app.sock");
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

  it("two hosts behind one nginx: stopping and restarting each in turn under load fails nothing", async (t) => {
    if (!canMakeHosts) return void t.skip("needs root and iproute2 to make network namespaces for the hosts");
    const net = { deno: 201, bun: 202, node: 203 }[runtime];
    const names = [`msa-${runtime}`, `msb-${runtime}`];
    const hosts = names.map((name, i) => makeHost(name, net, i + 1));
    // As docs/deploying.md advises: idle upstream connections outlive nginx's keepalive_timeout (60 s),
    // so that nginx never sends on one a host is closing (with two servers, one such error
    // would leave a host out for fail_timeout).
    const start = async (i: number) => {
      const args = [
        ...["--host", hosts[i].address, "-p", "8000", "--keep-alive-timeout", "75"],
        ...["--forwarded-allow-ips", "10.0.0.0/8", ...LOSSLESS, fixture("app.ts")],
      ];
      const child = new Child(modTs, args, {}, undefined, { wrap: ["ip", "netns", "exec", names[i]] });
      const url = (await child.waitFor(/listening on (http:\/\/\S+)/))[1];
      return { child, token: JSON.parse((await get(url, "/token", null)).text).token as string };
    };
    const servers: { child: Child; token: string }[] = [];
    let proxy: Awaited<ReturnType<typeof nginx>> | undefined;
    let started: ReturnType<typeof load> | undefined;
    try {
      servers.push(await start(0), await start(1));
      // A host that refuses connections is left for a second, its requests tried on the other.
      proxy = await nginx(hosts.map((host) => `${host.address}:8000 max_fails=1 fail_timeout=1s`));
      const traffic = started = load(proxy.url);
      const more = async (n: number) => {
        const from = traffic.done();
        await eventually(() => traffic.done() >= from + n, `${n} more requests`, 20_000);
      };
      await more(40);
      // A rolling restart, host by host: the next one stops only once nginx serves from the
      // restarted one again (it leaves a host that refused alone for fail_timeout).
      for (const i of [0, 1]) {
        servers[i].child.signal("SIGTERM");
        assert.equal((await servers[i].child.exit()).code, 0, servers[i].child.stderr);
        await more(40); // the other host serves alone
        servers[i] = await start(i);
        await eventually(
          () => traffic.seen(servers[i].token),
          "nginx serving from the restarted host",
          20_000,
        );
      }
      const { ok, failures, tokens } = await traffic.stop();
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} failed\n${proxy.log()}`);
      assert.ok(tokens.size >= 3, `the hosts and their restarts answered (${tokens.size})`);
    } finally {
      await started?.stop(); // a failed wait must not leave the loops running
      await proxy?.stop();
      for (const server of servers) server.child.killTree();
      for (const host of hosts) host.remove();
    }
  });

  it("recycling under load through nginx fails nothing", async (t) => {
    if (!canMakeHosts) return void t.skip("needs root and iproute2 for a host with tcp_migrate_req on");
    const host = await onHost(5, [...MODES[2].args, "--max-requests", "150"]);
    const { child } = host;
    const proxy = await nginx(host.upstream).catch((error) => {
      host.remove();
      throw error;
    });
    let started: ReturnType<typeof load> | undefined;
    try {
      const traffic = started = load(proxy.url);
      await eventually(
        () => child.count(/exited \(exit code 0; recycled after \d+ requests\)/g) >= 3,
        "3 recycled workers",
        40_000,
      );
      const { ok, failures } = await traffic.stop();
      assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} failed\n${proxy.log()}`);
    } finally {
      await started?.stop(); // a failed wait must not leave the loops running
      await proxy.stop();
      host.remove();
    }
  });
});
