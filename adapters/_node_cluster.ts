/**
 * A node:cluster worker's last word with its primary: the probe whose echo says that no
 * connection the primary handed over is still in flight to this worker.
 *
 * @module
 */
import process from "node:process";

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
