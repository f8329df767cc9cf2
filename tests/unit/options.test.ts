/**
 * The options table in-process: defaults, environment variables, every check and its
 * message, the command line's flags, and `--help`, all from `src/settings.ts`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import process from "node:process";
import { afterEach, describe, it } from "node:test";
import { parseArgs, usage } from "../../src/cli.ts";
import { OptionError } from "../../src/errors.ts";
import { cpuCount, isMainModule, MIN_NODE } from "../../src/host.ts";
import { resolveOptions } from "../../src/options.ts";
import { type Setting, SETTINGS } from "../../src/settings.ts";
import type { ServeOptions } from "../../src/types.ts";
import { root, runtime } from "../_harness.ts";

const ENV = [
  "PORT",
  "HOST",
  "WEB_CONCURRENCY",
  "FORWARDED_ALLOW_IPS",
  "LISTEN_PID",
  "LISTEN_FDS",
  "LISTEN_FDNAMES",
];
const saved = Object.fromEntries(ENV.map((name) => [name, process.env[name]]));
function setEnv(values: Record<string, string | undefined>): void {
  for (const name of ENV) delete process.env[name];
  for (const [name, value] of Object.entries(values)) if (value !== undefined) process.env[name] = value;
}

/** Assert that `run` throws an `OptionError` (exit 2) whose message matches `message`. */
function refuses(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof OptionError, `an OptionError, got ${error}`);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, message);
    return true;
  });
}

