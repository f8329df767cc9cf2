/**
 * The supervisor and the thread host in-process, with fake workers: what they do when
 * workers listen, fail, crash, hang, retire, reload, scale and stop. The same behaviour
 * with real processes and threads is in supervision.test.ts, graceful_restarts.test.ts and
 * lifecycle.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppLoadError, BootError, EXIT } from "../../src/errors.ts";
import type { PoolEvent } from "../../src/observe/events.ts";
import { Supervisor } from "../../src/pool/supervisor.ts";
import { ThreadHost } from "../../src/pool/thread_host.ts";
import { FakeWorker, poolOptions, type Script, until } from "../_fake_worker.ts";
import { runtime } from "../_harness.ts";

/** A supervisor of `count` fake workers; `scripts(id, nth)` picks how the nth start of place `id` behaves. */
function supervise(
  count: number,
  scripts: (id: number, nth: number) => Script = () => ({}),
  overrides: Parameters<typeof poolOptions>[0] = {},
) {
  const options = poolOptions(overrides);
  const spawned: { id: number; worker: FakeWorker; at: number }[] = [];
  const starts = new Map<number, number>();
  const supervisor = new Supervisor({
    ...options,
    count,
    kind: "process",
    name: String,
    spawn: (id) => {
      const nth = (starts.get(id) ?? 0) + 1;
      starts.set(id, nth);
      const worker = new FakeWorker(scripts(id, nth));
      spawned.push({ id, worker, at: Date.now() });
      return worker;
    },
  });
  const alive = () => spawned.filter((s) => !s.worker.exited);
  return { supervisor, options, spawned, alive };
}

