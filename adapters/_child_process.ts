/**
 * A worker process started with an IPC channel through `node:child_process`, which Deno
 * and Bun both provide. (Node uses `node:cluster` instead, for its balancing primary.)
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import type { ParentLink, WorkerHandle } from "../src/adapter.ts";
import { isStopMessage, isWorkerMessage, type WorkerData } from "../src/protocol.ts";

/** The environment variable that tells a child process it is a worker, and which. */
export const WORKER_ENV = "MULTISERVE_WORKER";

/** Start `command args` as worker `data`, its output going to ours. */
export function spawnWorkerProcess(command: string, args: string[], data: WorkerData): WorkerHandle {
  const child = spawn(command, args, {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: { ...process.env, [WORKER_ENV]: JSON.stringify(data) },
  });
  return {
    pid: child.pid,
    stop: () => {
      if (child.connected) child.send({ multiserve: "stop" });
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    onMessage: (listener) => {
      child.on("message", (message) => {
        if (isWorkerMessage(message)) listener(message);
      });
    },
    onExit: (listener) => {
      let spawnError: string | undefined;
      child.on("error", (error) => (spawnError = `could not start: ${error.message}`));
      child.on("exit", (code) => listener(code, spawnError));
    },
  };
}

/** The worker data of this process, when a supervisor started it. */
export function workerDataFromEnv(value: string | undefined): WorkerData | undefined {
  return value ? JSON.parse(value) as WorkerData : undefined;
}

/** This process's link to its supervisor, over the IPC channel. */
export function processParentLink(): ParentLink {
  return {
    send: (message) =>
      new Promise<void>((resolve) => {
        if (!process.send || !process.connected) return resolve();
        process.send(message, undefined, {}, () => resolve());
      }),
    onStop: (listener) => {
      process.on("message", (message) => {
        if (isStopMessage(message)) listener();
      });
      // The supervisor is gone (killed, crashed): do not linger as an orphan.
      process.on("disconnect", listener);
    },
    exit: (code) => process.exit(code),
  };
}
