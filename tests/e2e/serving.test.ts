/**
 * What clients see, in every worker shape: status and headers, streaming, binary bodies,
 * errors, client addresses, and more than one isolate answering.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, it } from "node:test";
import { type Child, fetchFresh, MODES, runtime, startApp } from "../_harness.ts";

for (const mode of MODES) {
  describe(`${runtime}, ${mode.name}: serving`, () => {
    let child: Child;
    let url: string;
    before(async () => {
      ({ child, url } = await startApp(mode));
    });
    after(async () => {
      child.signal("SIGTERM");
      await child.exit();
    });

    it("names the URL, the runtime and processes × threads when it starts", () => {
      const workers = mode.workers === 1 ? "1 worker" : `${mode.workers} workers`;
      assert.match(child.stdout, new RegExp(`listening on http://127\\.0\\.0\\.1:\\d+/ \\(${runtime} `));
      assert.match(child.stdout, new RegExp(`: ${workers}[;)]`));
    });

    it("keeps status, status text and headers, with two Set-Cookie apart", async () => {
      const reply = await fetchFresh(`${url}headers`);
      assert.equal(reply.status, 201);
      assert.equal(reply.headers["x-multiserve"], "yes");
      assert.deepEqual(reply.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/; HttpOnly"]);
      assert.equal(reply.text, "created");
    });

    it("streams a body as it is produced", async () => {
      const reply = await fetchFresh(`${url}stream`);
      assert.equal(reply.status, 200);
      assert.equal(reply.text, "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
      assert.ok(reply.chunks > 1, `expected the body in several chunks, got ${reply.chunks}`);
    });

    it("echoes a 1 MiB binary POST byte for byte", async () => {
      const body = new Uint8Array(1024 * 1024);
      for (let i = 0; i < body.length; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
      const reply = await fetchFresh(`${url}echo`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body,
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.body.length, body.length);
      assert.ok(Buffer.compare(reply.body, body) === 0, "echoed bytes differ");
    });

    it("answers 500 without details when the app throws", async () => {
      const reply = await fetchFresh(`${url}throw`);
      assert.equal(reply.status, 500);
      assert.doesNotMatch(reply.text, /secret detail|at fetch|\.ts:/);
    });

    it("hands the handler the client's address", async () => {
      const reply = await fetchFresh(`${url}token`);
      const { remote } = JSON.parse(reply.text);
      assert.equal(remote.hostname, "127.0.0.1");
      assert.ok(Number.isInteger(remote.port) && remote.port > 0);
    });

    it(
      mode.workers === 1 ? "answers from a single isolate" : `answers from all ${mode.workers} isolates`,
      async () => {
        const tokens = new Set<string>();
        // Connections spread by a hash of their source port: a bounded number of tries finds them all.
        for (let i = 0; i < 300 && tokens.size < mode.workers; i++) {
          tokens.add(JSON.parse((await fetchFresh(`${url}token`)).text).token);
        }
        if (mode.workers === 1) {
          for (let i = 0; i < 10; i++) tokens.add(JSON.parse((await fetchFresh(`${url}token`)).text).token);
        }
        assert.equal(tokens.size, mode.workers);
      },
    );
  });
}

describe(`${runtime}: a Hono app`, () => {
  for (const mode of [MODES[0], MODES[1]]) {
    it(`gets the runtime's getConnInfo working (${mode.name})`, async () => {
      const { child, url } = await startApp(mode, "hono_app.ts");
      try {
        const reply = await fetchFresh(`${url}conninfo`);
        assert.equal(reply.status, 200, reply.text);
        const info = JSON.parse(reply.text);
        assert.equal(info.runtime, runtime);
        assert.equal(info.address, "127.0.0.1");
        assert.ok(info.port > 0);
      } finally {
        child.signal("SIGTERM");
        await child.exit();
      }
    });
  }
});
