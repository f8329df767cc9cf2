/**
 * Upgrading the primary with no downtime (SIGUSR2): a new primary from the same command line
 * starts its workers beside the old one's and takes over, in threads and in processes, on
 * every runtime. Under keep-alive and new-connection load no request fails (in a network
 * namespace with tcp_migrate_req on, as the other restart tests run: tests/_under_load.ts;
 * Node processes on the machine's network as is, their cluster socket passed on),
 * the new code is served, the pid file names the new primary and nothing of the old one is
 * left; a socket systemd passed is passed on; a unix socket is refused; an upgrade to code
 * that fails to load leaves the old server serving; under systemd
 * (a NOTIFY_SOCKET listener of the test's own) MAINPID moves to the new primary, then READY.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { after, describe, it } from "node:test";
import {
  alive,
  Child,
  cliTs,
  command,
  descendants,
  eventually,
  fetchFresh,
  fixture,
  freePort,
  MODES,
  modTs,
  root,
  runtime,
  startServer,
} from "../_harness.ts";
import { underLoad } from "../_under_load.ts";

const dir = mkdtempSync(`${tmpdir()}/multiserve-upgrade-`);
after(() => rmSync(dir, { recursive: true, force: true }));
let made = 0;

/** An app whose answers say `version`, written where the test can change it. */
const versioned = (version: number | "broken") =>
  version === "broken"
    ? `throw new Error("this version fails at import");\n`
    : `export default { fetch: () => new Response("version ${version}") };\n`;

/** Start `mode` serving a versioned app of its own, with a pid file; `env` added. */
async function start(mode: (typeof MODES)[number], env: Record<string, string> = {}) {
  const app = `${dir}/app-${++made}.mjs`;
  const pidFile = `${dir}/app-${made}.pid`;
  writeFileSync(app, versioned(1));
  const { child, url } = await startServer(modTs, ["-p", "0", "--pid", pidFile, ...mode.args, app], env);
  return { child, url, app, pidFile };
}

/** End `pid` and what it started (a new primary is no child of the test's). */
function killTree(pid: number): void {
  for (const each of [...descendants(pid), pid]) {
    try {
      process.kill(each, "SIGKILL");
    } catch { /* gone */ }
  }
}

for (const mode of [MODES[1], MODES[2]]) {
  describe(`${runtime}, ${mode.name}: upgrading the primary (SIGUSR2)`, () => {
    for (const connections of ["keep-alive", "fresh"] as const) {
      const clients = connections === "fresh" ? "a new connection per request" : "keep-alive clients";
      it(
        `a new primary serves the new code, takes the pid file over, and the old one leaves nothing behind, with no failed request (${clients})`,
        async (t) => {
          const result = await underLoad(t, "upgrade", connections, [...mode.args]);
          if (!result) return;
          assert.deepEqual(result.failures, []);
          const upgraded = result.upgraded!;
          assert.equal(upgraded.pidFileBefore, `${upgraded.oldPid}\n`);
          assert.notEqual(upgraded.newPid, upgraded.oldPid, "the pid file names the new primary");
          assert.ok(upgraded.newAlive, "the new primary serves on");
          assert.deepEqual(upgraded.oldWorkersLeft, [], "no worker of the old primary is left");
          assert.ok(result.before.every((token) => token.startsWith("v1-")), result.before.join());
          assert.equal(result.after.length, 2);
          assert.ok(
            result.after.every((token) => token.startsWith("v2-")),
            `new code: ${result.after.join()}`,
          );
        },
      );
    }

    it("an upgrade to code that fails to load leaves the old primary serving, its pid file as it was, the failure logged", async () => {
      const { child, url, app, pidFile } = await start(mode);
      try {
        writeFileSync(app, versioned("broken"));
        child.signal("SIGUSR2");
        const [line] = await child.waitFor(/SIGUSR2: upgrade failed: .*/, 30_000);
        assert.match(
          line,
          /the new primary \(pid \d+\) exited \(code 4\) before every one of its workers listened/,
        );
        assert.match(line, new RegExp(`this primary \\(pid ${child.pid}\\) serves on`));
        assert.match(child.stderr, /this version fails at import/);
        const newPid = Number(line.match(/new primary \(pid (\d+)\)/)![1]);
        assert.ok(!alive(newPid), "the failed primary is gone");
        assert.equal(readFileSync(pidFile, "utf8"), `${child.pid}\n`);
        const reply = await fetchFresh(url);
        assert.equal(reply.text, "version 1");
        // Still upgradable: a good version next goes through.
        writeFileSync(app, versioned(3));
        const mark = child.mark();
        child.signal("SIGUSR2");
        await child.waitFor(/SIGUSR2: upgrade done/, 30_000, mark);
        assert.equal((await child.exit(30_000)).code, 0, child.stderr);
        const next = Number(readFileSync(pidFile, "utf8"));
        assert.notEqual(next, child.pid);
        try {
          assert.equal((await fetchFresh(url)).text, "version 3");
        } finally {
          killTree(next);
        }
      } finally {
        child.killTree();
      }
    });
  });
}

