/**
 * An HTTP/2 client under a reload, as browsers behave: for the tests that streams go on
 * through a SIGHUP over TLS (h2) and in cleartext (h2c).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { ClientHttp2Session } from "node:http2";
import { type Child, eventually, reloadAndDrain } from "./_harness.ts";

/**
 * Three loops of `GET /token`, each a stream of the current session from `open`, go on
 * through a SIGHUP reload of `child`: 30 answers before it, 30 after its old workers drained,
 * and none failed. A session told GOAWAY (a draining worker) or closed is replaced, and the
 * request goes on a new one.
 */
export async function streamsGoOnThroughReload(child: Child, open: () => ClientHttp2Session): Promise<void> {
  let session: ClientHttp2Session | undefined;
  let running = true;
  const failures: string[] = [];
  let answered = 0;
  const once = () =>
    new Promise<void>((resolve) => {
      if (session === undefined || session.closed || session.destroyed) {
        session = open();
        session.on("error", () => {});
        session.on("goaway", () => (session = undefined));
      }
      const stream = session.request({ ":path": "/token" });
      stream.on("response", (headers) => {
        if (headers[":status"] !== 200) failures.push(`status ${headers[":status"]}`);
      });
      stream.on("data", () => {});
      stream.on("end", () => {
        answered++;
        resolve();
      });
      stream.on("error", (error) => {
        // A stream refused before the server processed it (past GOAWAY's last stream id, or
        // REFUSED_STREAM: RFC 9113 §8.7) is safe to retry, and clients do, on a new session:
        // the loop sends the request again. So is one never sent: a connection opened as the
        // old workers stop can be reset before its session begins (on Bun, Bun's stop():
        // docs/limits.md; on every runtime, a connection queued on a closing SO_REUSEPORT
        // socket, with tcp_migrate_req off as here: docs/supervision.md). Anything else is a
        // failure.
        const refused = (error as { code?: string }).code === "ERR_HTTP2_GOAWAY_SESSION" ||
          /NGHTTP2_REFUSED_STREAM/.test(String(error)) ||
          stream.id === undefined;
        if (refused) session = undefined;
        else failures.push(String(error));
        resolve();
      });
      stream.end();
    });
  const loop = async () => {
    while (running) await once();
  };
  const loops = [loop(), loop(), loop()];
  try {
    await eventually(() => answered >= 30, "answers before the reload", 10_000);
    await reloadAndDrain(child);
    const after = answered;
    await eventually(() => answered >= after + 30, "answers after the reload", 10_000);
    running = false;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
  } finally {
    running = false; // a failed wait must not leave the loops reconnecting forever
    (session as ClientHttp2Session | undefined)?.destroy();
  }
}
