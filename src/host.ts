/**
 * The host process as every runtime shows it: environment, arguments, working directory,
 * pid, exit, CPUs, signals, and whether a module is the program's entry. No runtime module is
 * imported: each shim asks `Deno` where it exists, else `process` (Bun and Node).
 *
 * @module
 */

interface DenoHost {
  args: string[];
  build: { os: string };
  env: { get(name: string): string | undefined; delete(name: string): void };
  cwd(): string;
  exit(code: number): never;
  pid: number;
  addSignalListener(signal: string, listener: () => void): void;
  removeSignalListener(signal: string, listener: () => void): void;
}
interface ProcessHost {
  argv: string[];
  platform: string;
  env: Record<string, string | undefined>;
  cwd(): string;
  exit(code: number): never;
  pid: number;
  on(signal: string, listener: () => void): void;
  off(signal: string, listener: () => void): void;
}
const host = globalThis as { Deno?: DenoHost; process?: ProcessHost };

/** An environment variable, or undefined when unset or not readable (Deno without --allow-env). */
export function readEnv(name: string): string | undefined {
  try {
    return host.Deno ? host.Deno.env.get(name) : host.process?.env[name];
  } catch {
    return undefined;
  }
}

/** Remove an environment variable, so that programs started from here do not inherit it. */
export function forgetEnv(name: string): void {
  try {
    if (host.Deno) host.Deno.env.delete(name);
    else if (host.process) delete host.process.env[name];
  } catch { /* no permission to change the environment: harmless */ }
}

/** Command-line arguments after the script. */
export function programArgs(): string[] {
  return host.Deno ? host.Deno.args : host.process!.argv.slice(2);
}

/** The current working directory. */
export function cwd(): string {
  return host.Deno ? host.Deno.cwd() : host.process!.cwd();
}

/** The operating system, as Node names it (`linux`, `darwin`, `win32`…; Deno's `windows` too). */
export function platform(): string {
  return host.Deno ? host.Deno.build.os : host.process!.platform;
}

/** This process's id. */
export function pid(): number {
  return host.Deno ? host.Deno.pid : host.process!.pid;
}

/** End the process with `code`. */
export function exitProcess(code: number): never {
  return host.Deno ? host.Deno.exit(code) : host.process!.exit(code);
}

/** The number of CPUs this isolate may use (at least 1). */
export function cpuCount(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ??
    nodeReportCpus();
  return typeof n === "number" && n >= 1 ? n : 1;
}

interface NodeReport {
  excludeNetwork?: boolean;
  getReport(): { header?: { cpus?: unknown[] } };
}

/**
 * The CPUs of a Node without `navigator` (before 21), where "auto" would otherwise mean one
 * worker: its diagnostic report lists them, synchronously, from `process`. (node:os would be
 * a runtime module imported by shared code, or a top-level await, and with one
 * `require("multiserve")` fails on the Nodes that can require ES modules.) The report counts
 * every CPU of the machine, where `navigator.hardwareConcurrency` counts those this process
 * may run on. Its network details are left out where Node can (20.13): they cost a name
 * lookup per socket.
 */
function nodeReportCpus(): number | undefined {
  const report = (host.process as { report?: NodeReport } | undefined)?.report;
  if (report === undefined) return undefined;
  const excluded = report.excludeNetwork;
  try {
    if (excluded !== undefined) report.excludeNetwork = true;
    return report.getReport().header?.cpus?.length;
  } catch {
    return undefined;
  } finally {
    if (excluded !== undefined) report.excludeNetwork = excluded;
  }
}

/**
 * Is the module of `meta` the program's entry? `import.meta.main` where the runtime has it
 * (Deno, Bun, Node ≥ 24.2); on an older Node, its path against the script Node was given.
 */
export function isMainModule(meta: { url: string; main?: boolean; filename?: string }): boolean {
  const { main, filename } = meta;
  if (typeof main === "boolean") return main;
  return filename !== undefined && filename === host.process?.argv[1];
}

/**
 * The module `name` beside `base`, with `base`'s extension: `.ts` when running from the
 * sources, `.js` once compiled to dist/.
 */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}.${base.endsWith(".js") ? "js" : "ts"}`, base);
}

/** The oldest Node the compiled package runs on (`import.meta.filename`; `engines` in package.json). */
export const MIN_NODE = "20.11";

/** On Node older than `MIN_NODE`, the version it is; undefined elsewhere. */
export function tooOldNode(): string | undefined {
  if (host.Deno || (globalThis as { Bun?: unknown }).Bun) return undefined;
  const version = (host.process as { versions?: { node?: string } } | undefined)?.versions?.node;
  if (version === undefined) return undefined;
  const [major, minor] = version.split(".").map(Number);
  const [wantMajor, wantMinor] = MIN_NODE.split(".").map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor) ? undefined : version;
}

/**
 * Call `listener` on `signal`; returns the remover. Every adapter's `onSignal`, and usable
 * before any adapter has loaded (src/early_signals.ts). A signal this OS lacks is not
 * trapped: Deno on Windows has SIGINT (and SIGBREAK), Node and Bun SIGINT and SIGTERM.
 */
export function onHostSignal(signal: string, listener: () => void): () => void {
  if (host.Deno) {
    if (host.Deno.build.os === "windows" && signal !== "SIGINT") return () => {};
    host.Deno.addSignalListener(signal, listener);
    return () => host.Deno!.removeSignalListener(signal, listener);
  }
  const process = host.process;
  if (process === undefined) return () => {};
  if (process.platform === "win32" && signal !== "SIGINT" && signal !== "SIGTERM") return () => {};
  process.on(signal, listener);
  return () => process.off(signal, listener);
}
