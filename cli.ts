#!/usr/bin/env node
/**
 * The `multiserve` command (the npm bin, `./cli` on JSR): `multiserve [flags] [module]`.
 * Run `multiserve --help` for the flags.
 *
 * @module
 */
import { useCompileCache } from "./src/compile_cache.ts";
import { keepEarlySignals } from "./src/early_signals.ts";
import { exitProcess, MIN_NODE, tooOldNode } from "./src/host.ts";

// Checked before the rest loads, which an old Node may not even parse.
const old = tooOldNode();
if (old !== undefined) {
  console.error(`multiserve: needs Node ${MIN_NODE} or newer; this is Node ${old}`);
  exitProcess(1);
}
// Before the rest loads, so that Node loads it from its compile cache (src/compile_cache.ts).
useCompileCache();
// A signal while the rest loads is the server's to act on, once it traps them (src/early_signals.ts).
keepEarlySignals();
const { main } = await import("./src/cli.ts");
await main();
