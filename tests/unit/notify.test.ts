/**
 * systemd's notifications in-process: the messages a primary sends as its pool boots,
 * serves, reloads, scales and stops (the real supervisor with fake workers, the real
 * registry, a fake socket), the watchdog, reading the environment; and the pieces under the
 * adapters: the socket address as sockaddr_un, the pid file.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { after, describe, it } from "node:test";
import { sockaddrOf } from "../../adapters/_notify.ts";
import { removePidFile, writePidFile } from "../../adapters/_pid_file.ts";
import type { Adapter, NotifySocket } from "../../src/adapter.ts";
import { BootError, OptionError } from "../../src/errors.ts";
import { SystemdNotifier, systemdNotifier } from "../../src/notify.ts";
import { Registry } from "../../src/observe/registry.ts";
import { PoolControl } from "../../src/pool/control.ts";
import { Supervisor } from "../../src/pool/supervisor.ts";
import { FakeWorker, poolOptions, until } from "../_fake_worker.ts";
import { runtime } from "../_harness.ts";

const PID = 4242;

/** A socket that keeps what it is sent; `failing` makes the next sends reject. */
class FakeSocket implements NotifySocket {
  readonly via = "a fake";
  readonly sent: string[] = [];
  failing = false;
  closed = false;
  now = 1_000_000n;
  send(message: string): Promise<void> {
    if (this.failing) return Promise.reject(new Error("refused"));
    this.sent.push(message);
    return Promise.resolve();
  }
  monotonicMicros(): bigint {
    return this.now;
  }
  close(): void {
    this.closed = true;
  }
  /** The messages that carry `key=`, as their `key=value` lines. */
  with(key: string): string[] {
    return this.sent.filter((message) => message.split("\n").some((line) => line.startsWith(`${key}=`)));
  }
  /** The state lines (READY, RELOADING, STOPPING) in the order sent. */
  states(): string[] {
    return this.sent.flatMap((message) =>
      message.split("\n").filter((line) => /^(READY|RELOADING|STOPPING)=/.test(line))
    );
  }
}

/**
 * A primary's wiring, in-process: a control over a supervisor of `count` fake workers, a
 * registry following the pool, and the notifier following both, as src/primary.ts wires them.
 */
class Primary {
  readonly socket = new FakeSocket();
  readonly options = poolOptions();
  readonly workers: FakeWorker[] = [];
  hold = false;
  /** New workers fail before they listen. */
  failing = false;
  readonly registry = new Registry({
    runtime,
    version: "test",
    pid: PID,
    configured: () => this.supervisor.count,
    memory: () => 0,
  });
  readonly notifier: SystemdNotifier;
  readonly supervisor: Supervisor;
  readonly control: PoolControl;

  constructor({ count = 2, watchdogUsec }: { count?: number; watchdogUsec?: number } = {}) {
    this.notifier = new SystemdNotifier({
      socket: this.socket,
      pid: PID,
      watchdogUsec,
      workers: () => this.registry.status().workers,
      log: this.options.log,
      statusDelayMs: 10,
    });
    this.supervisor = new Supervisor({
      ...this.options,
      observe: (event) => {
        this.registry.observe(event);
        this.notifier.observe(event);
      },
      count,
      kind: "process",
      name: String,
      spawn: (): FakeWorker => {
        const worker = new FakeWorker({ boot: this.failing ? "fail" : this.hold ? "hang" : "listen" });
        this.workers.push(worker);
        return worker;
      },
    });
    this.control = new PoolControl({
      alone: false,
      gracefulTimeout: 5,
      log: this.options.log,
      stop: () => void this.control.stop(),
      stopNow: () => this.control.kill(),
      onPhase: (phase) => this.notifier.phase(phase),
    });
    this.control.attach(this.supervisor);
  }

  async close(): Promise<void> {
    await this.control.stop();
    await this.notifier.close();
    this.registry.close();
  }
}

/** Run `body` with a new `Primary`, ending its workers and timers however it ends. */
async function withPrimary(
  options: ConstructorParameters<typeof Primary>[0],
  body: (t: Primary) => Promise<void>,
): Promise<void> {
  const t = new Primary(options);
  try {
    await body(t);
  } finally {
    t.control.kill();
    await t.notifier.close();
    t.registry.close();
  }
}

