/**
 * What a served app is: a fetch function, an object with `fetch`, or a module whose
 * default export is one of those. Also the answer sent when the app throws.
 *
 * @module
 */
import { AppLoadError, messageOf } from "./errors.ts";
import { RequestBodyError } from "./guard.ts";
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

/**
 * What answers when the app throws: a request body the client got wrong (too large, bad
 * chunks) gets its 413 or 400; anything else a plain 500 whose details go to the server
 * log, and to the client only in `debug`.
 */
export function errorHandler(debug: boolean): (error: unknown) => Response {
  return (error) => {
    const clientError = requestBodyError(error);
    if (clientError) return clientError.getResponse();
    console.error("multiserve: the app threw while handling a request:", error);
    const detail = debug
      ? `\n\n${error instanceof Error ? error.stack ?? error.message : String(error)}\n`
      : "";
    return new Response(`Internal Server Error${detail}`, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  };
}

/** The `RequestBodyError` behind `error`, however the runtime wrapped it. */
function requestBodyError(error: unknown): RequestBodyError | undefined {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof RequestBodyError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
