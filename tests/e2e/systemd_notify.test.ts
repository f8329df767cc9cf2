/**
 * systemd's `Type=notify` on real servers, and the pid file: the server is started with
 * NOTIFY_SOCKET naming a unix datagram socket the test listens on (tests/fixtures/
 * notify_listener.ts, run by Deno, which sees each sender's pid as systemd would). This
 * machine has no systemd to run a transient unit (`systemd-run --user` finds no bus), so
 * the listener stands in for it. READY, RELOADING and STOPPING come in order, from the
 * primary (MAINPID, and the sender's credentials), with STATUS; the watchdog pings; an
 * abstract socket works; Deno without --allow-ffi falls back to systemd-notify.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { after, describe, it } from "node:test";
import {
  Child,
  eventually,
  fetchFresh,
  fixture,
  MODES,
  modTs,
  root,
  runtime,
  startServer,
} from "../_harness.ts";

/** Deno runs the listener whatever runs the tests (npm ci installs it). */
const DENO = runtime === "deno" ? process.execPath : `${root}node_modules/.bin/deno`;
/** Node sends through systemd-notify, which passes the primary's credentials only as root. */
const SENDER_IS_PRIMARY = runtime !== "node" || process.getuid?.() === 0;

interface Notification {
  message: string;
  /** The sender's pid, as systemd would see it. */
  pid: number;
  /** CLOCK_MONOTONIC at receipt, µs. */
  at: bigint;
  lines: string[];
}

class Listener {
  readonly address: string;
  readonly child: Child;

  constructor(address: string) {
    this.address = address;
    this.child = new Child(DENO, ["run", "-A", fixture("notify_listener.ts"), address], {}, undefined, {
      program: true,
    });
  }

  static async start(address: string): Promise<Listener> {
    const listener = new Listener(address);
    await listener.child.waitFor(/^listening$/m);
    return listener;
  }

  /** What came so far, systemd-notify's barriers left out. */
  get received(): Notification[] {
    return this.child.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => {
      const { message, pid, at } = JSON.parse(line);
      return { message, pid, at: BigInt(at), lines: message.split("\n") };
    }).filter((notification) => notification.message !== "BARRIER=1");
  }

  /** The state lines (READY, RELOADING, STOPPING), in the order they came. */
  get states(): string[] {
    return this.received.flatMap((n) => n.lines.filter((line) => /^(READY|RELOADING|STOPPING)=/.test(line)));
  }

  /** The `index`-th notification (from 0) carrying `line`, once it came. */
  async next(line: string, index = 0): Promise<Notification> {
    let found: Notification | undefined;
    await eventually(
      () => {
        found = this.received.filter((n) => n.lines.includes(line))[index];
        return found !== undefined;
      },
      `${line} (#${index + 1}) at the notification socket; came: ${JSON.stringify(this.states)}`,
      20_000,
    );
    return found!;
  }

  stop(): void {
    this.child.killTree();
  }
}

const dir = mkdtempSync(`${tmpdir()}/multiserve-notify-`);
after(() => rmSync(dir, { recursive: true, force: true }));
let sockets = 0;
const socketPath = () => `${dir}/notify-${++sockets}.sock`;

/** Start the fixture app in `mode` with `env`, and its primary's `--pid` file. */
async function start(
  mode: (typeof MODES)[number],
  env: Record<string, string>,
  denoFlags?: string[],
): Promise<{ child: Child; url: string; pidFile: string }> {
  const pidFile = `${dir}/app-${++sockets}.pid`;
  const args = ["-p", "0", "--pid", pidFile, ...mode.args, fixture("app.ts")];
  const { child, url } = await startServer(modTs, args, env, denoFlags);
  return { child, url, pidFile };
}

/** Each field of `lines` that starts with `key=`, its value. */
const field = (n: Notification, key: string) =>
  n.lines.find((line) => line.startsWith(`${key}=`))?.slice(key.length + 1);

const VIA = runtime === "node"
  ? /by Debian's systemd-notify/
  : /by datagrams \(libc by (Deno\.dlopen|bun:ffi)\)/;

