/**
 * Runs each test file in a process of its own, N at a time, with one runtime's own runner:
 * `node scripts/test_each.ts N COMMAND... -- FILE_OR_DIR...`, e.g.
 * `node scripts/test_each.ts 3 deno test -A --no-check -- tests/`.
 *
 * Why not `deno test --parallel`: it runs the files as threads of one process, and there
 * Deno 2.9's node:net once crossed two files' sockets (a control-socket request arrived as
 * another file's HTTP bytes, and that file's HTTP client parsed a JSON reply). A process per
 * file shares nothing. Each file's output is printed whole when it ends, then a line per
 * failed file; the exit code is 1 if any failed.
 */
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const [jobsArg, ...rest] = process.argv.slice(2);
const split = rest.indexOf("--");
const jobs = Number(jobsArg);
if (!Number.isInteger(jobs) || jobs < 1 || split < 1) {
  console.error("usage: node scripts/test_each.ts JOBS COMMAND [ARG...] -- FILE_OR_DIR...");
  process.exit(2);
}
const [command, ...args] = rest.slice(0, split);

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

const queue = rest.slice(split + 1).flatMap(testFiles);
const failed: string[] = [];
const started = Date.now();

function runOne(file: string): Promise<void> {
  return new Promise((resolve) => {
    const begun = Date.now();
    const child = spawn(command, [...args, file], { stdio: ["ignore", "pipe", "pipe"] });
    const output: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    child.on("close", (code, signal) => {
      process.stdout.write(Buffer.concat(output));
      const seconds = ((Date.now() - begun) / 1000).toFixed(1);
      const ok = code === 0;
      if (!ok) failed.push(`${file} (${signal ?? `exit ${code}`})`);
      console.log(`${ok ? "passed" : "FAILED"}: ${file} in ${seconds} s\n`);
      resolve();
    });
  });
}

async function lane(): Promise<void> {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) await runOne(file);
}

await Promise.all(Array.from({ length: jobs }, lane));
const total = ((Date.now() - started) / 1000).toFixed(0);
if (failed.length > 0) {
  console.log(`${failed.length} test file(s) failed, in ${total} s:\n  ${failed.join("\n  ")}`);
  process.exit(1);
}
console.log(`every test file passed, in ${total} s`);
