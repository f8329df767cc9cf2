/**
 * The compiled package (dist/) on the oldest Node that package.json's `engines` names,
 * 20.11, installed from npm as `node-oldest`: the bin and serve() in one isolate, node:cluster
 * processes with a reload and a clean stop, threads refused as documented (they need Node
 * ≥ 22.12), WebSockets from upgradeWebSocket() (a close either way reaches the other side,
 * the worker serves on), and HTTPS over HTTP/1.1 and HTTP/2. The apps are plain .mjs that
 * import "multiserve" by name, as a user's would. Only Node's runner runs it: it drives
 * another Node, and the other runtimes' runners would test nothing of their own.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { connect as h2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { cpus } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  alive,
  Child,
  descendants,
  distinctTokens,
  eventually,
  fetchFresh,
  fixture,
  loadLoop,
  root,
  runtime,
} from "../_harness.ts";
import { certificate, certificateDir } from "../_certificates.ts";
import { WebSocketClient } from "../_websocket_client.ts";

/** The Node that `engines` names as the oldest, from devDependencies ("node-oldest": "npm:node@20.11.0"). */
const OLDEST = join(root, "node_modules/node-oldest/bin/node");
const CLI = join(root, "dist/cli.js");
/** What a failure in the package looks like when nothing catches it. */
const CRASH = /ReferenceError|TypeError|Unhandled/;

/** Fail at once, saying what to do, when the compiled package or the old Node is missing. */
function prerequisites(): void {
  assert.ok(
    existsSync(CLI),
    `${CLI} is missing: run "npm run build" (npm test builds dist/ before the suites)`,
  );
  assert.ok(existsSync(OLDEST), `${OLDEST} is missing: run "npm ci" (devDependency node-oldest)`);
  const version = execFileSync(OLDEST, ["--version"], { encoding: "utf8" }).trim();
  assert.equal(version, "v20.11.0", "node-oldest is the Node that engines names");
}

/** `args` run on Node 20.11, from the repository root (so "multiserve" resolves to dist/). */
function oldest(args: string[], env: Record<string, string> = {}): Child {
  return new Child(OLDEST, args, env, undefined, { program: true });
}

/** Start a server on Node 20.11 and wait until it says where it listens. */
async function serveOldest(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: Child; url: string }> {
  const child = oldest(args, env);
  try {
    return { child, url: (await child.waitFor(/listening on (https?:\/\/\S+)/))[1] };
  } catch (error) {
    child.killTree();
    throw error;
  }
}

/** SIGTERM: the server exits 0, leaves no process behind, and logged no crash. */
async function stop(child: Child): Promise<void> {
  const workers = descendants(child.pid);
  child.signal("SIGTERM");
  const { code } = await child.exit();
  assert.equal(code, 0, child.stderr);
  await eventually(() => workers.every((pid) => !alive(pid)), "every worker process to end", 5_000);
  noCrash(child);
}

function noCrash(child: Child): void {
  assert.doesNotMatch(child.stderr, CRASH, `stderr:\n${child.stderr}`);
  assert.doesNotMatch(child.stdout, CRASH, `stdout:\n${child.stdout}`);
}

/** The fixture's answer to GET /token: which isolate, on which Node. */
async function whoAnswers(url: string): Promise<{ token: string; node: string; pid: number }> {
  const reply = await fetchFresh(`${url}token`);
  assert.equal(reply.status, 200, reply.text);
  return JSON.parse(reply.text);
}

