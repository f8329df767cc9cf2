/**
 * `watch`: a rolling reload when the app's files change. Changes are collected for about
 * 100 ms after the last one, then the pool reloads (what SIGHUP does): a change that breaks
 * the app leaves the old workers serving, and the next good change recovers.
 *
 * @module
 */
import type { Adapter } from "./adapter.ts";
import { messageOf } from "./errors.ts";
import type { WorkerPool } from "./pool/pool.ts";

/** Quiet time after the last change before reloading. */
const DEBOUNCE_MS = 100;

/** Never watched: dependencies, version control, dotfiles, build output. */
const ALWAYS_IGNORED = /(^|\/)(node_modules|\.[^/]*|dist)(\/|$)/;

/** A glob as a pattern over `/`-separated relative paths: `*`, `**`, `?`. */
export function globPattern(glob: string): RegExp {
  const source = glob.split(/(\*\*\/?|\*|\?)/).map((part) =>
    part === "**" || part === "**/"
      ? "(?:.*/)?" + (part === "**" ? ".*" : "")
      : part === "*"
      ? "[^/]*"
      : part === "?"
      ? "[^/]"
      : part.replace(/[.+^${}()|[\]\\]/g, "\\$&")
  ).join("");
  return new RegExp(`^${source}$`);
}

/** Is `relative` (a path under a watched root) worth a reload? */
export function watched(relative: string, excluded: RegExp[]): boolean {
  const path = relative.replaceAll("\\", "/");
  if (path === "" || ALWAYS_IGNORED.test(path)) return false;
  const name = path.slice(path.lastIndexOf("/") + 1);
  return !excluded.some((pattern) => pattern.test(path) || pattern.test(name));
}

/** Watch `roots`; on a change worth it, reload `pool`. Returns the way to stop watching. */
export function reloadOnChange(
  adapter: Adapter,
  pool: WorkerPool,
  roots: string[],
  exclude: string[],
  log: (line: string) => void,
): () => void {
  const excluded = exclude.map(globPattern);
  let changed = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reloading: Promise<void> = Promise.resolve();
  const reload = () => {
    const files = [...changed];
    changed = new Set();
    reloading = reloading.then(async () => {
      const shown = files.length <= 3
        ? files.join(", ")
        : `${files.slice(0, 3).join(", ")} and ${files.length - 3} more`;
      log(`watch: ${shown} changed; reloading`);
      const began = Date.now();
      try {
        await pool.reload();
        log(`watch: reloaded in ${Date.now() - began} ms`);
      } catch (error) {
        // The pool has logged the failure with its place; the old workers serve on.
        log(`watch: the change did not load (${messageOf(error).split("\n")[0]}); waiting for the next one`);
      }
    });
  };
  return adapter.watch(roots, (root, relative) => {
    if (!watched(relative, excluded)) return;
    changed.add(`${root.replace(/\/$/, "")}/${relative}`);
    clearTimeout(timer);
    timer = setTimeout(reload, DEBOUNCE_MS);
  });
}