describe(`${runtime}: upgrading a primary on a socket systemd passed (socket activation)`, () => {
  it(
    "the inherited socket is passed on to the new primary, which serves the new code on it",
    { skip: runtime !== "node" && "only Node serves an inherited socket" },
    async () => {
      const port = await freePort();
      const app = `${dir}/app-${++made}.mjs`;
      const pidFile = `${dir}/app-${made}.pid`;
      writeFileSync(app, versioned(1));
      const [exec, argv] = command(modTs, ["--pid", pidFile, ...MODES[2].args, app]);
      const child = new Child(
        "systemd-socket-activate",
        ["-l", `127.0.0.1:${port}`, exec, ...argv],
        {},
        undefined,
        {
          program: true,
        },
      );
      let newPid: number | undefined;
      try {
        await child.waitFor(/Listening on 127\.0\.0\.1:\d+ as 3/);
        // systemd starts the service at the first connection, which it then serves.
        assert.equal((await fetchFresh(`http://127.0.0.1:${port}/`)).text, "version 1");
        await child.waitFor(/listening on fd:\/\/3 /);
        const oldPid = Number(readFileSync(pidFile, "utf8"));
        writeFileSync(app, versioned(2));
        process.kill(oldPid, "SIGUSR2");
        const [line] = await child.waitFor(
          /SIGUSR2: upgrade done: the new primary \(pid \d+\) serves/,
          30_000,
        );
        newPid = Number(line.match(/pid (\d+)/)![1]);
        await eventually(() => !alive(oldPid), "the old primary to exit", 30_000);
        assert.equal(readFileSync(pidFile, "utf8"), `${newPid}\n`);
        // The new primary too names the socket it serves as the inherited fd 3.
        assert.equal(child.stdout.match(/listening on fd:\/\/3 /g)?.length, 2, child.stdout);
        assert.equal((await fetchFresh(`http://127.0.0.1:${port}/`)).text, "version 2");
      } finally {
        child.killTree();
        if (newPid !== undefined) killTree(newPid);
      }
    },
  );
});

describe(`${runtime}: multiserve ctl upgrade`, () => {
  it("upgrades as SIGUSR2 does, and the new primary answers on the same control socket", async () => {
    const control = `${dir}/ctl-${++made}.ctl`;
    const app = `${dir}/app-${made}.mjs`;
    const pidFile = `${dir}/app-${made}.pid`;
    writeFileSync(app, versioned(1));
    const { child, url } = await startServer(modTs, [
      "-p",
      "0",
      "--pid",
      pidFile,
      "--control-socket",
      control,
      ...MODES[2].args,
      app,
    ]);
    let newPid: number | undefined;
    try {
      writeFileSync(app, versioned(2));
      const ctl = new Child(cliTs, ["ctl", "--socket", control, "upgrade"]);
      assert.equal((await ctl.exit(60_000)).code, 0, ctl.stderr);
      assert.match(child.stderr, /ctl upgrade: upgrade done: the new primary \(pid \d+\) serves/);
      // The new primary takes the pid file over as it takes charge: just after, on a loaded machine.
      await eventually(
        () => Number(readFileSync(pidFile, "utf8")) !== child.pid,
        "the new primary's pid file",
      );
      newPid = Number(readFileSync(pidFile, "utf8"));
      assert.equal((await child.exit(30_000)).code, 0, child.stderr);
      assert.equal((await fetchFresh(url)).text, "version 2");
      const status = new Child(cliTs, ["ctl", "--socket", control, "--json", "status"]);
      assert.equal((await status.exit()).code, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).pid, newPid, "the new primary answers on the control socket");
    } finally {
      child.killTree();
      if (newPid !== undefined) killTree(newPid);
    }
  });
});