describe(`${runtime}: options`, () => {
  afterEach(() => setEnv(saved));

  it("every option has its table default when neither code nor environment gives it", () => {
    setEnv({});
    const config = resolveOptions();
    for (
      const [name, entry] of Object.entries(SETTINGS) as [keyof typeof config, Setting<unknown, unknown>][]
    ) {
      assert.deepEqual(config[name], entry.default, name);
    }
    assert.equal(config.maxWebSockets, 1000, "WebSockets are on, on every runtime");
    assert.equal(config.hostname, "127.0.0.1", "loopback unless asked");
    assert.equal(config.http2, true, "HTTP/2 offered over TLS, on every runtime");
  });

  it("the environment fills what code leaves out; code wins; an empty variable is unset", () => {
    setEnv({
      PORT: "9000",
      HOST: "0.0.0.0",
      WEB_CONCURRENCY: "3",
      FORWARDED_ALLOW_IPS: "10.0.0.0/8, 10.1.1.1",
    });
    const config = resolveOptions();
    assert.deepEqual(
      [config.port, config.hostname, config.processes, config.forwardedAllowIps],
      [9000, "0.0.0.0", 3, ["10.0.0.0/8", "10.1.1.1"]],
    );
    assert.equal(resolveOptions({ port: 1234 }).port, 1234);
    setEnv({ PORT: "", WEB_CONCURRENCY: "" });
    assert.deepEqual([resolveOptions().port, resolveOptions().processes], [8000, 1]);
    setEnv({ FORWARDED_ALLOW_IPS: "" });
    assert.deepEqual(resolveOptions().forwardedAllowIps, [], "empty: no peer is trusted");
  });

  it("threaded: true is one thread per CPU, false none", () => {
    setEnv({});
    assert.equal(resolveOptions({ threaded: true }).threaded, cpuCount());
    assert.equal(resolveOptions({ threaded: false }).threaded, 0);
    assert.equal(resolveOptions({ threaded: 3 }).threaded, 3);
  });

  const bad: [ServeOptions | Record<string, unknown>, RegExp][] = [
    [{ threaded: -1 }, /^option "threaded" must be true, false or a whole number of threads ≥ 1, got -1$/],
    [{ processes: "abc" }, /^option "processes" must be a whole number of processes ≥ 1, got "abc"$/],
    [{ port: 1.5 }, /^option "port" must be an integer from 0 to 65535, got 1.5$/],
    [{ port: 70000 }, /^option "port" must be an integer from 0 to 65535, got 70000$/],
    [{ hostname: "" }, /^option "hostname" must be a non-empty string, got ""$/],
    [{ workers: 2 }, /^unknown option "workers"; known options: port, hostname, threaded, processes/],
    [{ timeout: "30" }, /^option "timeout" must be a number of seconds ≥ 0, got "30"$/],
    [{ gracefulTimeout: -5 }, /^option "gracefulTimeout" must be a number of seconds ≥ 0, got -5$/],
    [{ bootTimeout: Infinity }, /^option "bootTimeout" must be a number of seconds ≥ 0, got Infinity$/],
    [
      { maxRequests: -1, threaded: 2 },
      /^option "maxRequests" must be a whole number ≥ 0 \(0 = never\), got -1$/,
    ],
    [
      { timeout: 5 },
      /^option "timeout" needs supervised workers: set "threaded" \(even 1\) or "processes" ≥ 2$/,
    ],
    [{ maxRequests: 100 }, /^option "maxRequests" needs supervised workers/],
    [{ threaded: 2, maxRequestsJitter: 5 }, /^option "maxRequestsJitter" needs "maxRequests" > 0$/],
    [
      { maxConcurrency: 1.5 },
      /^option "maxConcurrency" must be a whole number ≥ 0 \(0 = no limit\), got 1\.5$/,
    ],
    [{ maxUrlLength: 0 }, /^option "maxUrlLength" must be a whole number ≥ 1, got 0$/],
    [{ headerTimeout: 0 }, /^option "headerTimeout" must be a number of seconds > 0, got 0$/],
    [{ debug: "yes" }, /^option "debug" must be true or false, got "yes"$/],
    [{ onListen: "print" }, /^option "onListen" must be a function or false, got "print"$/],
    [
      { forwardedAllowIps: ["10.0.0.0/33"] },
      /^option "forwardedAllowIps": "10\.0\.0\.0\/33": bits must be 0 to 32$/,
    ],
    [
      { forwardedAllowIps: [1] },
      /^option "forwardedAllowIps" must be a string or a list of strings, got \[1\]$/,
    ],
  ];
  for (const [options, message] of bad) {
    it(`refuses ${JSON.stringify(options)}, naming the option`, () => {
      setEnv({});
      refuses(() => resolveOptions(options as ServeOptions), message);
    });
  }

  it("refuses bad environment values, naming the variable", () => {
    for (
      const [env, message] of [
        [{ PORT: "abc" }, /^env PORT must be a whole number from 0 to 65535, got "abc"$/],
        [{ WEB_CONCURRENCY: "abc" }, /^env WEB_CONCURRENCY must be a whole number ≥ 1 or auto, got "abc"$/],
        [{ FORWARDED_ALLOW_IPS: "nginx" }, /^env FORWARDED_ALLOW_IPS: "nginx" is not an IP address/],
      ] as const
    ) {
      setEnv(env);
      refuses(() => resolveOptions(), message);
    }
  });

  it("timeout 0 and maxRequests 0 are allowed with one isolate: they ask for nothing", () => {
    setEnv({});
    assert.equal(resolveOptions({ timeout: 0, maxRequests: 0 }).timeout, 0);
  });

  it("bind takes one address or several, in gunicorn's syntax, and names a bad one", () => {
    setEnv({});
    assert.deepEqual(resolveOptions({ bind: ["[::1]:8080", "unix:/run/a.sock", "fd://3"] }).bind, [
      { hostname: "::1", port: 8080 },
      { path: "/run/a.sock" },
      { fd: 3 },
    ]);
    const tcp = resolveOptions({ bind: "0.0.0.0:9000" });
    assert.deepEqual([tcp.hostname, tcp.port], ["0.0.0.0", 9000]);
    refuses(
      () => resolveOptions({ bind: ["127.0.0.1:80", "fd://0"] }),
      /fd:\/\/ needs a file descriptor number from 3/,
    );
    refuses(() => resolveOptions({ bind: "localhost" }), /option "bind" must be an address/);
  });

  it("systemd's LISTEN_FDS binds its sockets from fd 3 when LISTEN_PID is this process, and is unset", () => {
    setEnv({ LISTEN_PID: String(process.pid), LISTEN_FDS: "2", LISTEN_FDNAMES: "web:web" });
    assert.deepEqual(resolveOptions().bind, [{ fd: 3 }, { fd: 4 }]);
    assert.equal(process.env.LISTEN_FDS, undefined, "workers must not take them for their own");
    assert.equal(process.env.LISTEN_PID, undefined);
    // Another process's sockets (LISTEN_PID not ours), or a bind given: left alone.
    setEnv({ LISTEN_PID: String(process.pid + 1), LISTEN_FDS: "1" });
    assert.deepEqual(resolveOptions().bind, []);
    assert.equal(process.env.LISTEN_FDS, "1");
    setEnv({ LISTEN_PID: String(process.pid), LISTEN_FDS: "1" });
    assert.deepEqual(resolveOptions({ bind: "127.0.0.1:0" }).bind, [{ hostname: "127.0.0.1", port: 0 }]);
  });
});

