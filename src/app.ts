/**
 * What a served app is: a fetch function, an object with `fetch`, or a module whose
 * default export is one of those. Also the answer sent when the app throws.
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

/** The response when the app throws: a plain 500, the details only in the server log. */
export function errorResponse(error: unknown): Response {
  console.error("multiserve: the app threw while handling a request:", error);
  return new Response("Internal Server Error", {
    status: 500,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
