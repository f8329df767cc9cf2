/**
 * Node's compile cache for the primary and every worker it starts. Node strips the types of
 * our `.ts` sources (and of an app in TypeScript) each time a process or thread loads them:
 * ~0.4 s and ~30 MiB per worker for the stripper alone. With the compile cache, the stripped
 * code and V8's code cache are read from disk, keyed by each file's contents (an edited file
 * is stripped again), and the stripper is never loaded. Deno and Bun cache on their own.
 *
 * Where the user has set `NODE_COMPILE_CACHE`, Node uses it from the start and workers
 * inherit it; `NODE_DISABLE_COMPILE_CACHE` turns it off. Otherwise the cache lives in the
 * user's cache directory (never a shared temporary one, where another user could plant
 * entries): `$XDG_CACHE_HOME` or `~/.cache` (`~/Library/Caches` on macOS, `%LOCALAPPDATA%`
 * on Windows), under `multiserve/node-compile-cache`.
 *
 * No runtime module is imported (shared code): Node's `module` is reached through
 * `process.getBuiltinModule` (Node 20.16, 22.3); an older Node simply runs without the cache.
 *
 * @module
 */
import { readEnv } from "./host.ts";

interface NodeModuleApi {
  enableCompileCache?(directory?: string): { status: number; directory?: string };
  flushCompileCache?(): void;
  constants?: { compileCacheStatus?: { ENABLED: number; ALREADY_ENABLED: number } };
}
interface NodeProcess {
  platform: string;
  getBuiltinModule?(name: string): unknown;
}

/** The variable that gives Node, and every worker it starts, its compile cache directory. */
export const COMPILE_CACHE_ENV = "NODE_COMPILE_CACHE";

/** Node's `module`, where this is Node and it has a compile cache (22.1). */
function nodeModule(): NodeModuleApi | undefined {
  const g = globalThis as { Deno?: unknown; Bun?: unknown; process?: NodeProcess };
  if (g.Deno !== undefined || g.Bun !== undefined) return undefined;
  const api = g.process?.getBuiltinModule?.("node:module") as NodeModuleApi | undefined;
  return typeof api?.enableCompileCache === "function" ? api : undefined;
}

/** This user's cache directory for Node's compile cache, if a home is known. */
export function compileCacheDirectory(platform: string): string | undefined {
  const base = platform === "win32" ? readEnv("LOCALAPPDATA") : readEnv("XDG_CACHE_HOME") ||
    (readEnv("HOME")
      ? `${readEnv("HOME")}/${platform === "darwin" ? "Library/Caches" : ".cache"}`
      : undefined);
  return base ? `${base}/multiserve/node-compile-cache` : undefined;
}

let chosen: string | null | undefined;

/**
 * Turn on Node's compile cache in this process (for the modules it loads from now on) and
 * return its directory, to hand to the workers; undefined where there is none (Deno, Bun,
 * an old Node, turned off, no home directory). Once per process.
 */
export function useCompileCache(): string | undefined {
  if (chosen === undefined) chosen = chooseCompileCache() ?? null;
  return chosen ?? undefined;
}

function chooseCompileCache(): string | undefined {
  const api = nodeModule();
  if (api === undefined || readEnv("NODE_DISABLE_COMPILE_CACHE")) return undefined;
  // Set by the user, Node has used it since it started (enabling it again is harmless), and
  // workers inherit it.
  const platform = (globalThis as { process?: NodeProcess }).process?.platform ?? "";
  const directory = readEnv(COMPILE_CACHE_ENV) || compileCacheDirectory(platform);
  if (directory === undefined) return undefined;
  const { status } = api.enableCompileCache!(directory);
  const { ENABLED = 1, ALREADY_ENABLED = 2 } = api.constants?.compileCacheStatus ?? {};
  // A directory Node cannot create or write (a read-only home) fails quietly: no cache.
  return status === ENABLED || status === ALREADY_ENABLED ? directory : undefined;
}

/** The environment a worker needs to share the compile cache: empty where there is none. */
export function compileCacheEnv(): Record<string, string> {
  const directory = useCompileCache();
  return directory === undefined ? {} : { [COMPILE_CACHE_ENV]: directory };
}

/**
 * Write what this process compiled so far to the cache. Node writes it at a normal exit;
 * once a worker listens, writing it then lets the next start (or a replacement of a worker
 * that was killed) find it.
 */
export function flushCompileCache(): void {
  try {
    if (chosen !== undefined || readEnv(COMPILE_CACHE_ENV)) nodeModule()?.flushCompileCache?.();
  } catch { /* a cache that cannot be written costs only the next start's time */ }
}
