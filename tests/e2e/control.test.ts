/**
 * The control socket and `multiserve ctl`, on real servers, with the client run as a child
 * process (`<runtime> cli.ts ctl …`) the way a person runs it: every command, checked
 * against what the server then does (its workers, pids, reloads, log lines, exit), in
 * threads and in processes; no server at a path; a second server refused a live path and a
 * dead one's file replaced; one isolate with a socket of its own; and, as root, another user
 * (`nobody`, through setpriv) refused by the socket's mode and, where the runtime reads the
 * client's uid (Deno, Bun), by the server itself.
 */
import assert from "node:assert/strict";
import { chmodSync, existsSync, lstatSync, statSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, describe, it } from "node:test";
import {
  alive,
  Child,
  cliTs,
  eventually,
  fixture,
  freePort,
  runtime,
  startServer,
  tempDir,
} from "../_harness.ts";

/** A directory of the test's own for sockets: the server's `$XDG_RUNTIME_DIR`, or explicit paths. */
const privateDir = () => tempDir("multiserve-ctl-");

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `multiserve ctl ARGS` as a child process and wait for it. */
async function ctl(args: string[], env: Record<string, string> = {}, wrap: string[] = []): Promise<Ran> {
  const child = new Child(cliTs, ["ctl", ...args], env, undefined, { wrap });
  const { code } = await child.exit(30_000);
  return { code, stdout: child.stdout, stderr: child.stderr };
}

