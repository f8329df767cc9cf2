/**
 * Where a server listens: `--bind` in gunicorn's syntax. A unix socket is served with its
 * mode, believed as a proxy's link, replaced when a dead server left it, refused when a live
 * one holds it, and removed on exit; workers share one only as Node processes, and every
 * other shape is refused with exit 2 rather than left idle. TCP binds are host and port.
 * Several binds serve the same app. An inherited socket (`fd://N`, systemd's socket
 * activation, driven here by systemd's own `systemd-socket-activate`) is served on Node and
 * refused with exit 2 elsewhere. Port 0 with workers: the primary holds the port it chose
 * until they listen, so that no other server starting meanwhile is handed it too.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  Child,
  cliTs,
  command,
  eventually,
  fetchFresh,
  fixture,
  freePort,
  MODES,
  runtime,
  startServer,
  tempDir,
} from "../_harness.ts";

const socketPath = (name = "app.sock") => join(tempDir("multiserve-unix-"), name);

/** One request over the unix socket at `path`. */
const overSocket = (path: string, headers: Record<string, string> = {}) =>
  fetchFresh("http://app.local/token", { socketPath: path, headers });

/** Start the CLI on unix socket `path` and wait until it says so. */
async function serveOn(path: string, args: string[] = []): Promise<Child> {
  const child = new Child(cliTs, ["--bind", `unix:${path}`, ...args, fixture("app.ts")]);
  await child.waitFor(new RegExp(`listening on unix:${path.replaceAll("/", "\\/")}`));
  return child;
}

describe(`${runtime}: --bind`, { concurrency: 3 }, () => {
  it("unix:PATH serves with mode 0660, believes its peer's X-Forwarded-For, and is removed on exit", async () => {
    const path = socketPath();
    const child = await serveOn(path);
    try {
      assert.equal(statSync(path).mode & 0o777, 0o660);
      const reply = await overSocket(path, {
        "x-forwarded-for": "203.0.113.9",
        "x-forwarded-proto": "https",
      });
      assert.equal(reply.status, 200);
      const seen = JSON.parse(reply.text);
      assert.equal(seen.remote.hostname, "203.0.113.9", "a unix socket's peer is a trusted proxy");
      assert.equal(seen.url, "https://app.local/token");
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0);
      assert.equal(existsSync(path), false, "the socket is removed on exit");
    } finally {
      child.killTree();
    }
  });

  it("a socket a dead server left is replaced; one a live server holds is refused (exit 3) and kept", async () => {
    const path = socketPath();
    // A socket file nobody answers on, as a killed server leaves it.
    const python = `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(path)})`;
    assert.equal(spawnSync("python3", ["-c", python]).status, 0);
    assert.ok(statSync(path).isSocket());
    const child = await serveOn(path, ["--unix-mode", "600"]);
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const second = new Child(cliTs, ["--bind", `unix:${path}`, fixture("app.ts")]);
      assert.equal((await second.exit()).code, 3);
      assert.match(second.stderr, /unix:.*app\.sock is in use: a server answers on it/);
      assert.equal((await overSocket(path)).status, 200, "the first server still serves on its socket");
    } finally {
      child.killTree();
    }
  });

  const shared = runtime === "node" ? [] : [MODES[2]];
  for (const mode of [MODES[1], ...shared]) {
    it(`one unix socket for ${mode.name}: refused, exit 2, naming the alternatives`, async () => {
      const child = new Child(cliTs, ["--bind", `unix:${socketPath()}`, ...mode.args, fixture("app.ts")]);
      assert.equal((await child.exit()).code, 2);
      assert.match(
        child.stderr,
        new RegExp(`${runtime} cannot share one unix socket among (threads|processes)`),
      );
    });
  }

  if (runtime === "node") {
    it("Node processes share one unix socket through node:cluster", async () => {
      const path = socketPath();
      const child = await serveOn(path, [...MODES[2].args]);
      try {
        const tokens = new Set<string>();
        for (let i = 0; i < 40 && tokens.size < 2; i++) {
          tokens.add(JSON.parse((await overSocket(path)).text).token);
        }
        assert.equal(tokens.size, 2);
      } finally {
        child.killTree();
      }
    });
  }

  for (const mode of MODES.slice(1, 3)) {
    it(`two TCP binds at once serve the same app, ${mode.name}`, async () => {
      const ports = [await freePort(), await freePort()];
      const child = new Child(cliTs, [
        ...ports.flatMap((port) => ["--bind", `127.0.0.1:${port}`]),
        ...mode.args,
        fixture("app.ts"),
      ]);
      try {
        await child.waitFor(
          new RegExp(`listening on http://127.0.0.1:${ports[0]}/ and http://127.0.0.1:${ports[1]}/`),
        );
        for (const port of ports) {
          const response = await fetch(`http://127.0.0.1:${port}/token`);
          assert.equal(response.status, 200);
          assert.ok(JSON.parse(await response.text()).token);
        }
      } finally {
        child.killTree();
      }
    });
  }

  it("a TCP port and a unix socket at once, one isolate; both removed or freed on exit", async () => {
    const path = socketPath();
    const port = await freePort();
    const child = new Child(cliTs, ["--bind", `127.0.0.1:${port}`, "-b", `unix:${path}`, fixture("app.ts")]);
    try {
      await child.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+\/ and unix:/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/token`)).status, 200);
      assert.equal((await overSocket(path)).status, 200);
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0);
      assert.equal(existsSync(path), false, "the socket is removed on exit");
    } finally {
      child.killTree();
    }
  });

  const activated = (port: number, args: string[]) => {
    const [exec, argv] = command(cliTs, [...args, fixture("app.ts")]);
    return new Child("systemd-socket-activate", ["-l", `127.0.0.1:${port}`, exec, ...argv], {}, undefined, {
      program: true,
    });
  };
  if (runtime === "node") {
    for (const mode of [MODES[0], MODES[2]]) {
      it(`systemd socket activation (LISTEN_FDS) serves the inherited socket, ${mode.name}`, async () => {
        const port = await freePort();
        const child = activated(port, [...mode.args]);
        try {
          await child.waitFor(/Listening on 127\.0\.0\.1:\d+ as 3/);
          // systemd starts the service at the first connection, which it then serves.
          const first = await fetch(`http://127.0.0.1:${port}/token`);
          assert.equal(first.status, 200);
          await first.text();
          await child.waitFor(/listening on fd:\/\/3 /);
          const tokens = new Set<string>();
          for (let i = 0; i < 40 && tokens.size < mode.workers; i++) {
            // A new connection each time: a connection stays with the worker that accepted it.
            const response = await fetch(`http://127.0.0.1:${port}/token`, {
              headers: { connection: "close" },
            });
            assert.equal(response.status, 200);
            tokens.add(JSON.parse(await response.text()).token);
          }
          assert.equal(tokens.size, mode.workers, "every worker gets connections from the one socket");
          child.signal("SIGTERM");
          assert.equal((await child.exit()).code, 0);
        } finally {
          child.killTree();
        }
      });
    }
    it("an inherited socket with threads is refused, exit 2, naming the alternative", async () => {
      const port = await freePort();
      const child = activated(port, ["--bind", "fd://3", ...MODES[1].args]);
      await child.waitFor(/as 3/);
      await fetch(`http://127.0.0.1:${port}/`).catch(() => {}); // starts the service
      assert.equal((await child.exit()).code, 2, child.stderr);
      assert.match(
        child.stderr,
        /node threads cannot share an inherited socket .*--processes without --threads/,
      );
    });
  } else {
    it("an inherited socket (systemd socket activation) is refused, exit 2, naming why", async () => {
      const port = await freePort();
      const child = activated(port, []);
      await child.waitFor(/as 3/);
      await fetch(`http://127.0.0.1:${port}/`).catch(() => {}); // starts the service
      assert.equal((await child.exit()).code, 2, child.stderr);
      assert.match(child.stderr, new RegExp(`${runtime} cannot listen on an inherited socket \\(fd://N`));
    });
  }

  it("HOST:PORT is host and port; a bad fd:// and HTTPS on a unix socket are refused, exit 2", async () => {
    const { child, url } = await startServer(cliTs, ["--bind", "127.0.0.1:0", fixture("app.ts")]);
    child.killTree();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    for (
      const [args, message] of [
        [["--bind", "fd://1"], /"fd:\/\/1": fd:\/\/ needs a file descriptor number from 3/],
        [["--bind", "localhost"], /flag --bind must be an address/],
        [["--bind", `unix:${socketPath()}`, "--cert", "c.pem", "--key", "k.pem"], /HTTPS on a TCP port/],
      ] as const
    ) {
      const refused = new Child(cliTs, [...args, fixture("app.ts")]);
      assert.equal((await refused.exit()).code, 2, refused.stderr);
      assert.match(refused.stderr, message);
    }
  });
});

