/**
 * Where the kernel would not spread connections, multi-worker shapes are refused with a
 * reason, never started as one busy worker and idle others. (macOS, Windows and old Node
 * cannot be run here, so this checks the policy itself; Linux is exercised by every other test.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spreadProblem } from "../../adapters/_shared.ts";
import { runtime } from "../_harness.ts";

const threads = { processes: 1, threads: 2 };
const processes = { processes: 2, threads: 0 };
const both = { processes: 2, threads: 2 };

describe(`${runtime}: where connections cannot be spread`, () => {
  it("allows every shape on Linux", () => {
    for (const rt of ["deno", "bun"]) {
      for (const plan of [threads, processes, both]) {
        assert.equal(spreadProblem(rt, "linux", plan), undefined);
      }
    }
    for (const plan of [threads, processes, both]) {
      assert.equal(spreadProblem("node", "linux", plan, "24.0.0"), undefined);
    }
  });

  it("refuses Deno and Bun workers on macOS and Windows, naming the OS", () => {
    for (const [rt, os] of [["deno", "darwin"], ["bun", "win32"], ["deno", "windows"]]) {
      for (const plan of [threads, processes, both]) {
        assert.match(
          spreadProblem(rt, os, plan)?.message ?? "",
          new RegExp(`on ${os} the kernel does not spread`),
        );
      }
    }
  });

  it("allows Node processes anywhere (node:cluster balances), refuses Node threads off Linux", () => {
    assert.equal(spreadProblem("node", "darwin", processes, "24.0.0"), undefined);
    assert.equal(spreadProblem("node", "win32", processes, "20.0.0"), undefined);
    assert.match(
      spreadProblem("node", "darwin", threads, "24.0.0")?.message ?? "",
      /use processes without threads/,
    );
    assert.match(spreadProblem("node", "darwin", both, "24.0.0")?.message ?? "", /on darwin/);
  });

  it("refuses threads on Node without listen({ reusePort }), naming the version", () => {
    for (const old of ["20.20.2", "22.11.0", "23.0.0"]) {
      assert.match(
        spreadProblem("node", "linux", threads, old)?.message ?? "",
        new RegExp(`this is Node ${old}`),
      );
    }
    for (const ok of ["22.12.0", "23.1.0", "24.21.0"]) {
      assert.equal(spreadProblem("node", "linux", threads, ok), undefined);
    }
  });

  it("an inherited socket: Node one isolate or processes; Node threads, Deno and Bun refused", () => {
    const single = { processes: 1, threads: 0 };
    const fd = { fd: true };
    assert.equal(spreadProblem("node", "linux", single, "24.0.0", fd), undefined);
    assert.equal(spreadProblem("node", "linux", processes, "24.0.0", fd), undefined);
    for (const plan of [threads, both]) {
      assert.match(
        spreadProblem("node", "linux", plan, "24.0.0", fd)?.message ?? "",
        /node threads cannot share/,
      );
    }
    for (const rt of ["deno", "bun"]) {
      for (const plan of [single, threads, processes]) {
        assert.match(
          spreadProblem(rt, "linux", plan, "", fd)?.message ?? "",
          /cannot listen on an inherited socket/,
        );
      }
    }
  });

  it("one isolate needs no spreading, on any OS", () => {
    for (const rt of ["deno", "bun", "node"]) {
      assert.equal(spreadProblem(rt, "darwin", { processes: 1, threads: 0 }, "20.0.0"), undefined);
    }
  });
});
