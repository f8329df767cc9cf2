/**
 * A node:cluster worker's last word with its primary: the probe whose echo says that no
 * connection the primary handed over is still in flight to this worker. And, in the
 * primary, the listening handles of node:cluster's round-robin sockets, so that an upgrade
 * can stop this primary accepting on a socket it has handed over.
 *
 * @module
 */
import net from "node:net";
import process from "node:process";

/** A listening handle as libuv's wrap shows it. */
interface ListeningHandle {
  readonly fd?: number;
  close(): void;
}

/** The listening handles of the servers this primary made (node:cluster's among them). */
const listeningHandles = new Set<ListeningHandle>();
let watching = false;

/**
 * Note the listening handle of every `net.createServer()` server from now on. node:cluster's
 * RoundRobinHandle makes its server so, then takes the handle and drops the server's
 * reference to it: nothing else reaches it. Without it, an upgrade's old primary would accept
 * on the socket it handed over until its last worker leaves, and node:cluster closes what it
 * then still holds for a worker (RoundRobinHandle.remove). Once per process; a server's own
 * `listening` listeners run after this one.
 */
export function watchClusterHandles(): void {
  if (watching) return;
  watching = true;
  const createServer = net.createServer;
  net.createServer = function (this: unknown, ...args: unknown[]) {
    const server = (createServer as (...args: unknown[]) => net.Server).apply(this, args);
    server.prependOnceListener("listening", () => {
      const handle = (server as unknown as { _handle?: ListeningHandle | null })._handle;
      if (handle) listeningHandles.add(handle);
    });
    return server;
  } as typeof net.createServer;
}

/**
 * Stop accepting on the listening socket at `fd` in this process (its descriptor closed
 * here; another process holding the socket serves on). What was accepted is still handed
 * to the workers. False when no such handle was noted. (A closed handle says fd -1, and
 * closing one again does nothing.)
 */
export function stopAccepting(fd: number): boolean {
  let found = false;
  for (const handle of listeningHandles) {
    if (handle.fd !== fd) continue;
    listeningHandles.delete(handle);
    handle.close();
    found = true;
  }
  return found;
}

/** The round trip of clusterQuiet(). */
interface QuietProbe {
  multiserveQuiet: true;
}
export function isQuietProbe(message: unknown): message is QuietProbe {
  return (message as Partial<QuietProbe> | null)?.multiserveQuiet === true;
}

/**
 * Wait until the cluster primary can hand this worker no more connections. Closing the
 * server tells the primary to stop, but connections it sent before it heard are still in
 * the IPC channel; Node bounces them back only if this process is alive to read them, and
 * one that exits first strands them, open and unanswered, in the primary. The channel is
 * ordered, so once the primary echoes a probe sent after the close, none is left in flight.
 */
export function clusterQuiet(): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    const done = () => {
      clearTimeout(timer);
      process.off("message", onMessage);
      resolve();
    };
    const onMessage = (message: unknown) => isQuietProbe(message) && done();
    // A primary that is gone cannot answer; nothing can be in flight from it either.
    const timer = setTimeout(done, 2_000);
    process.on("message", onMessage);
    process.send({ multiserveQuiet: true } satisfies QuietProbe, undefined, {}, () => {});
  });
}
