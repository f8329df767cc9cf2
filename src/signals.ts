/**
 * The signals a primary and its worker processes act on, trapped through the adapter and
 * untrapped together when the server ends. What the primary does with each, at each point of
 * its pool's life, is decided in `pool/control.ts`.
 *
 * @module
 */
import type { Adapter, Signal } from "./adapter.ts";

/** The shell's exit code for a process ended by each stop signal. */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/** Every signal a primary traps, from the moment it begins to start. */
export const PRIMARY_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGTTIN", "SIGTTOU", "SIGUSR2"] as const;

export class SignalTraps {
  readonly #adapter: Adapter;
  readonly #untraps: (() => void)[] = [];
  readonly #listeners = new Map<Signal, (() => void)[]>();

  constructor(adapter: Adapter) {
    this.#adapter = adapter;
  }

  on(signal: Signal, listener: () => void): void {
    this.#untraps.push(this.#adapter.onSignal(signal, listener));
    this.#listeners.set(signal, [...this.#listeners.get(signal) ?? [], listener]);
  }

  /**
   * Once every trap is set: act on the signals that came before (src/early_signals.ts), in
   * order, after this turn of the event loop as a signal would come.
   */
  replay(early: readonly Signal[]): void {
    if (early.length === 0) return;
    queueMicrotask(() => {
      for (const signal of early) for (const listener of this.#listeners.get(signal) ?? []) listener();
    });
  }

  /**
   * SIGINT and SIGTERM: the first means "drain", a second "now" (gunicorn's quick
   * shutdown), with the shell's exit code for that signal.
   */
  onStop(first: (signal: Signal) => void, again: (signal: Signal, exitCode: number) => void): void {
    let signalled = false;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      this.on(signal, () => {
        if (signalled) return again(signal, SIGNAL_EXIT[signal]);
        signalled = true;
        first(signal);
      });
    }
  }

  /** Remove every trap. */
  clear(): void {
    for (const untrap of this.#untraps.splice(0)) untrap();
  }
}
