/**
 * What every bench section module exports (bench/sections/*.ts), and the rows they give back
 * to bench/run.ts for the results table.
 *
 * @module
 */

/** One line of the results table. */
export interface Row {
  section: string;
  runtime: string;
  what: string;
  value: string;
  ratio: string;
  target?: string;
}

export interface Context {
  /** Seconds per measurement (BENCH_SECONDS). */
  seconds: number;
  /** Each section's raw numbers by key ("a.deno", …), written to bench/results/latest.json. */
  results: Record<string, unknown>;
}

/** A section module: its letter, the title printed as it starts, and its run. */
export interface Section {
  letter: string;
  title: string;
  run(context: Context): Promise<Row[]>;
}

/** A number as the table shows rates, sizes and times: no decimals. */
export const fmt = (n: number): string => n.toFixed(0);
