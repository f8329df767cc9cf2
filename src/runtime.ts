/**
 * The one place that asks which runtime this is, and loads its adapter lazily: shared
 * code never imports a runtime module, and each runtime loads only its own adapter.
 *
 * @module
 */
import type { Adapter, RuntimeName } from "./adapter.ts";

/** Which runtime runs this code. */
export function detectRuntime(): RuntimeName {
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Deno === "object" && g.Deno !== null) return "deno";
  if (typeof g.Bun === "object" && g.Bun !== null) return "bun";
  return "node";
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