describe(`${runtime}: an upgrade refused`, () => {
  it(
    "on a unix socket (Node processes share one through node:cluster): refused, said, the server serving on",
    { skip: runtime !== "node" && "only Node's processes share a unix socket" },
    async () => {
      const path = `${dir}/unix-${++made}.sock`;
      const child = new Child(modTs, ["--bind", `unix:${path}`, ...MODES[2].args, fixture("app.ts")]);
      try {
        await child.waitFor(/listening on unix:/);
        child.signal("SIGUSR2");
        await child.waitFor(
          /SIGUSR2: upgrade refused: unix:\S+: a unix socket's path is removed as the old primary's socket closes; restart the server instead, or bind a TCP port; this primary serves on/,
        );
        const reply = await fetchFresh("http://localhost/token", { socketPath: path });
        assert.equal(reply.status, 200);
        child.signal("SIGTERM");
        assert.equal((await child.exit()).code, 0, child.stderr);
      } finally {
        child.killTree();
      }
    },
  );
});

/** Deno runs the listener whatever runs the tests (npm ci installs it). */
const DENO = runtime === "deno" ? process.execPath : `${root}node_modules/.bin/deno`;
/** Node sends through systemd-notify, which passes the primary's credentials only as root. */
const SENDER_IS_PRIMARY = runtime !== "node" || process.getuid?.() === 0;

describe(`${runtime}: upgrading the primary under systemd (Type=notify)`, () => {
  it("MAINPID moves to the new primary, from the old one, then READY=1 comes from the new one; no STOPPING=1; it stops as the main process", async () => {
    const address = `${dir}/notify.sock`;
    const listener = new Child(DENO, ["run", "-A", fixture("notify_listener.ts"), address], {}, undefined, {
      program: true,
    });
    let child: Child | undefined;
    let newPid: number | undefined;
    try {
      await listener.waitFor(/^listening$/m);
      const received = () =>
        listener.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) =>
          JSON.parse(line) as { message: string; pid: number }
        ).filter((n) => n.message !== "BARRIER=1");
      const states = () =>
        received().flatMap((n) =>
          n.message.split("\n").filter((l) => /^(READY|RELOADING|STOPPING)=/.test(l))
        );
      const started = await start(MODES[2], { NOTIFY_SOCKET: address });
      child = started.child;
      await eventually(() => states().length === 1, "READY=1 from the first primary");

      child.signal("SIGUSR2");
      await child.waitFor(/SIGUSR2: upgrade done/, 30_000);
      newPid = Number(child.stderr.match(/new primary \(pid (\d+)\) serves/)![1]);
      await eventually(() => states().length === 2, "READY=1 from the new primary", 20_000);
      const messages = received();
      const moved = messages.findIndex((n) => n.message === `MAINPID=${newPid}`);
      const ready = messages.findLastIndex((n) => n.message.split("\n").includes("READY=1"));
      assert.ok(moved > 0 && ready > moved, `MAINPID=${newPid}, then READY=1: ${JSON.stringify(messages)}`);
      if (SENDER_IS_PRIMARY) {
        assert.equal(messages[moved].pid, child.pid, "MAINPID= from the main process of then");
        assert.equal(messages[ready].pid, newPid, "READY=1 from the new main process");
      }
      assert.ok(messages[ready].message.split("\n").includes(`MAINPID=${newPid}`));
      assert.equal((await child.exit(30_000)).code, 0, child.stderr);
      assert.deepEqual(states(), ["READY=1", "READY=1"], "the old primary's exit sends no STOPPING=1");
      assert.equal(readFileSync(started.pidFile, "utf8"), `${newPid}\n`);

      process.kill(newPid, "SIGTERM");
      await eventually(() => states().length === 3, "STOPPING=1 from the new primary", 20_000);
      assert.deepEqual(states(), ["READY=1", "READY=1", "STOPPING=1"]);
      await eventually(() => !alive(newPid!), "the new primary to exit", 20_000);
    } finally {
      child?.killTree();
      if (newPid !== undefined) killTree(newPid);
      listener.killTree();
    }
  });
});