/** `ctl --json ARGS`, which must succeed: its result. */
async function json<T = Record<string, unknown>>(
  args: string[],
  env: Record<string, string> = {},
): Promise<T> {
  const ran = await ctl(["--json", ...args], env);
  assert.equal(ran.code, 0, `ctl ${args.join(" ")}: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
}

/**
 * One request over the socket at `path` from this process, as any client of the protocol
 * (docs/control.md) sends it: the reply. Faster than a ctl process, for checks between commands.
 */
function request(
  path: string,
  command: string,
  args: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    let received = "";
    socket.setEncoding("utf8");
    socket.on("error", reject);
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (!received.includes("\n")) return;
      socket.destroy();
      resolve(JSON.parse(received.slice(0, received.indexOf("\n"))));
    });
    socket.write(`${JSON.stringify({ v: 1, id: "test", command, args })}\n`);
  });
}

/** `request`, which must succeed: its result. */
async function result<T = Record<string, unknown>>(path: string, command: string, args = {}): Promise<T> {
  const reply = await request(path, command, args);
  assert.equal(reply.ok, true, JSON.stringify(reply));
  assert.deepEqual([reply.v, reply.id], [1, "test"]);
  return reply.result as T;
}

interface WorkerRow {
  id: string;
  kind: string;
  pid: number;
  state: string;
  restarts: number;
  memory: number | null;
}

const toStop: Child[] = [];
after(() => {
  for (const child of toStop) child.killTree();
});

for (
  const mode of [{ name: "threads", args: ["--threads", "2"] }, {
    name: "processes",
    args: ["--processes", "2"],
  }]
) {
  describe(`multiserve ctl drives a server with ${mode.name} (${runtime})`, () => {
    const dir = privateDir();
    /** The default socket is found through $XDG_RUNTIME_DIR, for the server and for ctl alike. */
    const env = { XDG_RUNTIME_DIR: dir };
    let server: Child;
    let port: number;
    const path = () => join(dir, "multiserve", `127.0.0.1:${port}.ctl`);
    /** Serving workers: on Deno, threads live in one worker process, whose row is left out. */
    const serving = async () =>
      (await result<{ workers: WorkerRow[] }>(path(), "workers")).workers.filter((w) =>
        w.state === "listening" && !(runtime === "deno" && mode.name === "threads" && w.kind === "process")
      );

    it("status finds the server without flags, at its default path, mode 0600", async () => {
      port = await freePort();
      server =
        (await startServer(cliTs, [...mode.args, "--port", String(port), fixture("app.ts")], env)).child;
      toStop.push(server);
      const path = join(dir, "multiserve", `127.0.0.1:${port}.ctl`);
      assert.equal(lstatSync(path).mode & 0o777, 0o600);
      assert.equal(lstatSync(join(dir, "multiserve")).mode & 0o777, 0o700);
      const ran = await ctl(["status"], env);
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, new RegExp(`^pid ${server.pid}, ${runtime} `, "m"));
      assert.match(ran.stdout, /phase: serving; 2 of 2 workers listening/);
      assert.match(ran.stdout, new RegExp(`control socket: ${path.replaceAll(".", "\\.")}`));
    });

    it("workers prints a table, and --json the same rows as JSON", async () => {
      const table = await ctl(["workers"], env);
      assert.equal(table.code, 0, table.stderr);
      assert.match(
        table.stdout,
        /^ID\s+KIND\s+PID\s+STATE\s+AGE\s+REQUESTS\s+IN FLIGHT\s+MEMORY\s+RESTARTS$/m,
      );
      const rows = await serving();
      assert.deepEqual(rows.map((w) => w.id).sort(), ["1", "2"]);
      if (mode.name === "processes") {
        assert.ok(rows.every((w) => w.pid !== server.pid && alive(w.pid)));
        // Read from /proc by the primary: stats are off, so no worker reported it.
        assert.ok(rows.every((w) => (w.memory ?? 0) > 10 * 1024 * 1024), JSON.stringify(rows));
      }
    });

    it("scale 3, add 2, remove 3: the server keeps that many workers", async () => {
      assert.deepEqual(await json(["scale", "3"], env), { previous: 2, workers: 3 });
      assert.equal((await serving()).length, 3);
      assert.deepEqual(await result(path(), "add", { count: 2 }), { previous: 3, workers: 5 });
      assert.equal((await serving()).length, 5);
      assert.deepEqual(await result(path(), "remove", { count: 3 }), { previous: 5, workers: 2 });
      assert.equal((await serving()).length, 2);
      const removed = await ctl(["remove"], env);
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /workers: 2 → 1/);
      assert.deepEqual(await result(path(), "add"), { previous: 1, workers: 2 });
    });

    it("kill replaces that worker: a replacement serves in its place, and a process's pid is gone", async () => {
      // Scaling down ended the oldest: the ids left are the newest.
      const before = (await serving())[0];
      const ran = await ctl(["kill", before.id], env);
      if (runtime === "deno" && mode.name === "threads") {
        // Deno's threads live in one worker process, replaced whole (docs/control.md).
        assert.equal(ran.code, 1);
        assert.match(ran.stderr, /cannot be replaced one by one/);
        return;
      }
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, new RegExp(`worker ${before.id} replaced`));
      const after = (await serving()).find((w) => w.id === before.id)!;
      assert.equal(after.restarts, before.restarts + 1);
      if (mode.name === "processes") {
        assert.notEqual(after.pid, before.pid);
        await eventually(() => !alive(before.pid), `the killed worker (pid ${before.pid}) to exit`);
      }
      assert.match(server.stderr, /asked to go \(multiserve ctl kill\)/);
      const unknown = await request(path(), "kill", { worker: "9" });
      assert.deepEqual([unknown.ok, unknown.code], [false, "refused"]);
      assert.match(String(unknown.error), /no worker 9 is serving/);
    });

    it("reload runs a rolling reload: a new generation serves", async () => {
      const before = await serving();
      const reloaded = await result<{ reloads: number }>(path(), "reload");
      assert.equal(reloaded.reloads, 1);
      assert.match(server.stderr, /reload done/);
      const now = await serving();
      assert.equal(now.length, before.length);
      if (mode.name === "processes") {
        assert.ok(now.every((w) => !before.some((old) => old.pid === w.pid)), "new processes serve");
        await eventually(() => before.every((w) => !alive(w.pid)), "the old generation to exit");
      }
    });

    it("log-level debug: the primary's debug lines appear from then on", async () => {
      await result(path(), "status");
      assert.doesNotMatch(server.stderr, /control socket: status/);
      const ran = await ctl(["log-level", "debug"], env);
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /log level: info → debug/);
      const mark = server.mark();
      await result(path(), "status");
      await server.waitFor(/multiserve: control socket: status/, 10_000, mark);
    });

    it("a protocol version not spoken is refused; bad usage is exit 2", async () => {
      // (ctl upgrade, which replaces this server, is tested in upgrade.test.ts.)
      const other = await request(path(), "status", {});
      assert.equal(other.ok, true);
      const version = await new Promise<string>((resolve) => {
        const socket = connect({ path: path() }, () => socket.write('{"v":2,"id":7,"command":"status"}\n'));
        socket.setEncoding("utf8").on("data", (line: string) => (socket.destroy(), resolve(line)));
      });
      assert.deepEqual(JSON.parse(version), {
        v: 1,
        id: null,
        ok: false,
        error: "protocol version 2 is not spoken here: this server speaks 1",
        code: "unsupported-version",
      });
      const bad = await ctl(["scale", "none"], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /scale needs a whole number ≥ 1, got none/);
    });

    it("stop --graceful-timeout: the server drains, exits 0 and removes its socket", async () => {
      const ran = await ctl(["stop", "--graceful-timeout", "5"], env);
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /stopping \(draining up to 5 s\)/);
      assert.equal((await server.exit()).code, 0);
      assert.equal(existsSync(path()), false);
      const gone = await ctl(["status"], env);
      assert.equal(gone.code, 3);
      assert.match(gone.stderr, /no running server found/);
    });
  });
}

describe(`the control socket's path (${runtime})`, () => {
  it("no server at a path: exit 3 saying so", async () => {
    const ran = await ctl(["--socket", join(privateDir(), "none.ctl"), "status"]);
    assert.equal(ran.code, 3);
    assert.match(ran.stderr, /no server listens at .*none\.ctl \(no such file\)/);
  });

  it("a second server on a live path is refused (exit 3, naming the first's pid); a dead one's file is replaced", async () => {
    const path = join(privateDir(), "app.ctl");
    const args = (
      port: number,
    ) => ["--threads", "1", "--port", String(port), "--control-socket", path, fixture("app.ts")];
    const first = (await startServer(cliTs, args(await freePort()))).child;
    toStop.push(first);
    const second = new Child(cliTs, args(await freePort()));
    toStop.push(second);
    assert.equal((await second.exit()).code, 3);
    assert.match(
      second.stderr,
      new RegExp(`control socket ${path} is in use by a running server \\(pid ${first.pid}\\)`),
    );
    assert.equal((await result<{ pid: number }>(path, "status")).pid, first.pid);
    // Killed, the first leaves its socket file: no server answers there, and the next start replaces it.
    first.killTree();
    await first.exited;
    assert.ok(lstatSync(path).isSocket());
    const stale = await ctl(["--socket", path, "status"]);
    assert.equal(stale.code, 3);
    assert.match(stale.stderr, /ECONNREFUSED/);
    const third = (await startServer(cliTs, args(await freePort()))).child;
    toStop.push(third);
    // $MULTISERVE_CONTROL_SOCKET names it for ctl too.
    assert.equal(
      (await json<{ pid: number }>(["status"], { MULTISERVE_CONTROL_SOCKET: path })).pid,
      third.pid,
    );
    third.signal("SIGTERM");
    assert.equal((await third.exit()).code, 0);
    assert.equal(existsSync(path), false);
  });

  it("one isolate has a control socket only when given one: status and stop work, reload and upgrade are refused", async () => {
    const dir = privateDir();
    const path = join(dir, "alone.ctl");
    const server = (await startServer(cliTs, ["--port", "0", "--control-socket", path, fixture("app.ts")], {
      XDG_RUNTIME_DIR: dir,
    })).child;
    toStop.push(server);
    assert.equal(existsSync(join(dir, "multiserve")), false);
    assert.deepEqual((await result<{ workers: unknown }>(path, "status")).workers, {
      configured: 1,
      alive: 1,
    });
    const reload = await request(path, "reload");
    assert.equal(reload.code, "refused");
    assert.match(String(reload.error), /reload needs workers: one isolate serves alone/);
    const upgrade = await request(path, "upgrade");
    assert.equal(upgrade.ok, false);
    assert.match(String(upgrade.error), /upgrade refused: one isolate serves alone/);
    assert.equal((await result(path, "stop")).stopping, true);
    assert.equal((await server.exit()).code, 0);
  });

  /**
   * Let other users reach `file` (read and search permission on every directory above it: Bun
   * reads the directories it resolves modules in), as they can in most checkouts, so that
   * nobody can run the runtime and the CLI from this one; a fresh `mktemp -d` clone, as CI
   * makes, is mode 0700. Returns what puts the modes back.
   */
  function reachableByOthers(file: string): () => void {
    const changed: [string, number][] = [];
    for (let dir = dirname(file);; dir = dirname(dir)) {
      const mode = statSync(dir).mode & 0o7777;
      if ((mode & 0o005) !== 0o005) {
        chmodSync(dir, mode | 0o005);
        changed.push([dir, mode]);
      }
      if (dir === dirname(dir)) break;
    }
    return () => {
      for (const [dir, mode] of changed.reverse()) chmodSync(dir, mode);
    };
  }

  const root = process.getuid?.() === 0;
  it("another user is refused: by the socket's mode, and by the server where it reads the client's uid", {
    skip: root ? false : "needs root, to run the client as nobody",
  }, async () => {
    const dir = privateDir();
    // nobody may enter the directory, so that the socket's own mode is what keeps it out.
    chmodSync(dir, 0o755);
    const path = join(dir, "app.ctl");
    const server = (await startServer(cliTs, [
      "--threads",
      "1",
      "--port",
      "0",
      "--control-socket",
      path,
      fixture("app.ts"),
    ]))
      .child;
    toStop.push(server);
    const asNobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    const restore = reachableByOthers(cliTs);
    try {
      const denied = await ctl(["--socket", path, "status"], {}, asNobody);
      assert.equal(denied.code, 4, denied.stderr);
      assert.match(denied.stderr, /permission denied: .*app\.ctl/);
      if (runtime !== "node") {
        // With the mode opened, the server reads the client's uid (SO_PEERCRED) and refuses it.
        chmodSync(path, 0o666);
        const refused = await ctl(["--socket", path, "stop"], {}, asNobody);
        assert.equal(refused.code, 4, refused.stderr);
        assert.match(refused.stderr, /refused: uid 65534 is not this server's user \(uid 0\)/);
        assert.match(server.stderr, /refused stop from uid 65534/);
      }
    } finally {
      restore();
    }
    assert.equal((await result<{ pid: number }>(path, "status")).pid, server.pid);
    server.signal("SIGTERM");
    assert.equal((await server.exit()).code, 0);
  });
});
