/**
 * What every signal does to the primary's pool at every point of its life: booting,
 * serving, reloading, scaling, stopping, and with one isolate serving alone (PoolControl,
 * driving the real Supervisor with fake workers). Each is run, queued, merged or refused,
 * and said; none kills a worker that should live or loses one asked for. The same with
 * real servers is in signals_at_any_time.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Signal } from "../../src/adapter.ts";
import { StoppedError } from "../../src/errors.ts";
import { PoolControl } from "../../src/pool/control.ts";
import { Supervisor } from "../../src/pool/supervisor.ts";
import { FakeWorker, poolOptions, until } from "../_fake_worker.ts";
import { runtime } from "../_harness.ts";

const SIGNALS = ["SIGHUP", "SIGTTIN", "SIGTTOU", "SIGUSR2", "SIGTERM", "SIGINT"] as const;

/**
 * A control over a supervisor of 2 fake workers, wired as the primary wires it: the first
 * stop signal stops the pool, a second kills it. While `hold` is set, new workers boot until
 * `release()` lets them listen; while `stubborn` is set, new workers ignore a stop.
 */
class Pool {
  readonly options = poolOptions();
  readonly workers: FakeWorker[] = [];
  readonly stops: Signal[] = [];
  readonly stopsNow: [Signal, number][] = [];
  hold = false;
  stubborn = false;
  /** Who asked for each upgrade run (the primary's part, faked), in order. */
  readonly upgrades: string[] = [];
  /** While set, an upgrade runs until `endUpgrade()`. */
  holdUpgrade = false;
  #endUpgrade: ((error?: Error) => void) | undefined;
  #stopped: Promise<void> = Promise.resolve();
  readonly supervisor = new Supervisor({
    ...this.options,
    count: 2,
    kind: "process",
    name: String,
    spawn: (): FakeWorker => {
      const worker = new FakeWorker({
        boot: this.hold ? "hang" : "listen",
        onStop: this.stubborn ? "ignore" : "exit",
      });
      this.workers.push(worker);
      return worker;
    },
  });
  readonly control: PoolControl;

  constructor({ alone = false } = {}) {
    this.control = new PoolControl({
      alone,
      gracefulTimeout: 5,
      log: this.options.log,
      stop: (signal) => {
        this.stops.push(signal);
        this.#stopped = this.control.stop();
      },
      stopNow: (signal, code) => {
        this.stopsNow.push([signal, code]);
        this.control.kill();
      },
      upgrade: (by) => {
        this.upgrades.push(by);
        if (!this.holdUpgrade) return Promise.resolve();
        return new Promise((resolve, reject) => {
          this.#endUpgrade = (error) => error ? reject(error) : resolve();
        });
      },
    });
    if (!alone) this.control.attach(this.supervisor);
  }

  /** Let every worker still booting listen, and the next ones listen at once. */
  release(): void {
    this.hold = false;
    for (const worker of this.workers) worker.listen();
  }

  /** End the upgrade under way: taken over, or failed with `error`. */
  endUpgrade(error?: Error): void {
    this.#endUpgrade?.(error);
  }

  /** The graceful stop a stop signal began, once it ends. */
  stopped(): Promise<void> {
    return this.#stopped;
  }

  /** The log lines that match `pattern`. */
  lines(pattern: RegExp): string[] {
    return this.options.lines.filter((line) => pattern.test(line));
  }
}

const setUp = (options?: { alone?: boolean }) => new Pool(options);

/** Bring `t` into a phase; the function returned lets that phase end. */
const PHASES = {
  async booting(t: Pool) {
    t.hold = true;
    const started = t.control.start();
    await until(() => t.workers.length === 2, "both workers to start");
    assert.equal(t.control.phase, "booting");
    return async () => {
      t.release();
      await started;
    };
  },
  async serving(t: Pool) {
    await t.control.start();
    assert.equal(t.control.phase, "serving");
    return async () => {};
  },
  async reloading(t: Pool) {
    await t.control.start();
    t.hold = true;
    const reloading = t.control.reload();
    await until(() => t.workers.length === 4, "the new generation to start");
    assert.equal(t.control.phase, "reloading");
    return async () => {
      t.release();
      await reloading;
    };
  },
  async scaling(t: Pool) {
    await t.control.start();
    t.hold = true;
    const scaling = t.control.scale(3);
    await until(() => t.workers.length === 3, "the third worker to start");
    assert.equal(t.control.phase, "scaling");
    return async () => {
      t.release();
      await scaling;
    };
  },
  async stopping(t: Pool) {
    t.stubborn = true; // the stop lasts until the test ends the workers
    await t.control.start();
    t.control.signal("SIGTERM");
    await until(() => t.workers.every((worker) => worker.stopped), "the stop to reach every worker");
    assert.equal(t.control.phase, "stopping");
    return async () => {
      for (const worker of t.workers) worker.exit(0);
      await t.stopped();
    };
  },
};