for (const mode of [MODES[1], MODES[2]]) {
  describe(`${runtime}, ${mode.name}: systemd notifications`, () => {
    it("READY=1 once every worker listens, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on SIGTERM: from the primary, with STATUS; the pid file written, then removed", async () => {
      const listener = await Listener.start(socketPath());
      let child: Child | undefined;
      try {
        const started = await start(mode, { NOTIFY_SOCKET: listener.address });
        child = started.child;
        const ready = await listener.next("READY=1");
        assert.equal(field(ready, "MAINPID"), String(child.pid));
        if (SENDER_IS_PRIMARY) assert.equal(ready.pid, child.pid, "systemd would take it from the main pid");
        assert.equal(
          field(ready, "STATUS"),
          `serving: ${mode.workers} workers listening (${mode.workers} configured)`,
        );
        assert.match(child.stderr, VIA);
        assert.equal((await fetchFresh(`${started.url}token`)).status, 200);
        assert.equal(readFileSync(started.pidFile, "utf8"), `${child.pid}\n`);

        const mark = child.mark();
        child.signal("SIGHUP");
        const reloading = await listener.next("RELOADING=1");
        const usec = BigInt(field(reloading, "MONOTONIC_USEC") ?? "0");
        assert.ok(
          usec <= reloading.at && usec > reloading.at - 10_000_000n,
          `MONOTONIC_USEC ${usec} is CLOCK_MONOTONIC (received at ${reloading.at})`,
        );
        const reloaded = await listener.next("READY=1", 1);
        // Every new worker listens, the old ones drain (and count no more).
        assert.equal(
          field(reloaded, "STATUS"),
          `serving: ${mode.workers} workers listening (${mode.workers} configured)`,
        );
        await child.waitFor(/reload done/, 5_000, mark);

        child.signal("SIGTERM");
        const stopping = await listener.next("STOPPING=1");
        assert.match(field(stopping, "STATUS")!, /^stopping: /);
        assert.equal((await child.exit()).code, 0, child.stderr);
        assert.deepEqual(listener.states, ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"]);
        const fromElsewhere = listener.received.filter((n) => SENDER_IS_PRIMARY && n.pid !== child!.pid);
        assert.deepEqual(fromElsewhere, [], "every notification from the primary");
        assert.ok(!existsSync(started.pidFile), "the pid file is removed at exit");
      } finally {
        child?.killTree();
        listener.stop();
      }
    });
  });
}

describe(`${runtime}: systemd notifications, the watchdog and the pid file`, () => {
  it("one isolate: READY=1, then STOPPING=1; a SIGHUP (ignored) sends nothing", async () => {
    const listener = await Listener.start(socketPath());
    let child: Child | undefined;
    try {
      const started = await start(MODES[0], { NOTIFY_SOCKET: listener.address });
      child = started.child;
      const ready = await listener.next("READY=1");
      assert.equal(field(ready, "MAINPID"), String(child.pid));
      assert.equal(field(ready, "STATUS"), "serving: 1 worker listening (1 configured)");
      const mark = child.mark();
      child.signal("SIGHUP");
      await child.waitFor(/SIGHUP: ignored/, 5_000, mark);
      child.signal("SIGTERM");
      await listener.next("STOPPING=1");
      assert.equal((await child.exit()).code, 0, child.stderr);
      assert.deepEqual(listener.states, ["READY=1", "STOPPING=1"]);
      assert.ok(!existsSync(started.pidFile));
    } finally {
      child?.killTree();
      listener.stop();
    }
  });

  it("WATCHDOG_USEC: WATCHDOG=1 at half the interval once ready, from the primary", async () => {
    const listener = await Listener.start(socketPath());
    let child: Child | undefined;
    try {
      ({ child } = await start(MODES[2], { NOTIFY_SOCKET: listener.address, WATCHDOG_USEC: "600000" }));
      await listener.next("READY=1");
      const first = await listener.next("WATCHDOG=1");
      const third = await listener.next("WATCHDOG=1", 2);
      const apart = Number(third.at - first.at) / 2_000;
      assert.ok(apart > 150 && apart < 600, `WATCHDOG=1 every ${apart} ms, for WATCHDOG_USEC 600 ms`);
      if (SENDER_IS_PRIMARY) assert.equal(third.pid, child.pid);
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0, child.stderr);
    } finally {
      child?.killTree();
      listener.stop();
    }
  });

  it("an abstract NOTIFY_SOCKET (@name)", async () => {
    const listener = await Listener.start(`@multiserve-test-${process.pid}-${++sockets}`);
    let child: Child | undefined;
    try {
      ({ child } = await start(MODES[0], { NOTIFY_SOCKET: listener.address }));
      const ready = await listener.next("READY=1");
      assert.equal(field(ready, "MAINPID"), String(child.pid));
      child.signal("SIGTERM");
      await listener.next("STOPPING=1");
      assert.equal((await child.exit()).code, 0, child.stderr);
    } finally {
      child?.killTree();
      listener.stop();
    }
  });

  it("a pid file naming a running process stops the start with exit 3 and stays as it was", async () => {
    const pidFile = `${dir}/taken.pid`;
    writeFileSync(pidFile, `${process.pid}\n`);
    const child = new Child(modTs, ["-p", "0", "--pid", pidFile, fixture("app.ts")]);
    try {
      const { code } = await child.exit();
      assert.equal(code, 3, child.stderr);
      assert.match(
        child.stderr,
        new RegExp(`pid file ${pidFile} names process ${process.pid}, which is running`),
      );
      assert.equal(readFileSync(pidFile, "utf8"), `${process.pid}\n`);
    } finally {
      child.killTree();
    }
  });

  if (runtime === "deno") {
    it("Deno without --allow-ffi: systemd-notify sends, for the primary", async () => {
      const listener = await Listener.start(socketPath());
      let child: Child | undefined;
      try {
        const flags = [
          "--allow-net",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run",
          "--allow-sys",
        ];
        ({ child } = await start(MODES[0], { NOTIFY_SOCKET: listener.address }, flags));
        const ready = await listener.next("READY=1");
        assert.match(child.stderr, /by Debian's systemd-notify/);
        assert.equal(field(ready, "MAINPID"), String(child.pid));
        child.signal("SIGTERM");
        await listener.next("STOPPING=1");
        assert.equal((await child.exit()).code, 0, child.stderr);
      } finally {
        child?.killTree();
        listener.stop();
      }
    });
  }
});
