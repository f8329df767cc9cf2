/**
 * Signals that reach a server before it traps them. A primary traps its signals once its
 * adapter has loaded, 50–100 ms into a start on Deno and Bun and ~350 ms on Node; until
 * then the runtime's default applied, so a SIGHUP (a reload asked of a server that had just
 * started) or a SIGUSR2 ended it, and SIGTTIN or SIGTTOU stopped it. The entry points
 * (cli.ts, mod.ts run as the program, serve()) keep them from their first line; the traps
 * then act on them in order, as if they had come just then. A command that serves nothing
 * (`--check`, `ctl`, `--help`) releases them: one that would have ended it ends it then.
 *
 * @module
 */
import { exitProcess, onHostSignal } from "./host.ts";
import { assignedWorker } from "./role.ts";
import { PRIMARY_SIGNALS } from "./signals.ts";

type Kept = (typeof PRIMARY_SIGNALS)[number];

/** The shell's exit code for a process that a signal ended, for those whose default ends it. */
const ENDED_BY: Partial<Record<Kept, number>> = { SIGHUP: 129, SIGINT: 130, SIGUSR2: 140, SIGTERM: 143 };

const kept: Kept[] = [];
let untraps: (() => void)[] | undefined;
let released = false;

/** Keep every signal a primary or worker process traps until its traps take them. Not in a thread. */
export function keepEarlySignals(): void {
  if (untraps !== undefined || assignedWorker()?.kind === "thread") return;
  untraps = PRIMARY_SIGNALS.map((signal) =>
    onHostSignal(signal, () => {
      if (!released) return void kept.push(signal);
      const code = ENDED_BY[signal];
      if (code !== undefined) exitProcess(code);
    })
  );
}

/** The signals kept so far, in order; keeping ends. */
export function takeEarlySignals(): Kept[] {
  for (const untrap of untraps ?? []) untrap();
  untraps = [];
  return kept.splice(0);
}

/**
 * Nothing will trap signals here: one kept, or one still on its way to its listener (which
 * stays), whose default ends a process ends this one, with the shell's code for it; SIGTTIN
 * and SIGTTOU, whose default stops a process, are dropped. (Removing the listeners could
 * drop a signal already caught and not yet handed to them.)
 */
export function releaseEarlySignals(): void {
  released = true;
  for (const signal of kept.splice(0)) {
    const code = ENDED_BY[signal];
    if (code !== undefined) exitProcess(code);
  }
}