/** Wait until what was queued has run and the pool serves, its workers all listening. */
async function settled(t: Pool, what: string): Promise<void> {
  await until(
    () => t.control.phase === "serving" && t.supervisor.count === t.workers.filter((w) => !w.exited).length,
    what,
  );
}

/** No worker was killed, and nothing began a stop: what a signal that is no stop must leave. */
function nothingKilled(t: Pool): void {
  assert.deepEqual(t.stops, []);
  assert.deepEqual(t.stopsNow, []);
  assert.ok(t.workers.every((worker) => !worker.killed), "no worker killed");
  assert.deepEqual(t.options.fatal, []);
}

/** A stop signal began the graceful stop: every worker is asked to stop and ends, none killed. */
async function gracefulStop(t: Pool, signal: Signal, end: () => Promise<void>): Promise<void> {
  assert.deepEqual(t.stops, [signal]);
  assert.equal(t.control.phase, "stopping");
  await end();
  await t.stopped();
  assert.ok(t.workers.every((worker) => worker.stopped && worker.exited), "every worker stopped");
  assert.ok(t.workers.every((worker) => !worker.killed), "none killed");
  assert.deepEqual(t.stopsNow, []);
}

/** What each signal must do in each phase: `end` lets the phase end. */
const EXPECT: Record<
  keyof typeof PHASES,
  Record<Signal, (t: Pool, end: () => Promise<void>) => Promise<void>>
