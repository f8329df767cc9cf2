/**
 * Process pieces the adapters share through `node:process` and `node:child_process`, which
 * Deno, Bun and Node all provide: a worker process with an IPC channel (Deno and Bun; Node
 * uses `node:cluster` for its balancing primary), a worker's link to its supervisor (which
 * a dead supervisor stops), and shutdown signals.
 *
 * @module
 */
import { childProcess, cluster, proc, timers } from "./_builtins.ts";
import type { ParentLink, WorkerHandle } from "../src/adapter.ts";
import {
  isBusMessage,
  isCommandMessage,
  isStopMessage,
  isWorkerMessage,
  type StopMessage,
  type WorkerData,
} from "../src/protocol.ts";
import { encodeWorker, WORKER_ENV } from "../src/role.ts";

/** Start `command args` as worker `data`, its output going to ours. */
export function spawnWorkerProcess(command: string, args: string[], data: WorkerData): WorkerHandle {
  const child = childProcess().spawn(command, args, {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: { ...proc().env, [WORKER_ENV]: encodeWorker("process", data) },
  });
  return {
    pid: child.pid,
    stop: (restart) => {
      // A worker that is exiting may close the channel under us: its exit is what counts.
      if (child.connected) child.send({ multiserve: "stop", restart } satisfies StopMessage, () => {});
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    command: (message) => {
      if (child.connected) child.send(message, () => {});
    },
    post: (message) => {
      if (child.connected) child.send(message, () => {});
    },
    onMessage: (listener) => {
      child.on("message", (message) => {
        if (isWorkerMessage(message)) listener(message);
      });
    },
    onExit: (listener) => {
      let reported = false;
      const report = (code: number | null, error?: string) => {
        if (!reported) listener(code, error);
        reported = true;
      };
      // A spawn that fails emits "error", and perhaps never "exit".
      child.on("error", (error) => {
        if (child.pid === undefined) report(null, `could not start: ${error.message}`);
      });
      // No need to wait for the IPC channel to drain: a failing worker reports, then waits
      // to be stopped (src/worker.ts), so its report never races its exit.
      child.on("exit", (code) => report(code));
    },
  };
}

/** This process's link to its supervisor, over the IPC channel. */
export function processParentLink(): ParentLink {
  const process = proc(); // made in a worker process only
  return {
    send: (message) =>
      new Promise<void>((resolve) => {
        if (!process.send || !process.connected) return resolve();
        process.send(message, undefined, {}, () => resolve());
      }),
    onStop: (listener) => {
      process.on("message", (message) => {
        if (isStopMessage(message)) listener(message.restart);
      });
      // The supervisor is gone (killed, crashed): do not linger as an orphan. Its channel
      // closes, or, if this process was busy when it died, a write to it fails first (EPIPE:
      // a node:cluster worker's listen() asks its primary over the channel) and is emitted
      // as "error" on `process`, and in a cluster worker again on `cluster.worker`, where
      // nobody listening makes it an uncaught exception. Either means the same: stop.
      let gone = false;
      const orphaned = () => {
        if (gone) return;
        gone = true;
        listener(false);
      };
      process.on("disconnect", orphaned);
      process.on("error", orphaned);
      cluster().worker?.on("error", orphaned);
      // And as gunicorn's workers do, by the parent changing: a worker process of Deno's
      // holding threads once missed its channel's close and outlived a SIGKILLed primary.
      const parent = process.ppid;
      // node:timers' interval can be unref'd on all three runtimes: it never keeps a worker alive.
      const watching = timers().setInterval(() => {
        if (gone) timers().clearInterval(watching);
        else if (process.ppid !== parent) orphaned();
      }, 1_000).unref();
    },
    onCommand: (listener) => {
      process.on("message", (message) => {
        if (isCommandMessage(message)) listener(message);
      });
    },
    onBus: (listener) => {
      process.on("message", (message) => {
        if (isBusMessage(message)) listener(message);
      });
    },
    exit: (code) => process.exit(code),
  };
}
