/**
 * What a served app is: a fetch function, an object with `fetch`, or a module whose
 * default export is one of those; and loading it.
 *
 * @module
 */
import { AppLoadError, messageOf } from "./errors.ts";
import type { App, FetchHandler } from "./types.ts";

/** An app as a worker serves it: its fetch handler, and its own WebSocket handler if it has one. */
export interface ServedApp {
  fetch: FetchHandler;
  /** Bun's `websocket` object (what `hono/bun` exports), for the runtime's own server. */
  websocket?: unknown;
}

/** `app` as served: the module's `websocket` export, else the app's `websocket` property. */
function served(app: App, moduleWebsocket?: unknown): ServedApp {
  const own = typeof app === "object" ? (app as { websocket?: unknown }).websocket : undefined;
  return { fetch: toHandler(app), websocket: moduleWebsocket ?? own };
}

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

/** Import `url` and serve its default export (and its `websocket` export, if any). */
export async function loadApp(url: string): Promise<ServedApp> {
  const path = url.startsWith("file:") ? decodeURIComponent(new URL(url).pathname) : url;
  let module: { default?: unknown; websocket?: unknown };
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
  return served(module.default, module.websocket);
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

/** What a worker serves: the app given, or the module it names (module form). */
export function servedApp(app: App | URL | undefined, module?: string): Promise<ServedApp> {
  if (module !== undefined) return loadApp(module);
  if (app instanceof URL) return loadApp(app.href);
  if (app === undefined) {
    return Promise.reject(new TypeError("a module-form worker was started without a module"));
  }
  return Promise.resolve(served(app));
}
