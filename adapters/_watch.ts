/**
 * Watching files through `node:fs` (Bun and Node): `watch` with `recursive`, which Linux,
 * macOS and Windows all do on both.
 *
 * @module
 */
import { fs, paths } from "./_builtins.ts";

/** Call `onChange(root, path relative to root)` for changes under `roots`; returns the stop. */
export function watchFiles(roots: string[], onChange: (root: string, relative: string) => void): () => void {
  const watchers = roots.map((root) => {
    // A file is watched through its directory, for the editors that replace it on save.
    const isFile = fs().statSync(root).isFile();
    const dir = isFile ? paths().dirname(root) : root;
    return fs().watch(dir, { recursive: !isFile }, (_event, name) => {
      if (name === null) return;
      const relative = String(name);
      if (isFile && relative !== paths().basename(root)) return;
      onChange(dir, relative);
    });
  });
  return () => watchers.forEach((watcher) => watcher.close());
}