describe(`${runtime}: systemd notifications (in-process)`, () => {
  it("READY=1 with MAINPID once every worker listens, not before", async () => {
    await withPrimary({}, async (t) => {
      t.hold = true;
      const started = t.control.start();
      await until(() => t.workers.length === 2, "both workers to start");
      t.workers[0].listen();
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.deepEqual(t.socket.states(), [], "nothing is ready while a worker boots");
      t.workers[1].listen();
      await started;
      const [ready] = t.socket.with("READY");
      assert.equal(ready, `READY=1\nMAINPID=${PID}\nSTATUS=serving: 2 workers listening (2 configured)`);
      await t.close();
    });
  });

  it("RELOADING=1 with MONOTONIC_USEC, then READY=1, around each reload; STOPPING=1 as the stop begins", async () => {
    await withPrimary({}, async (t) => {
      await t.control.start();
      t.socket.now = 7_000_000n;
      t.control.signal("SIGHUP");
      await until(() => t.socket.states().length === 3, "the reload's READY=1");
      const reloading = t.socket.with("RELOADING")[0].split("\n");
      assert.deepEqual(reloading.slice(0, 2), ["RELOADING=1", "MONOTONIC_USEC=7000000"]);
      assert.match(reloading[2], /^STATUS=reloading: \d workers? listening \(2 configured\)$/);
      await t.control.reload();
      await until(() => t.control.phase === "serving", "serving again");
      t.control.signal("SIGTERM");
      await until(() => t.socket.states().includes("STOPPING=1"), "STOPPING=1");
      assert.deepEqual(t.socket.states(), [
        "READY=1",
        "RELOADING=1",
        "READY=1",
        "RELOADING=1",
        "READY=1",
        "STOPPING=1",
      ]);
      assert.equal(t.socket.with("MAINPID").length, 1, "MAINPID goes with the first READY=1");
      await t.close();
    });
  });

  it("a reload whose new workers cannot start: RELOADING=1, then READY=1 (the old workers serve on)", async () => {
    await withPrimary({}, async (t) => {
      await t.control.start();
      t.failing = true;
      await assert.rejects(t.control.reload());
      await until(() => t.socket.states().length === 3, "READY=1 after the failed reload");
      assert.deepEqual(t.socket.states(), ["READY=1", "RELOADING=1", "READY=1"]);
      assert.equal(t.socket.sent.at(-1), "READY=1\nSTATUS=serving: 2 workers listening (2 configured)");
    });
  });

  it("a SIGHUP while the workers boot: READY=1 first, then the reload's RELOADING=1 and READY=1", async () => {
    await withPrimary({}, async (t) => {
      t.hold = true;
      const started = t.control.start();
      await until(() => t.workers.length === 2, "both workers to start");
      t.control.signal("SIGHUP");
      t.hold = false;
      for (const worker of t.workers) worker.listen();
      await started;
      await until(() => t.socket.states().length === 3, "the reload's READY=1");
      assert.deepEqual(t.socket.states(), ["READY=1", "RELOADING=1", "READY=1"]);
      await t.close();
    });
  });

  it("scaling and replacements change STATUS only, once settled, and only when it changed", async () => {
    await withPrimary({}, async (t) => {
      await t.control.start();
      await t.control.scale(3);
      await until(
        () => t.socket.with("STATUS").at(-1)!.includes("serving: 3 workers"),
        "STATUS with 3 workers",
      );
      const statuses = t.socket.with("STATUS").map((message) => message.split("\n").at(-1));
      assert.ok(statuses.some((status) => status!.startsWith("STATUS=scaling: ")), statuses.join("\n"));
      assert.equal(
        new Set(statuses).size,
        statuses.length,
        `no STATUS twice in a row:\n${statuses.join("\n")}`,
      );
      t.workers[0].exit(1); // a crash: replaced
      await until(() => t.workers.length === 4, "the replacement");
      await until(
        () => t.socket.sent.at(-1) === "STATUS=serving: 3 workers listening (3 configured)",
        "STATUS back to 3",
      );
      assert.deepEqual(t.socket.states(), ["READY=1"], "scaling and crashes are no reloads");
      await t.close();
    });
  });

  it("WATCHDOG=1 at half of WATCHDOG_USEC once ready, while a worker listens; none once closed", async () => {
    await withPrimary({ count: 1, watchdogUsec: 60_000 }, async (t) => {
      await new Promise((resolve) => setTimeout(resolve, 80));
      t.hold = true;
      const started = t.control.start();
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(t.socket.with("WATCHDOG").length, 0, "no watchdog before READY=1");
      t.hold = false;
      t.workers[0].listen();
      await started;
      await until(() => t.socket.with("WATCHDOG").length >= 3, "three WATCHDOG=1");
      // The only worker gone, its replacement still booting: no worker serves, no ping.
      t.hold = true;
      t.workers[0].exit(1);
      await until(() => t.registry.status().workers.alive === 0, "no worker listening");
      const silent = t.socket.with("WATCHDOG").length;
      await new Promise((resolve) => setTimeout(resolve, 120));
      assert.equal(t.socket.with("WATCHDOG").length, silent, "no WATCHDOG=1 while no worker serves");
      t.workers[1].listen();
      await until(() => t.socket.with("WATCHDOG").length > silent, "WATCHDOG=1 again");
      await t.close();
      const closed = t.socket.sent.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(t.socket.sent.length, closed, "nothing after close()");
      assert.ok(t.socket.closed);
    });
  });

  it("a failed send is said once, and the next messages still go", async () => {
    await withPrimary({}, async (t) => {
      t.socket.failing = true;
      await t.control.start();
      t.control.signal("SIGHUP");
      await until(() => t.control.phase === "reloading", "the reload");
      await t.control.reload();
      t.socket.failing = false;
      t.control.signal("SIGTERM");
      await until(() => t.socket.states().includes("STOPPING=1"), "STOPPING=1");
      assert.equal(
        t.options.lines.filter((line) => /notification was not sent: refused/.test(line)).length,
        1,
      );
      await t.close();
    });
  });
});

