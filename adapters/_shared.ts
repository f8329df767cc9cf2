/**
 * Pieces the adapters share that need no runtime module: messages a user can act on for
 * listen errors and unbalanced SO_REUSEPORT, and the Web Worker link of Deno and Bun threads.
 *
 * @module
 */
import type { ParentLink } from "../src/adapter.ts";
import { BootError, messageOf, OptionError } from "../src/errors.ts";
import { isBusMessage, isStopMessage, type StopMessage, type WorkerMessage } from "../src/protocol.ts";

/**
 * A `BootError` for a failed bind (of `hostname:port`, of unix socket `path`, or of inherited
 * socket `fd`), naming what to do.
 */
export function listenError(
  error: unknown,
  hostname: string,
  port: number,
  path?: string,
  fd?: number,
): BootError {
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  const message = messageOf(error);
  if (fd !== undefined) {
    return new BootError(
      `cannot listen on fd://${fd}: ${message} (is file descriptor ${fd} a listening socket this process inherited?)`,
      { cause: error },
    );
  }
  const where = path === undefined ? `${hostname}:${port}` : `unix:${path}`;
  if (code === "EADDRINUSE" || name === "AddrInUse" || /address already in use|EADDRINUSE/i.test(message)) {
    return new BootError(
      path === undefined
        ? `port ${port} on ${hostname} is already in use: stop the other server or choose another port (--port / option "port")`
        : `unix:${path} is already in use: stop the other server or choose another path`,
      { cause: error },
    );
  }
  if (code === "EACCES" || name === "PermissionDenied" || /permission denied|EACCES/i.test(message)) {
    return new BootError(`no permission to listen on ${where}: ${message}`, { cause: error });
  }
  if (
    path === undefined &&
    (code === "EADDRNOTAVAIL" || name === "AddrNotAvailable" || /EADDRNOTAVAIL|not available/i.test(message))
  ) {
    return new BootError(`cannot listen on ${where}: the address is not on this machine`, { cause: error });
  }
  return new BootError(`cannot listen on ${where}: ${message}`, { cause: error });
}

/**
 * Why workers of this plan could not all get connections on this runtime and OS, or
 * undefined when they can. Every multi-worker shape binds with SO_REUSEPORT, which only
 * Linux balances, except Node processes without threads: node:cluster balances anywhere.
 * `sockets` says what the options bind besides TCP ports: a unix socket, an inherited one.
 */
export function spreadProblem(
  runtime: string,
  platform: string,
  plan: { processes: number; threads: number },
  nodeVersion = "",
  sockets: { unix?: boolean; fd?: boolean } = {},
): BootError | OptionError | undefined {
  // Only Node's listen() takes a file descriptor. Its threads would each wrap the same one,
  // and the first to stop would close it for all: only node:cluster shares it safely.
  if (sockets.fd && runtime !== "node") {
    return new OptionError(
      `${runtime} cannot listen on an inherited socket (fd://N, systemd's LISTEN_FDS): it has no API to serve a file descriptor (${
        runtime === "deno" ? "denoland/deno#14006" : "not in Bun's listen options yet"
      }). Let multiserve bind the port itself (--bind HOST:PORT or unix:PATH), or serve on Node`,
    );
  }
  if (sockets.fd && plan.threads > 0) {
    return new OptionError(
      "node threads cannot share an inherited socket (fd://N, systemd's LISTEN_FDS): each would close it for all when it stops. Use --processes without --threads (node:cluster shares it), or one isolate",
    );
  }
  const unix = sockets.unix === true;
  if (plan.processes === 1 && plan.threads === 0) return undefined;
  // Only node:cluster hands one socket's connections to several processes; SO_REUSEPORT does
  // not spread a unix socket's (Linux balances only TCP and UDP that way).
  if (unix && (plan.threads > 0 || runtime !== "node")) {
    return new OptionError(
      `${runtime} cannot share one unix socket among ${
        plan.threads > 0 ? "threads" : "processes"
      } (Linux spreads only TCP connections over SO_REUSEPORT sockets): serve one isolate on the socket${
        runtime === "node" ? ", use --processes without --threads (node:cluster shares it)" : ""
      }, or bind a TCP port on loopback instead`,
    );
  }
  if (runtime === "node" && plan.threads === 0) return undefined;
  if (runtime === "node" && !nodeHasReusePort(nodeVersion)) {
    // One thread in one process is also what watch makes of one isolate: say so, or a
    // user who asked for no threads would not know why.
    const watch = plan.threads === 1 && plan.processes === 1;
    return new BootError(
      `threaded needs Node ≥ 22.12 (listen with reusePort)${
        watch ? ", and so does watch in one isolate (it serves as one worker thread)" : ""
      }; this is Node ${nodeVersion}. Upgrade Node, or use processes without threads${
        watch ? " (to watch: --watch --processes 2)" : ""
      }.`,
    );
  }
  if (platform === "linux") return undefined;
  return new BootError(
    `${runtime} workers each bind the port with SO_REUSEPORT, and on ${platform} the kernel does not spread connections across them (only Linux does): all but one worker would sit idle. Serve from one isolate here${
      runtime === "node" ? ", or use processes without threads (node:cluster balances on every OS)" : ""
    }.`,
  );
}

/** `listen({ reusePort })` arrived in Node 22.12 and 23.1. */
function nodeHasReusePort(version: string): boolean {
  const [major, minor] = version.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/**
 * How a supervisor stops a Web Worker thread (Deno, Bun): a Web Worker drops a message that
 * comes while nothing in it listens, and a thread listens for its stop only once its
 * modules and adapter have loaded. A stop sent before (a SIGTERM or a failed start in its
 * first ~100 ms) was lost on Bun, and the thread booted on until it was killed after the
 * whole graceful timeout. So the stop is posted again at the thread's first message after
 * it: its link says at once when it starts listening (webWorkerParentLink). Call `heard`
 * on every message from the thread.
 */
export function threadStop(worker: { postMessage(message: unknown): void }): {
  stop(restart: boolean): void;
  heard(): void;
} {
  let pending: StopMessage | undefined;
  return {
    stop: (restart) => {
      pending = { multiserve: "stop", restart };
      worker.postMessage(pending);
    },
    heard: () => {
      if (pending === undefined) return;
      worker.postMessage(pending);
      pending = undefined; // heard now: a second copy would only repeat it
    },
  };
}

/** The Web Worker scope of a worker thread (Deno and Bun): messages to and from the parent. */
const workerScope = globalThis as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
};

/** A Web Worker thread's link to its supervisor; `exit` ends the thread. */
export function webWorkerParentLink(exit: (code: number) => void): ParentLink {
  return {
    send: (message) => Promise.resolve(workerScope.postMessage(message)),
    onStop: (listener) => {
      workerScope.addEventListener("message", (event) => {
        if (isStopMessage(event.data)) listener(event.data.restart);
      });
      // Say at once that a stop is heard from now on: one sent earlier was lost (threadStop).
      workerScope.postMessage({ multiserve: "heartbeat" } satisfies WorkerMessage);
    },
    onBus: (listener) =>
      workerScope.addEventListener("message", (event) => {
        if (isBusMessage(event.data)) listener(event.data);
      }),
    exit,
  };
}