> = {
  booting: {
    async SIGHUP(t, end) {
      t.control.signal("SIGHUP");
      t.control.signal("SIGHUP");
      assert.equal(t.lines(/^SIGHUP: rolling reload, queued until every worker listens$/).length, 1);
      assert.equal(t.lines(/^SIGHUP: a reload is queued already \(SIGHUP\); merged into it$/).length, 1);
      assert.equal(t.lines(/^reload:/).length, 0, "no reload while booting");
      await end();
      await until(() => t.lines(/^reload done/).length === 1, "the queued reload");
      await settled(t, "the reload to end");
      assert.equal(t.lines(/^reload: starting 2 new processes$/).length, 1, "one reload for both");
      assert.equal(t.workers.length, 4);
      assert.ok(t.workers.slice(0, 2).every((w) => w.stopped && w.restart), "the first generation reloaded");
      assert.equal(t.supervisor.count, 2);
      nothingKilled(t);
    },
    async SIGTTIN(t, end) {
      t.control.signal("SIGTTIN");
      assert.equal(t.lines(/^SIGTTIN: one worker more, queued until every worker listens$/).length, 1);
      assert.equal(t.workers.length, 2, "not applied while booting");
      await end();
      await until(() => t.supervisor.count === 3, "a third worker");
      await settled(t, "the scaling to end");
      assert.equal(t.lines(/^scaling from 2 to 3 processes$/).length, 1);
      nothingKilled(t);
    },
    async SIGTTOU(t, end) {
      t.control.signal("SIGTTOU");
      assert.equal(t.lines(/^SIGTTOU: one worker fewer, queued until every worker listens$/).length, 1);
      await end();
      await until(() => t.supervisor.count === 1, "one worker fewer");
      await settled(t, "the scaling to end");
      assert.ok(t.workers[0].stopped && t.workers[0].exited, "the oldest went");
      assert.ok(!t.workers[1].stopped);
      nothingKilled(t);
    },
    async SIGUSR2(t, end) {
      t.control.signal("SIGUSR2");
      t.control.signal("SIGUSR2");
      assert.deepEqual(t.lines(/^SIGUSR2/), [
        "SIGUSR2: upgrade, queued until every worker listens",
        "SIGUSR2: an upgrade is queued already (SIGUSR2); merged into it",
      ]);
      assert.deepEqual(t.upgrades, [], "no upgrade while booting");
      await end();
      await until(() => t.upgrades.length === 1, "the queued upgrade");
      await settled(t, "the upgrade to end");
      assert.deepEqual(t.upgrades, ["SIGUSR2"], "one upgrade for both");
      nothingKilled(t);
    },
    async SIGTERM(t, end) {
      await stopWhileBooting(t, "SIGTERM", end);
    },
    async SIGINT(t, end) {
      await stopWhileBooting(t, "SIGINT", end);
    },
  },
  serving: {
    async SIGHUP(t) {
      t.control.signal("SIGHUP");
      assert.deepEqual(t.lines(/^SIGHUP/), ["SIGHUP: rolling reload"]);
      await until(() => t.lines(/^reload done/).length === 1, "the reload");
      await settled(t, "the reload to end");
      assert.equal(t.workers.length, 4);
      nothingKilled(t);
    },
    async SIGTTIN(t) {
      t.control.signal("SIGTTIN");
      assert.deepEqual(t.lines(/^SIGTTIN/), ["SIGTTIN: one worker more"]);
      await until(() => t.supervisor.count === 3, "a third worker");
      await settled(t, "the scaling to end");
      nothingKilled(t);
    },
    async SIGTTOU(t) {
      t.control.signal("SIGTTOU");
      assert.deepEqual(t.lines(/^SIGTTOU/), ["SIGTTOU: one worker fewer"]);
      await until(() => t.supervisor.count === 1 && t.workers[0].exited, "the oldest to go");
      await settled(t, "the scaling to end");
      // Down to one, a further SIGTTOU keeps it.
      t.control.signal("SIGTTOU");
      assert.equal(t.lines(/^SIGTTOU: already down to 1 worker; keeping it$/).length, 1);
      assert.equal(t.supervisor.count, 1);
      nothingKilled(t);
    },
    async SIGUSR2(t) {
      t.control.signal("SIGUSR2");
      assert.deepEqual(t.lines(/^SIGUSR2/), ["SIGUSR2: upgrade"]);
      await until(() => t.upgrades.length === 1, "the upgrade");
      await settled(t, "the upgrade to end");
      assert.deepEqual(t.upgrades, ["SIGUSR2"]);
      nothingKilled(t);
    },
    async SIGTERM(t, end) {
      t.control.signal("SIGTERM");
      await gracefulStop(t, "SIGTERM", end);
    },
    async SIGINT(t, end) {
      t.control.signal("SIGINT");
      await gracefulStop(t, "SIGINT", end);
    },
  },
  reloading: {
    async SIGHUP(t, end) {
      for (let i = 0; i < 3; i++) t.control.signal("SIGHUP");
      assert.deepEqual(t.lines(/^SIGHUP/), [
        "SIGHUP: rolling reload, queued until the reload under way (reload()) ends",
        "SIGHUP: a reload is queued already (SIGHUP); merged into it",
        "SIGHUP: a reload is queued already (SIGHUP); merged into it",
      ]);
      await end();
      await until(() => t.lines(/^reload done/).length === 2, "the queued reload");
      await settled(t, "the reloads to end");
      assert.equal(
        t.lines(/^reload: starting/).length,
        2,
        "the one under way, then one for the three signals",
      );
      assert.equal(t.workers.length, 6);
      assert.equal(t.supervisor.count, 2);
      nothingKilled(t);
    },
    async SIGTTIN(t, end) {
      t.control.signal("SIGTTIN");
      assert.match(
        t.lines(/^SIGTTIN/)[0],
        /one worker more, queued until the reload under way \(reload\(\)\) ends$/,
      );
      await end();
      await until(() => t.supervisor.count === 3, "a third worker");
      await settled(t, "the scaling to end");
      const order = t.options.lines.filter((line) => /^(reload done|scaling from)/.test(line));
      assert.deepEqual(order, [
        "reload done: 2 new processes serving; the old ones are draining",
        "scaling from 2 to 3 processes",
      ]);
      nothingKilled(t);
    },
    async SIGTTOU(t, end) {
      t.control.signal("SIGTTOU");
      assert.match(t.lines(/^SIGTTOU/)[0], /one worker fewer, queued until the reload under way/);
      await end();
      await until(() => t.supervisor.count === 1, "one worker fewer");
      await settled(t, "the scaling to end");
      assert.equal(t.lines(/^scaling from 2 to 1 process$/).length, 1);
      nothingKilled(t);
    },
    async SIGUSR2(t, end) {
      t.control.signal("SIGUSR2");
      assert.deepEqual(t.lines(/^SIGUSR2/), [
        "SIGUSR2: upgrade, queued until the reload under way (reload()) ends",
      ]);
      assert.deepEqual(t.upgrades, [], "not while the reload runs");
      await end();
      await until(() => t.upgrades.length === 1, "the queued upgrade");
      await settled(t, "the upgrade to end");
      nothingKilled(t);
    },
    async SIGTERM(t, end) {
      await stopWhileBusy(t, "SIGTERM", "reload", end);
    },
    async SIGINT(t, end) {
      await stopWhileBusy(t, "SIGINT", "reload", end);
    },
  },
  scaling: {
    async SIGHUP(t, end) {
      t.control.signal("SIGHUP");
      t.control.signal("SIGHUP");
      assert.deepEqual(t.lines(/^SIGHUP/), [
        "SIGHUP: rolling reload, queued until the scaling under way (scale()) ends",
        "SIGHUP: a reload is queued already (SIGHUP); merged into it",
      ]);
      await end();
      await until(() => t.lines(/^reload done/).length === 1, "the queued reload");
      await settled(t, "the reload to end");
      assert.deepEqual(
        t.lines(/^reload: starting/),
        ["reload: starting 3 new processes"],
        "after the scaling",
      );
      assert.equal(t.supervisor.count, 3);
      nothingKilled(t);
    },
    async SIGTTIN(t, end) {
      t.control.signal("SIGTTIN");
      assert.match(t.lines(/^SIGTTIN/)[0], /queued until the scaling under way \(scale\(\)\) ends$/);
      await end();
      await until(() => t.supervisor.count === 4, "a fourth worker");
      await settled(t, "the scaling to end");
      nothingKilled(t);
    },
    async SIGTTOU(t, end) {
      t.control.signal("SIGTTOU");
      t.control.signal("SIGTTOU");
      assert.equal(
        t.lines(/^SIGTTOU: one worker fewer, queued until the scaling under way \(scale\(\)\) ends$/).length,
        1,
      );
      assert.equal(
        t.lines(/^SIGTTOU: one worker fewer, queued until .* and 1 queued before it end$/).length,
        1,
      );
      await end();
      await until(() => t.lines(/^scaling from 2 to 1 process$/).length === 1, "both applied, in order");
      await settled(t, "the scaling to end");
      assert.deepEqual(t.lines(/^scaling from/), [
        "scaling from 2 to 3 processes",
        "scaling from 3 to 2 processes",
        "scaling from 2 to 1 process",
      ]);
      nothingKilled(t);
    },
    async SIGUSR2(t, end) {
      t.control.signal("SIGUSR2");
      assert.deepEqual(t.lines(/^SIGUSR2/), [
        "SIGUSR2: upgrade, queued until the scaling under way (scale()) ends",
      ]);
      assert.deepEqual(t.upgrades, [], "not while the scaling runs");
      await end();
      await until(() => t.upgrades.length === 1, "the queued upgrade");
      await settled(t, "the upgrade to end");
      nothingKilled(t);
    },
    async SIGTERM(t, end) {
      await stopWhileBusy(t, "SIGTERM", "scaling", end);
    },
    async SIGINT(t, end) {
      await stopWhileBusy(t, "SIGINT", "scaling", end);
    },
  },
  stopping: {
    async SIGHUP(t, end) {
      await refusedWhileStopping(t, "SIGHUP", end);
    },
    async SIGTTIN(t, end) {
      await refusedWhileStopping(t, "SIGTTIN", end);
    },
    async SIGTTOU(t, end) {
      await refusedWhileStopping(t, "SIGTTOU", end);
    },
    async SIGUSR2(t, end) {
      t.control.signal("SIGUSR2");
      assert.deepEqual(t.lines(/^SIGUSR2/), ["SIGUSR2: upgrade refused: the server is stopping"]);
      await end();
      assert.deepEqual(t.upgrades, []);
      await assert.rejects(
        t.control.upgrade("upgrade()"),
        /^Error: upgrade refused: the server is stopping$/,
      );
    },
    async SIGTERM(t) {
      await againAtOnce(t, "SIGTERM", 143);
    },
    async SIGINT(t) {
      await againAtOnce(t, "SIGINT", 130);
    },
  },
};

