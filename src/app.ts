/**
 * What a served app is: a fetch function, an object with `fetch`, or a module whose
 * default export is one of those; and loading it.
 *
 * @module
 */
import { AppLoadError, messageOf } from "./errors.ts";
import type { App, FetchHandler } from "./types.ts";

/** The handler to call for each request. Methods are bound once, not per request. */
export function toHandler(app: App): FetchHandler {
  if (isApp(app)) return typeof app === "function" ? app : app.fetch.bind(app);
  throw new TypeError(
    "serve() takes a fetch function, an object with a fetch method (a Hono app), or the URL of a module whose default export is one",
  );
}

function isApp(value: unknown): value is App {
  return typeof value === "function" ||
    (typeof value === "object" && value !== null &&
      typeof (value as { fetch?: unknown }).fetch === "function");
}

/** Import `url` and return its default export as a handler. */
export async function loadApp(url: string): Promise<FetchHandler> {
  const path = url.startsWith("file:") ? decodeURIComponent(new URL(url).pathname) : url;
  let module: { default?: unknown };
  try {
    module = await import(url);
  } catch (error) {
    if (isModuleNotFound(error, url, path)) {
      throw new AppLoadError(`cannot find app module ${path}`, { cause: error });
    }
    throw new AppLoadError(`app module ${path} threw while loading: ${messageOf(error)}`, {
      cause: error,
    });
  }
  if (!isApp(module.default)) {
    throw new AppLoadError(
      `app module ${path} has no app as its default export: export default a fetch function or an object with fetch (export default { fetch })`,
    );
  }
  return toHandler(module.default);
}

/**
 * Did the import fail because `url` itself is missing (not something it imports)?
 * Every runtime names the missing module first in its message: Node and Bun
 * `Cannot find module '/x/app.ts' …`, Deno `Module not found "file:///x/app.ts"`.
 */
function isModuleNotFound(error: unknown, url: string, path: string): boolean {
  const missing = /^(?:Cannot find module|Module not found)\s+['"]([^'"]+)['"]/i.exec(messageOf(error));
  return missing !== null && (missing[1] === url || missing[1] === path);
}

/** The handler of a worker: the app given, or the module it names (module form). */
export function appHandler(app: App | URL | undefined, module?: string): Promise<FetchHandler> {
  if (module !== undefined) return loadApp(module);
  if (app instanceof URL) return loadApp(app.href);
  if (app === undefined) {
    return Promise.reject(new TypeError("a module-form worker was started without a module"));
  }
  return Promise.resolve(toHandler(app));
}