describe(`${runtime}: the supervisor (fake workers)`, () => {
  it("starts every worker and resolves once all listen", async () => {
    const { supervisor, spawned, options } = supervise(3);
    await supervisor.start();
    assert.deepEqual(spawned.map((s) => s.id), [1, 2, 3]);
    assert.equal(supervisor.count, 3);
    assert.equal(options.lines.filter((line) => line.endsWith(" ready")).length, 3);
    await supervisor.stop();
  });

  it("a worker that cannot boot fails the start with its reason, stops the rest, starts no other", async () => {
    const { supervisor, spawned } = supervise(
      2,
      (id) => id === 2 ? { boot: "fail", code: EXIT.appLoad } : {},
    );
    await assert.rejects(supervisor.start(), (error: unknown) => {
      assert.ok(error instanceof AppLoadError);
      assert.match((error as Error).message, /cannot start/);
      return true;
    });
    await until(() => spawned.every((s) => s.worker.exited), "every worker to end");
    assert.equal(spawned.length, 2, "no respawn after a boot failure");
    assert.ok(spawned[0].worker.stopped, "the worker that listened was stopped");
  });

  it("replaces a crashed worker at once, then backs off 100 ms, 200 ms as crashes repeat", async () => {
    const { supervisor, spawned, options } = supervise(1);
    await supervisor.start();
    const ready = () => options.lines.filter((line) => line.endsWith(" ready")).length;
    const gaps: number[] = [];
    for (let crash = 0; crash < 3; crash++) {
      const before = spawned.length;
      const died = Date.now();
      spawned[before - 1].worker.exit(1);
      await until(() => spawned.length === before + 1, `replacement ${crash + 1}`);
      gaps.push(spawned[before].at - died);
      await until(() => ready() === crash + 2, "the replacement to listen");
    }
    assert.ok(gaps[0] < 50, `first replacement at once, took ${gaps[0]} ms`);
    assert.ok(gaps[1] >= 95 && gaps[1] < 400, `second after ~100 ms, took ${gaps[1]} ms`);
    assert.ok(gaps[2] >= 195 && gaps[2] < 600, `third after ~200 ms, took ${gaps[2]} ms`);
    assert.ok(spawned.every((s) => s.id === 1), "a replacement keeps its place");
    await supervisor.stop();
  });

  it("a crashed worker whose replacement cannot boot is fatal: onFatal, no respawn loop", async () => {
    const { supervisor, spawned, options } = supervise(
      1,
      (_id, nth) => nth === 1 ? {} : { boot: "exit", code: 1 },
    );
    await supervisor.start();
    spawned[0].worker.exit(1);
    await until(() => options.fatal.length === 1, "onFatal");
    assert.ok(options.fatal[0] instanceof BootError);
    assert.match(options.fatal[0].message, /process 1 \(pid \d+\) exited before listening \(exit code 1\)/);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(spawned.length, 2);
    await supervisor.stop();
  });

  it("kills a worker whose heartbeat goes silent past timeout, and replaces it", async () => {
    const { supervisor, spawned, options } = supervise(2, () => ({}), { timeout: 0.2 });
    await supervisor.start();
    spawned[0].worker.block();
    await until(() => spawned[0].worker.killed, "the silent worker to be killed");
    await until(() => spawned.length === 3 && supervisor.count === 2, "its replacement");
    assert.equal(spawned[2].id, 1);
    assert.ok(!spawned[1].worker.killed, "the healthy one is left alone");
    assert.ok(
      options.lines.some((line) =>
        /process 1 \(pid \d+\) timed out: its event loop sent no heartbeat/.test(line)
      ),
    );
    await supervisor.stop();
  });

  it("a worker that never listens, its loop free (an awaited connect that never ends), fails after bootTimeout", async () => {
    const { supervisor, spawned } = supervise(2, (id) => id === 2 ? { boot: "hang" } : {}, {
      bootTimeout: 0.3,
    });
    const started = Date.now();
    await assert.rejects(
      supervisor.start(),
      /process 2 \(pid \d+\) did not listen within 0\.\d s of starting \(bootTimeout 0\.3 s\)/,
    );
    const took = Date.now() - started;
    assert.ok(took >= 300 && took < 1_500, `failed after ${took} ms`);
    assert.ok(spawned[1].worker.killed);
    assert.equal(spawned.length, 2);
  });

  it("a failed start kills a worker that does not heed its stop while starting within moments, not after gracefulTimeout", async () => {
    // A Bun thread told to stop before it listens for that never hears it, and boots on.
    const { supervisor, spawned, options } = supervise(
      2,
      (id) => id === 1 ? { boot: "fail", code: EXIT.boot } : { boot: "hang", onStop: "ignore" },
      { gracefulTimeout: 30 },
    );
    const began = Date.now();
    await assert.rejects(supervisor.start(), BootError);
    const took = Date.now() - began;
    assert.ok(took < 5_000, `the failed start ended in ${took} ms, not after the 30 s graceful timeout`);
    assert.ok(spawned[1].worker.stopped && spawned[1].worker.killed, "stopped, then killed");
    assert.ok(options.lines.some((line) => line.includes("killed: still starting after it was stopped")));
  });

  it("a worker whose loop blocks while it boots fails after timeout: hung while starting", async () => {
    const { supervisor } = supervise(1, () => ({ boot: "hang", beatEveryMs: 0 }), { timeout: 0.2 });
    await assert.rejects(supervisor.start(), (error: unknown) => {
      assert.ok(error instanceof BootError);
      assert.match((error as Error).message, /hung while starting: its event loop sent no heartbeat/);
      return true;
    });
  });

  it("recycles a worker that served its quota: the replacement listens first, then the old one stops", async () => {
    const { supervisor, spawned } = supervise(1, (_id, nth) => nth === 2 ? { boot: "hang" } : {});
    await supervisor.start();
    const old = spawned[0].worker;
    old.send({ multiserve: "retire", requests: 100 });
    await until(() => spawned.length === 2, "the replacement");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(!old.stopped, "the old worker serves until its replacement listens");
    spawned[1].worker.send({ multiserve: "listening", port: 8000 });
    await until(() => old.stopped, "the old worker to stop");
    assert.equal(supervisor.count, 1);
    await supervisor.stop();
  });

  it("recycles a worker over maxWorkerMemory once, counted as memory, its figure logged: the replacement listens first", async () => {
    const events: PoolEvent[] = [];
    const { supervisor, spawned, options } = supervise(2, (_id, nth) => nth === 2 ? { boot: "hang" } : {}, {
      observe: (event) => events.push(event),
    });
    await supervisor.start();
    const old = spawned[0].worker;
    const MiB = 2 ** 20;
    old.send({ multiserve: "retire", memory: 300.04 * MiB, limit: 256 * MiB });
    await until(() => spawned.length === 3, "the replacement");
    // Asking again while the replacement starts (a worker asks once; a supervisor must not
    // count on it) starts no other.
    old.send({ multiserve: "retire", memory: 310 * MiB, limit: 256 * MiB });
    old.send({ multiserve: "retire", requests: 100 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(spawned.length, 3, "one replacement");
    assert.ok(!old.stopped, "the old worker serves until its replacement listens");
    assert.deepEqual(spawned.map((s) => s.id), [1, 2, 1]);
    spawned[2].worker.listen();
    await until(() => old.exited, "the old worker to drain and exit");
    assert.ok(old.stopped && !old.killed && old.restart, "stopped gracefully, as one replaced");
    assert.ok(!spawned[1].worker.stopped, "the other worker is left alone");
    assert.deepEqual(events.filter((e) => e.type === "restart"), [{ type: "restart", reason: "memory" }]);
    const lines = options.lines.filter((line) => /MiB/.test(line));
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(
      lines[0],
      /^process 1 \(pid \d+\) uses 300 MiB \(RSS\), over maxWorkerMemory 256 MiB: starting its replacement$/,
    );
    assert.match(lines[1], /^process 1 \(pid \d+\) exited \(exit code 0; recycled at 300 MiB\)$/);
    assert.equal(supervisor.count, 2);
    await supervisor.stop();
  });

  it("replaces a worker that stopped serving, counted as unserving: the replacement first, then the deaf one drains", async () => {
    const events: PoolEvent[] = [];
    const { supervisor, spawned, options } = supervise(2, () => ({}), {
      observe: (event) => events.push(event),
    });
    await supervisor.start();
    const deaf = spawned[1].worker;
    deaf.send({ multiserve: "unserving", reason: "its server stopped listening" });
    await until(() => deaf.exited, "the deaf worker to end");
    assert.deepEqual(spawned.map((s) => s.id), [1, 2, 2]);
    assert.ok(deaf.stopped && !deaf.killed && deaf.restart, "stopped gracefully, as one replaced");
    assert.ok(!spawned[2].worker.stopped, "its replacement serves");
    assert.deepEqual(events.filter((e) => e.type === "restart"), [{ type: "restart", reason: "unserving" }]);
    assert.ok(options.lines.some((line) => /stopped serving \(its server stopped listening\)/.test(line)));
    assert.equal(supervisor.count, 2);
    await supervisor.stop();
  });

  it("gives up when a deaf worker's replacement cannot start", async () => {
    const { supervisor, spawned, options } = supervise(1, (_id, nth) => nth === 2 ? { boot: "fail" } : {});
    await supervisor.start();
    spawned[0].worker.send({ multiserve: "unserving", reason: "its server stopped listening" });
    await until(() => options.fatal.length === 1, "the failure to be fatal");
    await until(() => spawned[0].worker.exited, "the deaf worker to end");
    await supervisor.stop();
  });

  it("reloads: a new generation in every place, the old one stops once all of it listens", async () => {
    const { supervisor, spawned } = supervise(2);
    await supervisor.start();
    await supervisor.reload();
    assert.deepEqual(spawned.map((s) => s.id), [1, 2, 1, 2]);
    await until(() => spawned[0].worker.exited && spawned[1].worker.exited, "the old generation to end");
    assert.ok(spawned[0].worker.stopped && spawned[1].worker.stopped, "stopped, not killed");
    assert.equal(supervisor.count, 2);
    await supervisor.stop();
  });

  it("a reload that cannot boot keeps the current workers serving, and a later one works", async () => {
    let broken = true;
    const { supervisor, spawned } = supervise(
      2,
      (_id, nth) => nth === 2 && broken ? { boot: "fail", code: EXIT.appLoad } : {},
    );
    await supervisor.start();
    await assert.rejects(supervisor.reload(), AppLoadError);
    assert.ok(!spawned[0].worker.stopped && !spawned[1].worker.stopped, "the old ones keep serving");
    await until(() => spawned.slice(2).every((s) => s.worker.exited), "the failed new ones to end");
    assert.equal(supervisor.count, 2);
    broken = false;
    await supervisor.reload();
    await until(() => spawned[0].worker.exited && spawned[1].worker.exited, "the old generation to end");
    await supervisor.stop();
  });

  it("a failed reload kills a new worker that hangs while starting within moments, not after gracefulTimeout", async () => {
    const { supervisor, spawned, options } = supervise(
      2,
      (id, nth) =>
        nth !== 2 ? {} : id === 1 ? { boot: "fail", code: EXIT.appLoad } : { boot: "hang", onStop: "ignore" },
      { gracefulTimeout: 30 },
    );
    await supervisor.start();
    const began = Date.now();
    await assert.rejects(supervisor.reload(), AppLoadError);
    const took = Date.now() - began;
    assert.ok(took < 5_000, `the failed reload ended in ${took} ms, not after the 30 s graceful timeout`);
    assert.ok(spawned[3].worker.killed, "the new worker that hung while starting was killed");
    assert.ok(options.lines.some((line) => line.includes("killed: still starting after it was stopped")));
    assert.ok(!spawned[0].worker.stopped && !spawned[1].worker.stopped, "the old ones keep serving");
    await supervisor.reload();
    await until(() => spawned[0].worker.exited && spawned[1].worker.exited, "the old generation to end");
    await supervisor.stop();
  });

  it("scales up into free places and down by stopping the oldest, never below 1; signals add up", async () => {
    const { supervisor, spawned } = supervise(2);
    await supervisor.start();
    await supervisor.scale(4);
    assert.deepEqual(spawned.map((s) => s.id), [1, 2, 3, 4]);
    await supervisor.scale(1);
    await until(() => spawned.slice(0, 3).every((s) => s.worker.exited), "the three oldest to stop");
    assert.ok(!spawned[3].worker.stopped, "the youngest stays");
    await Promise.all([supervisor.scale((n) => n + 1), supervisor.scale((n) => n + 1)]);
    assert.equal(supervisor.count, 3);
    await supervisor.scale(0);
    assert.equal(supervisor.count, 1);
    await supervisor.stop();
  });

  it("stop waits for draining workers, and kills one that hangs while draining once its heartbeat is silent", async () => {
    const { supervisor, spawned } = supervise(2, (id) => id === 1 ? { onStop: "ignore" } : {}, {
      timeout: 0.2,
      gracefulTimeout: 30,
    });
    await supervisor.start();
    spawned[0].worker.block();
    const stopping = Date.now();
    await supervisor.stop();
    assert.ok(
      Date.now() - stopping < 2_000,
      `stopping took ${Date.now() - stopping} ms, not the grace of 30 s`,
    );
    assert.ok(spawned[0].worker.killed, "the hung one was killed");
    assert.ok(!spawned[1].worker.killed, "the other drained and exited");
  });

  it("stop kills a worker still running past gracefulTimeout", async () => {
    const { supervisor, spawned } = supervise(1, () => ({ onStop: "ignore" }), { gracefulTimeout: 0.05 });
    await supervisor.start();
    await supervisor.stop();
    assert.ok(spawned[0].worker.killed);
  });

  it("stop while workers boot: they are stopped, and start resolves without them listening", async () => {
    const { supervisor, spawned } = supervise(2, () => ({ boot: "hang" }));
    const start = supervisor.start();
    await until(() => spawned.length === 2, "both to start");
    await supervisor.stop();
    await start;
    assert.ok(spawned.every((s) => s.worker.stopped && s.worker.exited));
  });

  it("a reload whose turn comes after the stop began starts nothing and says nothing", async () => {
    const { supervisor, spawned, options } = supervise(2, (id) => id === 3 ? { boot: "hang" } : {});
    await supervisor.start();
    const scaling = supervisor.scale(3); // its third worker hangs: the reload waits behind it
    const reloading = supervisor.reload();
    await until(() => spawned.length === 3, "the third worker to start");
    await supervisor.stop();
    await Promise.all([scaling, reloading]);
    assert.equal(spawned.length, 3);
    assert.deepEqual(options.lines.filter((line) => line.startsWith("reload")), []);
  });

  it("kill ends every worker at once", async () => {
    const { supervisor, spawned } = supervise(2);
    await supervisor.start();
    supervisor.kill();
    assert.ok(spawned.every((s) => s.worker.killed));
  });
});

describe(`${runtime}: the thread host (a fake host process)`, () => {
  function host(threads: number) {
    const options = poolOptions();
    const hosts: { worker: FakeWorker; threads: number }[] = [];
    const pool = new ThreadHost({
      ...options,
      threads,
      spawn: (count) => {
        const worker = new FakeWorker({});
        hosts.push({ worker, threads: count });
        return worker;
      },
    });
    /** Answer the newest command as the host process would. */
    const answer = (workers: number, error?: string) => {
      const { worker } = hosts.at(-1)!;
      const seq = worker.commands.at(-1)!.seq;
      worker.send({ multiserve: "done", seq, workers, error });
    };
    return { pool, hosts, answer, options };
  }

  it("runs the threads in one process, forwards reload and scaling to it, and counts its threads", async () => {
    const { pool, hosts, answer } = host(2);
    await pool.start();
    assert.deepEqual(hosts.map((h) => h.threads), [2]);
    assert.equal(pool.count, 2);
    const reload = pool.reload();
    await until(() => hosts[0].worker.commands.length === 1, "the reload command");
    assert.equal(hosts[0].worker.commands[0].command, "reload");
    answer(2);
    await reload;
    const scale = pool.scale((n) => n + 1);
    await until(() => hosts[0].worker.commands.length === 2, "the scale command");
    assert.deepEqual({ ...hosts[0].worker.commands[1], seq: 0 }, {
      multiserve: "command",
      seq: 0,
      command: "scale",
      count: 3,
    });
    answer(3);
    await scale;
    assert.equal(pool.count, 3);
    await pool.stop();
  });

  it("a failed command rejects with the host's reason", async () => {
    const { pool, hosts, answer } = host(2);
    await pool.start();
    const reload = pool.reload();
    await until(() => hosts[0].worker.commands.length === 1, "the reload command");
    answer(2, "the new threads could not start");
    await assert.rejects(reload, /the new threads could not start/);
    await pool.stop();
  });

  it("a host that dies is replaced with as many threads as it had; a command in flight rejects", async () => {
    const { pool, hosts, answer } = host(2);
    await pool.start();
    const scale = pool.scale(3);
    await until(() => hosts[0].worker.commands.length === 1, "the scale command");
    answer(3);
    await scale;
    const reload = pool.reload();
    await until(() => hosts[0].worker.commands.length === 2, "the reload command");
    hosts[0].worker.exit(5); // a thread hung: its process ends
    await assert.rejects(reload, /exited before it finished/);
    await until(() => hosts.length === 2, "a new host process");
    assert.equal(hosts[1].threads, 3);
    await pool.stop();
  });
});
