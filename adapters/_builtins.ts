/**
 * Node's built-in modules for the helpers Deno and Bun share with Node, each loaded where a
 * feature first needs it rather than imported with the module. On Deno, any `node:` import
 * starts Deno's Node compatibility layer: about 13 MiB and 60 ms of CPU at start, measured
 * with one isolate, which serving HTTP does not use (a control socket, worker processes, a
 * pid file, TLS files, a unix socket do). `process.getBuiltinModule` (Deno, Bun, Node 20.16
 * and 22.3 on) loads one synchronously; an older Node is given `require` by its adapter.
 *
 * @module
 */

/** The built-ins the shared helpers use, by name. */
export interface Builtins {
  "node:child_process": typeof import("node:child_process");
  "node:cluster": typeof import("node:cluster").default;
  "node:crypto": typeof import("node:crypto");
  "node:fs": typeof import("node:fs");
  "node:net": typeof import("node:net");
  "node:os": typeof import("node:os");
  "node:path": typeof import("node:path");
  "node:process": typeof import("node:process");
  "node:timers": typeof import("node:timers");
}

type Load = (name: string) => unknown;

let fallback: Load | undefined;
const loaded: Partial<Builtins> = {};

/** Where `process.getBuiltinModule` is missing (Node before 20.16), load built-ins with `load` (a `require`). */
export function provideBuiltins(load: Load): void {
  fallback = load;
}

/** The built-in module `name`, loaded now if it was not yet. */
export function builtin<Name extends keyof Builtins>(name: Name): Builtins[Name] {
  return loaded[name] ??= load(name);
}

/** The accessors the helpers call, each loading its module at the first call. */
export const childProcess = (): Builtins["node:child_process"] => builtin("node:child_process");
export const cluster = (): Builtins["node:cluster"] => builtin("node:cluster");
export const nodeCrypto = (): Builtins["node:crypto"] => builtin("node:crypto");
export const fs = (): Builtins["node:fs"] => builtin("node:fs");
export const net = (): Builtins["node:net"] => builtin("node:net");
export const os = (): Builtins["node:os"] => builtin("node:os");
export const paths = (): Builtins["node:path"] => builtin("node:path");
export const proc = (): Builtins["node:process"] => builtin("node:process");
export const timers = (): Builtins["node:timers"] => builtin("node:timers");

function load<Name extends keyof Builtins>(name: Name): Builtins[Name] {
  // Not looked up at import: on Deno, merely touching the `process` global costs what an import does.
  const g = globalThis as { process?: { getBuiltinModule?: Load } };
  const module = g.process?.getBuiltinModule?.(name) ?? fallback?.(name);
  if (module === undefined) throw new Error(`multiserve: cannot load ${name} on this runtime`);
  return module as Builtins[Name];
}
