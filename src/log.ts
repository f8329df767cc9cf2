/**
 * Where multiserve's own lines go: stderr, one line per event, prefixed `multiserve:`
 * (gunicorn's error log). Lifecycle events of the primary, its pools and its workers all
 * pass through here.
 *
 * @module
 */

/** Write one lifecycle line (and any error after it, with its stack) to stderr. */
export function log(line: string, ...details: unknown[]): void {
  console.error(`multiserve: ${line}`, ...details);
}