async function stopWhileBooting(t: Pool, signal: Signal, end: () => Promise<void>): Promise<void> {
  t.control.signal("SIGHUP"); // queued, then dropped by the stop
  t.control.signal(signal);
  assert.match(
    t.lines(new RegExp(`^${signal}`))[0],
    /stopping gracefully \(up to 5 s; send it again to stop at once\); the workers still starting are stopped now$/,
  );
  assert.deepEqual(t.lines(/dropping/), [`${signal}: dropping what was queued: SIGHUP`]);
  // The workers still booting are stopped, without listening: the start ends, nothing more starts.
  await until(() => t.workers.every((worker) => worker.exited), "the booting workers to end");
  await gracefulStop(t, signal, end);
  assert.equal(t.workers.length, 2);
  assert.equal(t.lines(/ ready$/).length, 0);
}

async function stopWhileBusy(
  t: Pool,
  signal: Signal,
  kind: "reload" | "scaling",
  end: () => Promise<void>,
): Promise<void> {
  const before = t.workers.length;
  t.control.signal("SIGTTIN"); // queued, then dropped by the stop
  t.control.signal(signal);
  assert.match(t.lines(new RegExp(`^${signal}`))[0], new RegExp(`; the ${kind} under way ends with it$`));
  assert.deepEqual(t.lines(/dropping/), [`${signal}: dropping what was queued: SIGTTIN`]);
  // The new workers still starting are stopped with the rest; the reload or scaling then ends.
  await until(() => t.workers.every((worker) => worker.exited), "every worker to end");
  await end();
  await gracefulStop(t, signal, async () => {});
  assert.equal(t.workers.length, before, "nothing started after the stop");
  assert.equal(t.lines(/^scaling from/).length, kind === "scaling" ? 1 : 0);
}

