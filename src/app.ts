/**
 * What a served app is: a fetch function, an object with `fetch`, or a module whose
 * default export is one of those; and loading it.
 *
 * @module
 */
import { AppLoadError, messageOf } from "./errors.ts";
import { loadErrorDetail } from "./load_error.ts";
import type { App, FetchHandler, WorkerHooks } from "./types.ts";

/** An app as a worker serves it: its fetch handler, and its own WebSocket handler if it has one. */
export interface ServedApp extends WorkerHooks {
  fetch: FetchHandler;
  /** Bun's `websocket` object (what `hono/bun` exports), for the runtime's own server. */
  websocket?: unknown;
}

/** What a module may export beside its default export. */
type AppModule = { default?: unknown } & Pick<ServedApp, "websocket" | "onStart" | "onStop">;

/** `app` as served: what its module exports by name, else the app's own properties. */
function served(app: App, module: AppModule = {}): ServedApp {
  const own = (typeof app === "object" ? app : {}) as Partial<ServedApp>;
  const hook = (name: "onStart" | "onStop") => {
    const value = module[name] ?? own[name];
    if (value !== undefined && typeof value !== "function") {
      throw new AppLoadError(`the app's ${name} must be a function, got ${typeof value}`);
    }
    return value?.bind(module[name] ? module : own);
  };
  return {
    fetch: toHandler(app),
    websocket: module.websocket ?? own.websocket,
    onStart: hook("onStart"),
    onStop: hook("onStop"),
  };
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
  let module: AppModule;
  try {
    module = await import(url);
  } catch (error) {
    if (isModuleNotFound(error, url, path)) {
      throw new AppLoadError(`cannot find app module ${path}`, { cause: error });
    }
    throw new AppLoadError(`app module ${path} failed to load: ${loadErrorDetail(error)}`, { cause: error });
  }
  if (!isApp(module.default)) {
    throw new AppLoadError(
      `app module ${path} has no app as its default export: export default a fetch function or an object with fetch (export default { fetch })`,
    );
  }
  return served(module.default, module);
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
