/**
 * Fixed CPU work of about 2 ms on the 2-core CI machine (V8 and JavaScriptCore alike).
 * Fixed work, not a timed spin: a spin that ends after 2 ms of wall time would do less
 * work when the core is shared, flattering any setup that oversubscribes the CPU.
 */
export const ITERATIONS = 400_000;

export function burn(iterations = ITERATIONS): number {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x * 31 + i) % 1_000_003;
  return x;
}