describe(`${runtime}: the command line's flags`, () => {
  it("turns every flag of the table into its option, short and long, with a space or =", () => {
    const { options, module, action } = parseArgs([
      "-p",
      "0",
      "--host=::1",
      "-t",
      "auto",
      "--workers",
      "3",
      "--timeout",
      "2.5",
      "--boot-timeout=60",
      "--max-requests",
      "10",
      "--forwarded-allow-ips",
      "10.0.0.1,10.0.0.2",
      "--debug",
      "--no-http2",
      "app.ts",
    ]);
    assert.equal(action, "serve");
    assert.equal(module, "app.ts");
    assert.deepEqual(options, {
      port: 0,
      hostname: "::1",
      threaded: true,
      processes: 3,
      timeout: 2.5,
      bootTimeout: 60,
      maxRequests: 10,
      forwardedAllowIps: "10.0.0.1,10.0.0.2",
      debug: true,
      http2: false,
    });
    assert.equal(parseArgs(["-w", "auto"]).options.processes, cpuCount());
    assert.equal(parseArgs(["--", "-odd-name.ts"]).module, "-odd-name.ts");
    assert.equal(parseArgs(["--help"]).action, "help");
    assert.equal(parseArgs(["-V"]).action, "version");
  });

  const bad: [string[], RegExp][] = [
    [["--processes", "abc"], /^flag --processes must be a whole number ≥ 1 or auto, got "abc"$/],
    [["-w", "0"], /^flag -w must be a whole number ≥ 1 or auto, got "0"$/],
    [["--threads", "-1"], /^flag --threads must be a whole number ≥ 1 or auto, got "-1"$/],
    [["--port", "70000"], /^flag --port must be a whole number from 0 to 65535, got "70000"$/],
    [["--port"], /^flag --port needs a value \(N\)$/],
    [["--host", ""], /^flag --host must be a non-empty string, got ""$/],
    [["--bogus"], /^unknown flag --bogus$/],
    [["--proccesses", "2"], /^unknown flag --proccesses; did you mean --processes\?$/],
    [["--max-websockets", "0"], /^unknown flag --max-websockets; did you mean --max-web-sockets\?$/],
    [["--treads", "2"], /^unknown flag --treads; did you mean --threads\?$/],
    [["--prot", "8000"], /^unknown flag --prot; did you mean --port\?$/],
    [["--timeout", "soon"], /^flag --timeout must be a number of seconds ≥ 0, got "soon"$/],
    [["--graceful-timeout", "-1"], /^flag --graceful-timeout must be a number of seconds ≥ 0, got "-1"$/],
    [["--max-requests", "1.5"], /^flag --max-requests must be a whole number ≥ 0 \(0 = never\), got "1\.5"$/],
    [
      ["--max-body-size", "1MB"],
      /^flag --max-body-size must be a whole number ≥ 0 \(0 = no limit\), got "1MB"$/,
    ],
    [["--max-url-length", "0"], /^flag --max-url-length must be a whole number ≥ 1, got "0"$/],
    [["--header-timeout", "0"], /^flag --header-timeout must be a number of seconds > 0, got "0"$/],
    [
      ["--forwarded-allow-ips", "10.0.0.1,proxy.local"],
      /^flag --forwarded-allow-ips: "proxy\.local" is not an IP address \(host names are not resolved\)$/,
    ],
    [["--debug=yes"], /^flag --debug takes no value$/],
    [["--no-http2=yes"], /^flag --no-http2 takes no value$/],
    [["a.ts", "b.ts"], /^only one module can be served; got a\.ts and b\.ts$/],
    [
      ["--access-log", "access.log", "app.ts"],
      /^only one module can be served; got access\.log and app\.ts \(a value of --access-log is written --access-log=VALUE\)$/,
    ],
    [
      ["--access-log-format", "xml"],
      /^flag --access-log-format must be one of combined, common, json, got "xml"$/,
    ],
    [["--admin-port", "http"], /^flag --admin-port must be a whole number from 0 to 65535, got "http"$/],
  ];
  for (const [args, message] of bad) {
    it(`refuses ${args.join(" ") || "(nothing)"}, naming the flag`, () =>
      refuses(() => parseArgs(args), message));
  }

  it("--help lists every flag of the table with its default and environment variable, within 90 columns", () => {
    const help = usage();
    for (const [, entry] of Object.entries(SETTINGS) as [string, Setting<unknown, unknown>][]) {
      for (const flag of entry.flags ?? []) assert.ok(help.includes(flag), `--help lists ${flag}`);
      if (entry.env !== undefined) assert.ok(help.includes(`$${entry.env}`), `--help names $${entry.env}`);
    }
    for (const line of help.split("\n")) assert.ok(line.length <= 90, `too long: ${line}`);
    assert.match(help, /liveness check, not a per-request limit/);
    assert.match(help, /HUP {2,}rolling reload/);
    assert.match(help, /Exit codes:\n {2}0 {2,}stopped/);
  });
});

describe(`${runtime}: the entry modules`, () => {
  it("a module is the program's entry by import.meta.main, or by its path on a Node without it", () => {
    assert.equal(isMainModule({ url: import.meta.url, main: true }), true);
    assert.equal(isMainModule({ url: import.meta.url, main: false, filename: process.argv[1] }), false);
    // Node 22.18 to 24.1 run .ts files but have no import.meta.main:
    assert.equal(isMainModule({ url: import.meta.url, filename: process.argv[1] }), true);
    assert.equal(isMainModule({ url: import.meta.url, filename: "/elsewhere/mod.ts" }), false);
  });

  it("the compiled package states the oldest Node it runs on in engines", () => {
    const engines = JSON.parse(readFileSync(`${root}package.json`, "utf8")).engines.node;
    assert.equal(engines, `>=${MIN_NODE}`);
  });
});
