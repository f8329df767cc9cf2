#!/usr/bin/env node
/**
 * `npm start` on Node: the command line (`cli.ts`) from the sources, with Node's compile
 * cache turned on before the first `.ts` file loads. Once the cache is warm, not even
 * `cli.ts` is type-stripped, so the primary never loads the stripper (~17 MiB and ~0.2 s
 * of a Node process): a `.ts` entry is stripped before it can turn the cache on itself.
 * Plain JavaScript for that reason. The directory follows src/compile_cache.ts, which then
 * finds it in `NODE_COMPILE_CACHE` and hands it to the workers.
 */
import module from "node:module";
import process from "node:process";

const { env, platform } = process;
if (typeof module.enableCompileCache === "function" && !env.NODE_DISABLE_COMPILE_CACHE) {
  if (!env.NODE_COMPILE_CACHE) {
    const base = platform === "win32" ? env.LOCALAPPDATA : env.XDG_CACHE_HOME ||
      (env.HOME && `${env.HOME}/${platform === "darwin" ? "Library/Caches" : ".cache"}`);
    if (base) env.NODE_COMPILE_CACHE = `${base}/multiserve/node-compile-cache`;
  }
  if (env.NODE_COMPILE_CACHE) module.enableCompileCache(env.NODE_COMPILE_CACHE);
}
await import("../cli.ts");
