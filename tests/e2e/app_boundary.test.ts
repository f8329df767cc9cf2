/**
 * Nothing an app's handler returns or throws takes a worker down: every mistake of
 * tests/fixtures/boundary_app.ts (a throw, a promise that rejects, undefined, a plain
 * object, Response.error(), a body read already, a body that fails while it streams, a
 * throw after a WebSocket upgrade, response fields only a connection may carry) gets its
 * answer over HTTP/1.1 and HTTP/2, in one isolate, processes and threads, and the same
 * workers serve the next request. A light response (srvx's, @hono/node-server's shape) is
 * served as the Response it describes.
 */
import assert from "node:assert/strict";
import { type ClientHttp2Session, connect as connectHttp2 } from "node:http2";
import { request as httpsRequest } from "node:https";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { WebSocket as WsClient } from "ws";
import { certificate, certificateDir } from "../_certificates.ts";
import { cliTs, fixture, MODES, runtime, startServer } from "../_harness.ts";

const { cert, key } = certificate(certificateDir(), "boundary");
const ca = readFileSync(cert, "utf8");

const PROTOCOLS = ["HTTP/1.1", "HTTP/2"] as const;
type Protocol = (typeof PROTOCOLS)[number];

interface Reply {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

/** One GET over a new connection, speaking `protocol`. */
function get(url: string, path: string, protocol: Protocol): Promise<Reply> {
  return protocol === "HTTP/2" ? getHttp2(url, path) : getHttp1(url, path);
}

function getHttp1(url: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, url), { ca, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${path} within 10 s`)));
    req.on("error", reject);
    req.end();
  });
}

function getHttp2(url: string, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session: ClientHttp2Session = connectHttp2(url, { ca });
    const fail = (error: Error) => {
      session.destroy();
      reject(error);
    };
    session.on("error", fail);
    const stream = session.request({ ":path": path });
    let status = 0;
    let headers: Record<string, unknown> = {};
    let text = "";
    stream.setEncoding("utf8");
    stream.on("response", (fields) => {
      status = Number(fields[":status"]);
      headers = fields;
    });
    stream.on("data", (chunk) => (text += chunk));
    stream.on("end", () => {
      session.close();
      resolve({ status, headers, text });
    });
    stream.on("error", fail);
    stream.setTimeout(10_000, () => fail(new Error(`no answer to ${path} within 10 s`)));
    stream.end();
  });
}

/** What a WebSocket client got: its messages and the close code. */
function webSocket(url: string, path: string): Promise<{ messages: string[]; code: number }> {
  return new Promise((resolve, reject) => {
    const socket = new WsClient(new URL(path, url.replace(/^https/, "wss")), { ca });
    const messages: string[] = [];
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`${path}: no close within 10 s (got ${messages.join(", ")})`));
    }, 10_000);
    socket.on("message", (data) => {
      messages.push(String(data));
      // An open socket the test is done with: closed by the client.
      if (path === "/ws-addr") socket.close(1000);
    });
    socket.on("close", (code) => {
      clearTimeout(timer);
      resolve({ messages, code });
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Routes whose handler returns what no runtime can send: a 500, one log line each. */
const WRONG = [
  "/undefined",
  "/undefined-async",
  "/null",
  "/object",
  "/string",
  "/number",
  "/fake",
  "/error-response",
  "/used-body",
];
const THROWN = ["/throw", "/throw-async", "/throw-string"];
/** Light responses: status and body. */
const LIGHT: Record<string, [number, string]> = {
  "/like": [201, "light"],
  "/like-async": [202, "light later"],
  "/like-stream": [200, "light stream"],
  "/like-null": [204, ""],
};
/** Fields no HTTP/2 response may carry. */
const CONNECTION_FIELDS = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];

/** Tokens of the isolates answering `/ok`, until `count` are seen. */
async function isolates(url: string, count: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 200 && seen.size < count; i++) {
    seen.add(JSON.parse((await getHttp1(url, "/ok")).text).token);
  }
  return seen;
}

describe(`${runtime}: the app boundary`, { concurrency: 3 }, () => {
  for (const mode of [MODES[0], MODES[1], MODES[2]]) {
    it(`every mistake gets its answer over ${PROTOCOLS.join(" and ")}, and the same workers serve on (${mode.name})`, async () => {
      const { child, url } = await startServer(cliTs, [
        "-p",
        "0",
        ...mode.args,
        "--cert",
        cert,
        "--key",
        key,
        fixture("boundary_app.ts"),
      ]);
      try {
        const before = await isolates(url, mode.workers);
        assert.equal(before.size, mode.workers);
        for (const protocol of PROTOCOLS) {
          for (const path of [...WRONG, ...THROWN]) {
            const reply = await get(url, path, protocol);
            assert.equal(reply.status, 500, `${path} over ${protocol}`);
            // No detail of the mistake reaches the client (debug is off).
            assert.equal(reply.text, "Internal Server Error", `${path} over ${protocol}`);
          }
          for (const [path, [status, text]] of Object.entries(LIGHT)) {
            const reply = await get(url, path, protocol);
            assert.deepEqual(
              [reply.status, reply.text, reply.headers["x-light"]],
              [status, text, "yes"],
              path,
            );
          }
          const sub = await get(url, "/subclass", protocol);
          assert.deepEqual([sub.status, sub.text], [203, "subclass"]);
          for (
            const [path, text] of [
              ["/hop", "hop-by-hop fields"],
              ["/hop-stream", "data: 1\n\ndata: 2\n\ndata: 3\n\n"],
              ["/hono-sse", "data: 1\n\ndata: 2\n\ndata: 3\n\n"],
            ]
          ) {
            const reply = await get(url, path, protocol);
            assert.deepEqual([reply.status, reply.text], [200, text], `${path} over ${protocol}`);
            if (path !== "/hono-sse") assert.equal(reply.headers["x-kept"], "yes");
            if (protocol === "HTTP/2") {
              for (const field of CONNECTION_FIELDS) assert.equal(reply.headers[field], undefined, field);
            }
          }
          // The headers went out before the body failed: the connection is cut, nothing more.
          await get(url, "/stream-throws", protocol).then(
            (reply) => assert.match(reply.text, /^(first part\n)?$/),
            () => {},
          );
        }
        for (const path of ["/ws-throw", "/ws-throw-async", "/ws-other", "/ws-undefined"]) {
          assert.equal((await webSocket(url, path)).code, 1011, path);
        }
        assert.deepEqual((await webSocket(url, "/ws-addr")).messages, ["remote 127.0.0.1"]);
        // The same isolates answer: none was replaced, none is gone.
        const after = await isolates(url, mode.workers);
        assert.deepEqual([...after].sort(), [...before].sort());
        assert.doesNotMatch(child.stderr, /exited unexpectedly|starting a new one|Uncaught|Unhandled/);
        // Each wrong answer is logged once, naming what was returned.
        assert.equal(
          child.count(/the app's handler returned /g),
          WRONG.length * PROTOCOLS.length,
          child.stderr,
        );
        assert.match(child.stderr, /the app's handler returned undefined: answered 500/);
        assert.match(child.stderr, /the app's handler returned a plain object, not a Response/);
      } finally {
        child.signal("SIGTERM");
        assert.equal((await child.exit()).code, 0, child.stderr);
      }
    });
  }
});
