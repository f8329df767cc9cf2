#!/usr/bin/env node
/**
 * The npm `multiserve` binary: always the CLI, on any Node that runs it.
 *
 * @module
 */
import { main } from "./cli.ts";

await main();