describe(`${runtime}: systemd's environment`, () => {
  const saved = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"].map((name) => [name, process.env[name]]);
  after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name!];
      else process.env[name!] = value;
    }
  });
  const adapter = (socket: NotifySocket | string, asked: string[] = []) =>
    ({
      notifySocket: (address: string) => {
        asked.push(address);
        return Promise.resolve(socket);
      },
    }) as unknown as Adapter;
  const lines: string[] = [];
  const options = {
    pid: PID,
    workers: () => ({ alive: 1, configured: 1 }),
    log: (_: string, line: string) => lines.push(line),
  };

  it("NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read, then removed for the workers", async () => {
    Object.assign(process.env, {
      NOTIFY_SOCKET: "/run/notify",
      WATCHDOG_USEC: "40000",
      WATCHDOG_PID: String(PID),
    });
    const socket = new FakeSocket();
    const asked: string[] = [];
    const notifier = await systemdNotifier(adapter(socket, asked), options);
    assert.ok(notifier);
    assert.deepEqual(asked, ["/run/notify"]);
    for (const name of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) {
      assert.equal(process.env[name], undefined);
    }
    notifier.phase("serving");
    await until(() => socket.with("WATCHDOG").length > 0, "WATCHDOG=1");
    await notifier.close();
    assert.match(lines.at(-1)!, /notifying \/run\/notify by a fake; WATCHDOG=1 every 0\.02 s/);
  });

  it("no watchdog when WATCHDOG_PID names another process; nothing without NOTIFY_SOCKET", async () => {
    Object.assign(process.env, { NOTIFY_SOCKET: "@abstract", WATCHDOG_USEC: "20000", WATCHDOG_PID: "1" });
    const socket = new FakeSocket();
    const notifier = await systemdNotifier(adapter(socket), options);
    notifier!.phase("serving");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(socket.with("WATCHDOG").length, 0);
    await notifier!.close();
    assert.equal(await systemdNotifier(adapter(socket), options), undefined, "NOTIFY_SOCKET is gone now");
  });

  it("a socket the runtime cannot send to is said, as a warning", async () => {
    process.env.NOTIFY_SOCKET = "/run/notify";
    assert.equal(await systemdNotifier(adapter("needs --allow-ffi"), options), undefined);
    assert.match(lines.at(-1)!, /NOTIFY_SOCKET is set, but no notification can be sent: needs --allow-ffi/);
  });
});

describe(`${runtime}: the adapters' pieces`, () => {
  it("a socket's address as sockaddr_un: a path ends with NUL, an abstract name starts with one", () => {
    const bytes = (value: Uint8Array | string) => Array.from(value as Uint8Array);
    assert.deepEqual(bytes(sockaddrOf("/run/n")), [1, 0, ...new TextEncoder().encode("/run/n"), 0]);
    assert.deepEqual(bytes(sockaddrOf("@sd/n")), [1, 0, 0, ...new TextEncoder().encode("sd/n")]);
    assert.match(sockaddrOf(`/${"x".repeat(107)}`) as string, /longer than 108 bytes/);
    assert.equal((sockaddrOf(`/${"x".repeat(106)}`) as Uint8Array).length, 110);
    assert.match(sockaddrOf("vsock:2:1234") as string, /not a unix socket's address/);
  });

  const dir = mkdtempSync(`${tmpdir()}/multiserve-pid-`);
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("the pid file: written whole, refused while it names a running process, replaced when stale", () => {
    const path = `${dir}/app.pid`;
    writePidFile(path, 4242);
    assert.equal(readFileSync(path, "utf8"), "4242\n");
    writeFileSync(path, `${process.pid}\n`); // this test's process is running
    assert.throws(() => writePidFile(path, 4242), (error) => {
      assert.ok(error instanceof BootError);
      assert.match(error.message, new RegExp(`names process ${process.pid}, which is running`));
      return true;
    });
    writeFileSync(path, "2147483646\n"); // no such process
    writePidFile(path, 4242);
    assert.equal(readFileSync(path, "utf8"), "4242\n");
    assert.throws(() => writePidFile(`${dir}/missing/app.pid`, 4242), OptionError);
  });

  it("the pid file is removed only while it names this process", () => {
    const path = `${dir}/other.pid`;
    writeFileSync(path, "4343\n");
    removePidFile(path, 4242);
    assert.equal(readFileSync(path, "utf8"), "4343\n", "another server's file stays");
    removePidFile(path, 4343);
    assert.throws(() => readFileSync(path), /ENOENT/);
    removePidFile(path, 4343); // gone already: no error
  });
});
