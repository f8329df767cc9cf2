#!/usr/bin/env node
/**
 * The `multiserve` command (the npm bin, `./cli` on JSR): `multiserve [flags] [module]`.
 * Run `multiserve --help` for the flags.
 *
 * @module
 */
import { exitProcess, MIN_NODE, tooOldNode } from "./src/host.ts";

// Checked before the rest loads, which an old Node may not even parse.
const old = tooOldNode();
if (old !== undefined) {
  console.error(`multiserve: needs Node ${MIN_NODE} or newer; this is Node ${old}`);
  exitProcess(1);
}
const { main } = await import("./src/cli.ts");
await main();
