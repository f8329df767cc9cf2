/**
 * What to say when an app module fails to load: the runtime's own message and the place,
 * file:line:column, whatever shape each runtime gives it (Bun's build errors one by one,
 * Node's syntax errors with their code frame, Deno's with theirs, a throw at import with the
 * app's own stack frames), and a hint when the module was loaded as CommonJS.
 *
 * @module
 */
import { messageOf } from "./errors.ts";

/** Where multiserve's own code lives: its frames are left out of an app's stack. */
const OURS = new URL("..", import.meta.url).pathname;

/** A build or resolve error of Bun's, with its place. */
interface BunMessage {
  message?: string;
  position?: { file: string; line: number; column: number; lineText?: string } | null;
}

/** The runtime's message for a load error, with the place it names. */
export function loadErrorDetail(error: unknown): string {
  const e = (error ?? {}) as { name?: string; stack?: unknown; errors?: BunMessage[]; position?: unknown };
  // Bun: one build error with its place, or "N errors building …", each with its own.
  const built = Array.isArray(e.errors) ? e.errors : e.position ? [error as BunMessage] : [];
  let detail: string;
  if (built.some((sub) => sub?.position)) {
    detail = built.map(({ message, position: at }) =>
      at
        ? `${at.file}:${at.line}:${at.column}: ${message}${at.lineText ? `\n    ${at.lineText.trim()}` : ""}`
        : `${message}`
    ).join("\n");
  } else {
    const message = plain(messageOf(error));
    const stack = plain(typeof e.stack === "string" ? e.stack : "");
    const at = stack.search(/^\w*(Syntax|Type|Reference)?Error\b.*$/m);
    if (e.name === "SyntaxError" && at > 0) {
      // Node: the place and a code frame come before the message in the stack.
      detail = `${message}\n${indent(stack.slice(0, at).trimEnd())}`;
    } else {
      // A throw at import: the frames of the app, not the runtime's or ours.
      const frames = stack.split("\n").filter((line) =>
        /^\s+at /.test(line) && !line.includes(OURS.slice(0, -1) + "/src/") &&
        !/node:internal|ext:|native/.test(line)
      );
      const messageHasPlace = /:\d+:\d+/.test(message);
      detail = frames.length > 0 && !messageHasPlace ? `${message}\n${frames.join("\n")}` : message;
    }
  }
  return commonJsHint(detail) ?? detail;
}

/** `detail` with a hint, when the module was loaded as CommonJS. */
function commonJsHint(detail: string): string | undefined {
  if (
    !/Cannot use import statement outside a module|require is not defined in ES module|exports is not defined/
      .test(detail)
  ) {
    return undefined;
  }
  return `${detail}\nhint: the module was loaded as CommonJS (its package.json says "type": "commonjs", or has no "type"): set "type": "module" there, or name the file .mjs (.mts for TypeScript)`;
}

/** Without terminal colour codes (Deno colours the places in its messages). */
function plain(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

function indent(text: string): string {
  return text.split("\n").map((line) => `    ${line}`).join("\n");
}