async function refusedWhileStopping(t: Pool, signal: Signal, end: () => Promise<void>): Promise<void> {
  t.control.signal(signal);
  assert.deepEqual(t.lines(new RegExp(`^${signal}`)), [`${signal}: refused: the server is stopping`]);
  await end();
  assert.equal(t.workers.length, 2, "nothing started");
  assert.equal(t.lines(/^(reload|scaling)/).length, 0);
  assert.deepEqual(t.stops, ["SIGTERM"]);
  assert.deepEqual(t.stopsNow, []);
  assert.ok(t.workers.every((worker) => !worker.killed), "the stop went on gracefully");
  await assert.rejects(t.control.reload(), StoppedError);
}

async function againAtOnce(t: Pool, signal: Signal, code: number): Promise<void> {
  t.control.signal(signal);
  assert.deepEqual(t.lines(new RegExp(`^${signal} again`)), [`${signal} again: stopping at once`]);
  assert.deepEqual(t.stopsNow, [[signal, code]]);
  assert.deepEqual(t.stops, ["SIGTERM"], "the graceful stop was begun once");
  await until(() => t.workers.every((worker) => worker.killed && worker.exited), "every worker killed");
}

describe(`${runtime}: signals at every point of the pool's life (fake workers)`, () => {
  for (const [phase, enter] of Object.entries(PHASES)) {
    for (const signal of SIGNALS) {
      const does = signal === "SIGTERM" || signal === "SIGINT"
        ? (phase === "stopping" ? "stops at once" : "begins the graceful stop")
        : phase === "stopping"
        ? "is refused"
        : phase === "serving"
        ? "runs at once"
        : "waits its turn";
      it(`${signal} while ${phase} ${does}`, async () => {
        const t = setUp();
        assert.equal(t.control.phase, "booting");
        const end = await enter(t);
        try {
          await EXPECT[phase as keyof typeof PHASES][signal](t, end);
        } finally {
          t.control.kill();
        }
      });
    }
  }

  it("SIGUSR2 while upgrading is merged into the upgrade under way; a SIGHUP waits for it, and runs when it fails", async () => {
    const t = setUp();
    t.holdUpgrade = true;
    await t.control.start();
    const upgrading = t.control.upgrade("upgrade()");
    await until(() => t.control.phase === "upgrading", "the upgrade to begin");
    t.control.signal("SIGUSR2");
    t.control.signal("SIGHUP");
    assert.deepEqual(t.lines(/^SIGUSR2/), [
      "SIGUSR2: an upgrade is under way already (upgrade()); merged into it",
    ]);
    assert.deepEqual(t.lines(/^SIGHUP/), [
      "SIGHUP: rolling reload, queued until the upgrade under way (upgrade()) ends",
    ]);
    // A merged request settles as the upgrade it joined: here it fails, the pool serving on.
    const merged = t.control.upgrade("ctl");
    t.endUpgrade(new Error("upgrade failed: the new primary exited"));
    await assert.rejects(upgrading, /the new primary exited/);
    await assert.rejects(merged, /the new primary exited/);
    await until(() => t.lines(/^reload done/).length === 1, "the SIGHUP queued behind it");
    await settled(t, "the reload to end");
    assert.deepEqual(t.upgrades, ["upgrade()"], "one upgrade run for the three asked");
    t.control.kill();
  });

  it("a SIGHUP queued while booting is dropped, said, when the start fails", async () => {
    const t = setUp();
    t.hold = true;
    const started = t.control.start();
    await until(() => t.workers.length === 2, "both workers to start");
    t.control.signal("SIGHUP");
    t.workers[1].exit(3);
    await assert.rejects(started, /exited before listening/);
    assert.deepEqual(t.lines(/dropping/), ["the start failed: dropping what was queued: SIGHUP"]);
    t.control.signal("SIGHUP");
    assert.deepEqual(t.lines(/refused/), ["SIGHUP: refused: the server is stopping"]);
    assert.equal(t.lines(/^reload/).length, 0);
  });

  it("a reload from the control socket merges into one SIGHUP queued, and is done when it is", async () => {
    const t = setUp();
    t.hold = true;
    const started = t.control.start();
    await until(() => t.workers.length === 2, "both workers to start");
    t.control.signal("SIGHUP");
    const asked = t.control.reload("multiserve ctl reload", true);
    assert.deepEqual(t.lines(/merged/), [
      "multiserve ctl reload: a reload is queued already (SIGHUP); merged into it",
    ]);
    t.release();
    await started;
    await asked;
    assert.equal(t.lines(/^reload done/).length, 1);
    await settled(t, "the reload to end");
    assert.equal(t.lines(/^reload: starting 2 new processes$/).length, 1, "one reload for both");
    nothingKilled(t);
    t.control.kill();
  });
});