if (runtime === "node") {
  // Every server at once: each is its own process tree, and mostly waits.
  describe("the compiled package on Node 20.11, the oldest engines allows", { concurrency: true }, () => {
    before(prerequisites);

    describe("the bin in one isolate, with WebSockets from upgradeWebSocket()", () => {
      let child: Child;
      let url: string;
      before(async () => ({ child, url } = await serveOldest([CLI, fixture("oldest_app.mjs"), "-p", "0"])));
      after(async () => {
        if (child.process.exitCode === null) await stop(child);
        else noCrash(child);
      });
      const wsUrl = () => `${url.replace(/^http/, "ws")}ws`;

      it("serves HTTP from Node 20.11", async () => {
        assert.match(child.stdout, /\(node 20\.11\.0, 1 process, not threaded: 1 worker\)/);
        const answer = await whoAnswers(url);
        assert.equal(answer.node, "v20.11.0");
      });

      it("echoes text and binary messages", async () => {
        const client = new WebSocketClient(wsUrl());
        await client.opened;
        client.socket.send("héllo ✓");
        assert.equal(await client.next(), "héllo ✓");
        client.socket.send(new Uint8Array([0, 1, 2, 255]));
        const binary = await client.next();
        assert.ok(binary instanceof ArrayBuffer, `binary came back as ${typeof binary}`);
        assert.deepEqual([...new Uint8Array(binary)], [0, 1, 2, 255]);
        client.socket.close(1000);
        await client.closed;
      });

      // The close event is where Node 20, which has no global CloseEvent, used to throw.
      it("a client's close reaches the app with its code and reason; the worker serves on", async () => {
        const before = await whoAnswers(url);
        const client = new WebSocketClient(wsUrl());
        await client.opened;
        const from = child.mark();
        client.socket.close(4000, "client leaves");
        assert.equal((await client.closed).code, 4000);
        await child.waitFor(/app saw close 4000 client leaves/, 10_000, from);
        assert.equal((await whoAnswers(url)).pid, before.pid, "the same worker answers after the close");
        noCrash(child);
      });

      it("the app's close reaches the client with its code and reason; the worker serves on", async () => {
        const before = await whoAnswers(url);
        const client = new WebSocketClient(wsUrl());
        await client.opened;
        const from = child.mark();
        client.socket.send("close 4001 server leaves");
        assert.deepEqual(await client.closed, { code: 4001, reason: "server leaves" });
        // The app's own close event has the code the client answered with (the reason is
        // the client's to repeat, and it need not).
        await child.waitFor(/app saw close 4001\b/, 10_000, from);
        assert.equal((await whoAnswers(url)).pid, before.pid, "the same worker answers after the close");
        noCrash(child);
      });
    });

    it('serves from a module calling serve() from "multiserve", in one isolate', async () => {
      const { child, url } = await serveOldest([fixture("oldest_main.mjs")]);
      try {
        assert.equal((await whoAnswers(url)).node, "v20.11.0");
      } finally {
        await stop(child);
      }
    });

    it("--processes 2 (node:cluster): both workers answer, SIGHUP reloads while serving, SIGTERM exits 0 leaving no process", async () => {
      const { child, url } = await serveOldest([
        CLI,
        fixture("oldest_app.mjs"),
        "-p",
        "0",
        "--processes",
        "2",
      ]);
      try {
        const first = await distinctTokens(url, 2);
        assert.equal(first.size, 2, "both worker processes answered");
        const old = descendants(child.pid);
        const from = child.mark();
        const load = loadLoop(url, 2);
        child.signal("SIGHUP");
        await child.waitFor(/reload done: 2 new processes serving/, 20_000, from);
        await eventually(() => old.every((pid) => !alive(pid)), "the old worker processes to exit");
        const { ok, failures } = await load.stop();
        assert.deepEqual(failures, [], "no request failed during the reload");
        assert.ok(ok > 0, "requests were answered during the reload");
        const fresh = await distinctTokens(url, 2);
        assert.equal(fresh.size, 2, "both new worker processes answered");
        assert.ok([...fresh].every((token) => !first.has(token)), "new workers answer");
      } finally {
        await stop(child);
      }
    });

    it("refuses --threads, and --watch in one isolate (one worker thread): they need Node ≥ 22.12 (listen with reusePort); --check says so too", async () => {
      const cases = [
        { args: ["--threads", "2", "-p", "0"], says: "" },
        { args: ["--threads", "2", "--check"], says: "" },
        {
          args: ["--watch", "-p", "0"],
          says: ", and so does watch in one isolate \\(it serves as one worker thread\\)",
        },
        {
          args: ["--watch", "--check"],
          says: ", and so does watch in one isolate \\(it serves as one worker thread\\)",
        },
      ];
      await Promise.all(cases.map(async ({ args, says }) => {
        const child = oldest([CLI, fixture("oldest_app.mjs"), ...args]);
        const { code } = await child.exit();
        assert.equal(code, 3, `exit 3, a worker could not start (${args.join(" ")}):\n${child.stderr}`);
        assert.match(
          child.stderr,
          new RegExp(
            `threaded needs Node ≥ 22\\.12 \\(listen with reusePort\\)${says}; this is Node 20\\.11\\.0\\. Upgrade Node, or use processes without threads`,
          ),
        );
        assert.doesNotMatch(child.stdout, /listening on/);
        noCrash(child);
      }));
    });

    it("serves an Upgrade to another protocol, and to WebSocket while WebSockets are off, as a plain request; stops at once after", async () => {
      const { child, url } = await serveOldest([
        CLI,
        fixture("oldest_app.mjs"),
        "-p",
        "0",
        "--max-web-sockets",
        "0",
      ]);
      try {
        const other = await fetchFresh(`${url}token`, { headers: { Connection: "Upgrade", Upgrade: "h2c" } });
        assert.equal(other.status, 200, other.text);
        assert.equal(JSON.parse(other.text).node, "v20.11.0");
        const webSocket = await fetchFresh(`${url}ws`, {
          headers: {
            Connection: "Upgrade",
            Upgrade: "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          },
        });
        assert.equal(webSocket.status, 503, webSocket.text);
        assert.match(webSocket.text, /WebSockets are off/);
      } finally {
        // An upgrade left unanswered used to hold the graceful stop for ever.
        await stop(child);
      }
    });

    it("--processes auto is one per CPU, as on newer Nodes (Node 20 has no navigator)", async () => {
      const child = oldest([CLI, fixture("oldest_app.mjs"), "--processes", "auto", "--check"]);
      assert.equal((await child.exit()).code, 0, child.stderr);
      // Node 20 counts every CPU of the machine (see cpuCount in src/host.ts).
      const count = cpus().length;
      assert.match(child.stdout, new RegExp(`, ${count} process(es)? × no threads: ${count} workers?`));
    });

    it("serves HTTPS with --cert/--key over HTTP/1.1 and HTTP/2", async () => {
      const dir = certificateDir();
      const { cert, key } = certificate(dir, "oldest");
      const ca = readFileSync(cert, "utf8");
      const { child, url } = await serveOldest([
        CLI,
        fixture("oldest_app.mjs"),
        "-p",
        "0",
        "--cert",
        cert,
        "--key",
        key,
      ]);
      try {
        assert.match(url, /^https:\/\//);
        const h1 = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = httpsRequest(`${url}token`, { ca, agent: false }, (res) => {
            let text = "";
            res.on("data", (chunk) => (text += chunk));
            res.on("end", () => resolve({ status: res.statusCode!, text }));
          });
          req.setTimeout(10_000, () => req.destroy(new Error("no HTTP/1.1 answer within 10 s")));
          req.on("error", reject);
          req.end();
        });
        assert.equal(h1.status, 200, h1.text);
        assert.equal(JSON.parse(h1.text).url, `${url}token`, "the app sees an https URL");
        const session = h2Connect(url, { ca });
        try {
          const h2 = await new Promise<{ status: number; text: string }>((resolve, reject) => {
            const stream = session.request({ ":path": "/token" });
            let status = 0;
            let text = "";
            stream.setEncoding("utf8");
            stream.on("response", (headers) => (status = Number(headers[":status"])));
            stream.on("data", (chunk) => (text += chunk));
            stream.on("end", () => resolve({ status, text }));
            stream.on("error", reject);
            stream.setTimeout(10_000, () => stream.destroy(new Error("no HTTP/2 answer within 10 s")));
            stream.end();
          });
          assert.equal(h2.status, 200, h2.text);
          assert.equal(JSON.parse(h2.text).node, "v20.11.0");
        } finally {
          session.close();
        }
      } finally {
        try {
          await stop(child);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  });
} else {
  describe("the compiled package on Node 20.11, the oldest engines allows", () => {
    it("runs under Node's runner only", {
      skip:
        `it starts Node 20.11 from node_modules/node-oldest itself; ${runtime}'s own packages test is package.test.ts`,
    }, () => {});
  });
}
