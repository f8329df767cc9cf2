#!/usr/bin/env node
/**
 * The `multiserve` command (the npm bin, `./cli` on JSR): `multiserve [flags] [module]`.
 * Run `multiserve --help` for the flags.
 *
 * @module
 */
import { main } from "./src/cli.ts";

main();
