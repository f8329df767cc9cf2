/**
 * Runs the suite's test files, each in a process of its own under its runtime's own runner
 * (`deno test`, `bun test`, `node --test`), JOBS at a time from one queue across the
 * runtimes: `node scripts/test_each.ts [--jobs N] RUNTIME... [-- FILE_OR_DIR...]`, e.g.
 * `node scripts/test_each.ts --jobs 4 node bun` (as `npm test` runs them) or
 * `node scripts/test_each.ts --jobs 1 bun -- tests/e2e/tls.test.ts`.
 *
 * Why a process per file: `deno test --parallel` runs files as threads of one process, and
 * there Deno 2.9's node:net once crossed two files' sockets (a control-socket request arrived
 * as another file's HTTP bytes). Why one queue for several runtimes: one after another, each
 * ends with lanes idle behind its slowest file; from one queue, slowest files first, the
 * lanes stay full to the end (`npm test` mixes Node and Bun; Deno's files slow down by 1.7×
 * beside them, so Deno runs alone). Each file's output is printed whole when it ends; then a
 * line per failed file, and the exit code is 1 if any failed.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** Each runtime's runner, given one file; and what it needs in its environment. */
const RUNNERS: Record<string, { command: string[]; env?: Record<string, string> }> = {
  // Types are checked once, by `npm run typecheck`, not again in each file's process.
  deno: { command: ["deno", "test", "-A", "--no-check"] },
  bun: { command: ["bun", "test", "--timeout", "60000"] },
  node: {
    command: ["node", "--test", "--test-timeout=120000"],
    // Each of the hundreds of Node processes the suite starts strips its TypeScript once.
    env: { NODE_COMPILE_CACHE: join(tmpdir(), "multiserve-node-compile-cache") },
  },
};

/**
 * The files that take longest, longest first (Node's times on 2 cores, 2026-12): started
 * first, they do not end the run alone. A file not named here runs after these; a stale
 * list costs time, never a result.
 */
const SLOWEST = [
  "supervision",
  "lifecycle",
  "graceful_restarts",
  "control",
  "observability",
  "upgrade",
  "package",
  "websocket",
  "developer",
  "pubsub",
  "booting",
  "tls",
  "compile_cache",
  "memory_recycling",
  "pubsub_redis",
  "failures",
  "systemd_notify",
  "nginx",
];
/** Of one file, Node's part takes longest and Bun's least. */
const RUNTIME_ORDER = ["node", "deno", "bun"];

function usage(): never {
  console.error(
    `usage: node scripts/test_each.ts [--jobs N] RUNTIME... [-- FILE_OR_DIR...]  (RUNTIME: ${
      Object.keys(RUNNERS).join(", ")
    })`,
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
let jobs = 3;
if (argv[0] === "--jobs") {
  jobs = Number(argv[1]);
  argv.splice(0, 2);
}
const split = argv.includes("--") ? argv.indexOf("--") : argv.length;
const runtimes = argv.slice(0, split);
const paths = split < argv.length ? argv.slice(split + 1) : ["tests/"];
if (!Number.isInteger(jobs) || jobs < 1 || runtimes.length === 0 || runtimes.some((r) => !(r in RUNNERS))) {
  usage();
}

/** Every `*.test.ts` under `path`, in name order, or `path` itself. */
function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const child = join(path, entry.name);
      if (entry.isDirectory()) return testFiles(child);
      return entry.name.endsWith(".test.ts") ? [child] : [];
    });
}

function rank(file: string): number {
  const at = SLOWEST.findIndex((name) => file.endsWith(`/${name}.test.ts`));
  return at === -1 ? SLOWEST.length : at;
}

const queue = paths.flatMap(testFiles)
  .flatMap((file) => runtimes.map((runtime) => ({ runtime, file })))
  .sort((a, b) =>
    rank(a.file) - rank(b.file) || RUNTIME_ORDER.indexOf(a.runtime) - RUNTIME_ORDER.indexOf(b.runtime)
  );
const failed: string[] = [];
const started = Date.now();

/** CPU seconds of a process's waited-for children, from its /proc/PID/stat line. */
function cpuOf(stat: string): number | undefined {
  // After "(comm)": state is field 3; cutime and cstime are fields 16 and 17, in ticks.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).trim().split(" ");
  const ticks = Number(fields[13]) + Number(fields[14]);
  return Number.isFinite(ticks) ? ticks / 100 : undefined;
}

let cpuTotal = 0;

function runOne(runtime: string, file: string): Promise<void> {
  const { command: [command, ...args], env } = RUNNERS[runtime];
  return new Promise((resolve) => {
    const begun = Date.now();
    // Through a shell that, once the runner has ended, writes its own /proc stat to fd 3:
    // its children's CPU time there is the whole tree's the runner waited for (the servers).
    const child = spawn("/bin/sh", [
      "-c",
      'exec 4>&3 3>&-; "$@"; rc=$?; cat /proc/$$/stat >&4; exit $rc',
      "sh",
      command,
      ...args,
      file,
    ], {
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    const output: Buffer[] = [];
    let stat = "";
    child.stdout!.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr!.on("data", (chunk: Buffer) => output.push(chunk));
    child.stdio[3]!.on("data", (chunk: Buffer) => (stat += chunk));
    child.on("close", (code, signal) => {
      const seconds = ((Date.now() - begun) / 1000).toFixed(1);
      const cpu = cpuOf(stat);
      cpuTotal += cpu ?? 0;
      const ok = code === 0;
      if (!ok) failed.push(`${runtime} ${file} (${signal ?? `exit ${code}`})`);
      process.stdout.write(Buffer.concat(output));
      const used = cpu === undefined ? "" : `, ${cpu.toFixed(1)} s of CPU`;
      console.log(`${ok ? "passed" : "FAILED"}: ${runtime} ${file} in ${seconds} s${used}\n`);
      resolve();
    });
  });
}

async function lane(): Promise<void> {
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    await runOne(next.runtime, next.file);
  }
}

await Promise.all(Array.from({ length: jobs }, lane));
const total = ((Date.now() - started) / 1000).toFixed(0);
if (failed.length > 0) {
  console.log(
    `${failed.length} test file(s) failed, in ${total} s (${cpuTotal.toFixed(0)} s of CPU):\n  ${
      failed.join("\n  ")
    }`,
  );
  process.exit(1);
}
console.log(
  `every test file passed (${runtimes.join(", ")}), in ${total} s (${cpuTotal.toFixed(0)} s of CPU)`,
);
