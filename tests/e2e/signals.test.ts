/**
 * Signals that come at awkward moments, to real servers: a SIGHUP (a systemd ExecReload, a
 * deploy script) while the workers still boot is queued, not fatal; one isolate ignores it;
 * and workers whose primary is SIGKILLed while they boot end on their own, quietly. Every
 * phase × signal pair is in signals.test.ts, in-process.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { describe, it } from "node:test";
import { alive, Child, descendants, eventually, fetchFresh, fixture, modTs, runtime } from "../_harness.ts";

/** A server on a free port whose workers each take `ms` to boot (tests/fixtures/slow_boot.ts). */
function slowServer(args: string[], env: Record<string, string> = {}): Child {
  return new Child(modTs, ["-p", "0", ...args, fixture("slow_boot.ts")], env);
}

/** Wait until `count` isolates have begun their slow boot (the app's top level runs). */
function booting(child: Child, count: number): Promise<void> {
  return eventually(
    () => (child.stdout.match(/booting slowly/g)?.length ?? 0) >= count,
    `${count} isolates to begin booting\nstdout: ${child.stdout}\nstderr: ${child.stderr}`,
    20_000,
  );
}

/** Every worker process the primary has said it started. */
function workerPids(child: Child): number[] {
  return [...child.stderr.matchAll(/process \d+ \(pid (\d+)\) started/g)].map((match) => Number(match[1]));
}

describe(`${runtime}, processes 2: a signal while the workers boot`, () => {
  it("SIGHUP before every worker listens is queued: the primary lives, reloads once they listen, serves, and SIGTERM leaves no process", async () => {
    const child = slowServer(["-w", "2"]);
    try {
      await booting(child, 2);
      assert.doesNotMatch(child.stdout, /listening on/, "the signal must come before the workers listen");
      child.signal("SIGHUP");
      await child.waitFor(/SIGHUP: rolling reload, queued until every worker listens/);
      const url = (await child.waitFor(/listening on (http:\/\/\S+)/))[1];
      await child.waitFor(/reload done: 2 new processes serving/);
      assert.equal(child.count(/reload: starting/g), 1);
      assert.equal((await fetchFresh(`${url}token`)).status, 200);
      // The first generation drains away; the second serves.
      await eventually(() => descendants(child.pid).length === 2, "the first generation to exit");
      assert.equal((await fetchFresh(`${url}token`)).status, 200);
      const pids = workerPids(child);
      assert.equal(pids.length, 4);
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0, child.stderr);
      await eventually(() => pids.every((pid) => !alive(pid)), "every worker process to exit");
    } finally {
      child.killTree();
    }
  });

  it("SIGTERM while they boot, a SIGHUP queued: the reload is dropped, every worker stops, exit 0", async () => {
    const child = slowServer(["-w", "2"]);
    try {
      await booting(child, 2);
      child.signal("SIGHUP");
      await child.waitFor(/SIGHUP: rolling reload, queued/);
      child.signal("SIGTERM");
      await child.waitFor(/SIGTERM: dropping what was queued: SIGHUP/);
      assert.equal((await child.exit()).code, 0, child.stderr);
      assert.doesNotMatch(child.stderr, /reload: starting|listening on/);
      const pids = workerPids(child);
      assert.equal(pids.length, 2);
      await eventually(() => pids.every((pid) => !alive(pid)), "every worker process to exit");
    } finally {
      child.killTree();
    }
  });
});

describe(`${runtime}, one isolate: SIGHUP, SIGTTIN, SIGTTOU, SIGUSR2`, () => {
  it("are logged and ignored (SIGUSR2: refused) while it loads its app and while it serves; SIGTERM still exits 0", async () => {
    const child = slowServer([]);
    try {
      await booting(child, 1);
      child.signal("SIGHUP");
      await child.waitFor(
        /SIGHUP: ignored: one isolate serves alone, with no workers to reload; start with --processes or --threads/,
      );
      const url = (await child.waitFor(/listening on (http:\/\/\S+)/))[1];
      for (const signal of ["SIGHUP", "SIGTTIN", "SIGTTOU"] as const) {
        const from = child.mark();
        child.signal(signal);
        await child.waitFor(new RegExp(`${signal}: ignored: one isolate serves alone`), 20_000, from);
      }
      // An upgrade needs workers to start beside these: refused, and it serves on.
      const from = child.mark();
      child.signal("SIGUSR2");
      await child.waitFor(/SIGUSR2: upgrade refused: one isolate serves alone/, 20_000, from);
      assert.equal((await fetchFresh(`${url}token`)).status, 200);
      child.signal("SIGTERM");
      assert.equal((await child.exit()).code, 0, child.stderr);
    } finally {
      child.killTree();
    }
  });
});

describe(`${runtime}, processes 2: the primary SIGKILLed while its workers boot`, () => {
  it(
    "the workers end on their own within seconds, with no EPIPE or unhandled 'error'",
    // Node's cluster worker asks its primary over the channel to listen; Deno's and Bun's
    // workers write to it only with a callback, so the failure this pins is Node's alone.
    { skip: runtime !== "node" && "the failed write it pins is node:cluster's" },
    async () => {
      // Blocking: the worker reads nothing, not the channel's end either, until it listens.
      const child = slowServer(["-w", "2"], { MS_BOOT_BLOCKS: "1", MS_BOOT_MS: "1500" });
      try {
        await booting(child, 2);
        const pids = workerPids(child);
        assert.equal(pids.length, 2);
        process.kill(child.pid, "SIGKILL");
        await child.exit();
        await eventually(() => pids.every((pid) => !alive(pid)), "the orphaned workers to exit", 10_000);
        // All they wrote is read once the last of them has closed the pipe.
        const stderr = child.process.stderr!;
        if (!stderr.closed) await new Promise((resolve) => stderr.once("close", resolve));
        assert.doesNotMatch(child.stderr, /EPIPE|Unhandled 'error'/);
      } finally {
        for (const pid of workerPids(child).filter(alive)) process.kill(pid, "SIGKILL");
        child.killTree();
      }
    },
  );
});