/** The TCP ports process `pid` listens on, from /proc (Linux). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith("socket:[")) inodes.add(target.slice(8, -1));
    } catch { /* closed meanwhile */ }
  }
  const ports: number[] = [];
  for (const table of [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is field 9.
      if (fields[3] === "0A" && inodes.has(fields[9])) ports.push(parseInt(fields[1].split(":")[1], 16));
    }
  }
  return ports;
}

describe(`${runtime}: port 0 with workers`, { skip: process.platform !== "linux" && "Linux only" }, () => {
  for (const mode of [MODES[1], MODES[2]]) {
    // Node's processes are node:cluster workers, whose primary binds the port alone.
    const held = !(runtime === "node" && mode === MODES[2]);
    it(`-p 0, ${mode.name}: the port chosen is ${held ? "held until the workers listen" : "chosen"}, and served`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "multiserve-port0-"));
      const go = join(dir, "go");
      const app = join(dir, "app.mjs");
      // Workers that cannot finish loading until the test says so.
      writeFileSync(
        app,
        `import { existsSync } from "node:fs";\n` +
          `while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 20));\n` +
          `export default { fetch: () => new Response("ok") };\n`,
      );
      const child = new Child(cliTs, ["-p", "0", ...mode.args, app]);
      try {
        if (held) {
          // While the workers load, the primary holds the port (a listener sharing it), so
          // that no other server starting now can be handed it.
          let ports: number[] = [];
          await eventually(
            () => (ports = listeningPorts(child.pid)).length === 1,
            "the primary to hold the port it chose",
          );
          const [port] = ports;
          const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
            const other = createServer();
            other.once("error", resolve);
            other.listen(
              { host: "127.0.0.1", port, exclusive: true },
              () => other.close(() => resolve(undefined)),
            );
          });
          assert.equal(error?.code, "EADDRINUSE", `port ${port} was free while the workers loaded`);
          writeFileSync(go, "");
          const [, url] = await child.waitFor(/listening on (http:\/\/\S+)/);
          assert.equal(new URL(url).port, String(port), "the workers listen on the port held");
          assert.equal((await fetchFresh(url)).text, "ok");
        } else {
          writeFileSync(go, "");
          const match = await child.waitFor(/listening on (http:\/\/\S+)/);
          assert.equal((await fetchFresh(match[1])).text, "ok");
        }
        child.signal("SIGTERM");
        assert.equal((await child.exit()).code, 0, child.stderr);
      } finally {
        child.killTree();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
