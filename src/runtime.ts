/**
 * The one place that asks which runtime this is. Everything runtime-specific is behind
 * the adapter loaded from here, lazily, so shared code never imports a runtime module.
 *
 * @module
 */
import type { Adapter } from "./adapter.ts";

/** The runtimes multiserve serves on. */
export type RuntimeName = "deno" | "bun" | "node";

/** Which runtime runs this code. */
export function detectRuntime(): RuntimeName {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Deno === "object" && g.Deno !== null) return "deno";
  if (typeof g.Bun === "object" && g.Bun !== null) return "bun";
  return "node";
}

/** An environment variable, or undefined when unset or not readable (Deno without --allow-env). */
export function readEnv(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(name: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  try {
    if (g.Deno) return g.Deno.env.get(name);
    return g.process?.env[name];
  } catch {
    return undefined;
  }
}

let adapter: Promise<Adapter> | undefined;

/** The adapter of the running runtime, imported on first use. */
export function loadAdapter(): Promise<Adapter> {
  adapter ??= importAdapter(detectRuntime());
  return adapter;
}

async function importAdapter(runtime: RuntimeName): Promise<Adapter> {
  switch (runtime) {
    case "deno":
      return (await import("../adapters/deno.ts")).adapter;
    case "bun":
      return (await import("../adapters/bun.ts")).adapter;
    case "node":
      return (await import("../adapters/node.ts")).adapter;
  }
}

/**
 * The module `name` beside `base`, with `base`'s extension: `.ts` when running from the
 * sources, `.js` once compiled to dist/.
 */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}.${base.endsWith(".js") ? "js" : "ts"}`, base);
}

interface ProcessLike {
  argv: string[];
  cwd(): string;
  exit(code: number): never;
  pid: number;
}
interface DenoLike {
  args: string[];
  cwd(): string;
  exit(code: number): never;
  pid: number;
}
const host = globalThis as { Deno?: DenoLike; process?: ProcessLike };

/** Command-line arguments after the script. */
export function programArgs(): string[] {
  return host.Deno ? host.Deno.args : host.process!.argv.slice(2);
}

/** The current working directory. */
export function cwd(): string {
  return host.Deno ? host.Deno.cwd() : host.process!.cwd();
}

/** This process's id. */
export function pid(): number {
  return host.Deno ? host.Deno.pid : host.process!.pid;
}

/** End the process with `code`. */
export function exitProcess(code: number): never {
  return host.Deno ? host.Deno.exit(code) : host.process!.exit(code);
}