/** The phases of one isolate: loading its app, serving, and stopping after a first SIGTERM. */
const ALONE_PHASES = {
  booting: async (_t: Pool) => {},
  serving: (t: Pool) => t.control.start(),
  stopping: async (t: Pool) => {
    await t.control.start();
    t.control.signal("SIGTERM");
  },
};

describe(`${runtime}: signals to one isolate serving alone`, () => {
  for (const [phase, enter] of Object.entries(ALONE_PHASES)) {
    for (const signal of ["SIGHUP", "SIGTTIN", "SIGTTOU"] as const) {
      it(`${signal} while ${phase} is ignored, saying there are no workers and how to have them`, async () => {
        const t = setUp({ alone: true });
        await enter(t);
        const stops = [...t.stops];
        t.control.signal(signal);
        const what = signal === "SIGHUP" ? "reload" : "scale";
        assert.deepEqual(t.lines(new RegExp(`^${signal}`)), [
          `${signal}: ignored: one isolate serves alone, with no workers to ${what}; start with --processes or --threads (options processes, threaded) to have workers`,
        ]);
        assert.deepEqual(t.stops, stops, "no stop begun");
        assert.deepEqual(t.stopsNow, []);
      });
    }
    it(`SIGUSR2 while ${phase} is refused: no workers to start beside`, async () => {
      const t = setUp({ alone: true });
      await enter(t);
      const stops = [...t.stops];
      t.control.signal("SIGUSR2");
      assert.deepEqual(t.lines(/^SIGUSR2/), [
        "SIGUSR2: upgrade refused: one isolate serves alone: an upgrade starts a new primary's workers beside this one's; start with --processes or --threads (options processes, threaded) to have workers",
      ]);
      assert.deepEqual(t.upgrades, []);
      assert.deepEqual(t.stops, stops, "no stop begun");
    });
    for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
      const does = phase === "stopping" ? "stops at once" : "begins the graceful stop";
      it(`${signal} while ${phase} ${does}`, async () => {
        const t = setUp({ alone: true });
        await enter(t);
        t.control.signal(signal);
        if (phase === "stopping") {
          assert.deepEqual(t.stopsNow, [[signal, code]]);
          assert.deepEqual(t.stops, ["SIGTERM"]);
        } else {
          assert.deepEqual(t.stops, [signal]);
          assert.deepEqual(t.stopsNow, []);
          assert.match(t.lines(new RegExp(`^${signal}`))[0], /stopping gracefully \(up to 5 s; [^;]*\)$/);
        }
      });
    }
  }
});
