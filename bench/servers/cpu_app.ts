/** Benchmark app: about 2 ms of CPU per request (fixed work, the same on every runtime). */
import { burn } from "./cpu.ts";

export default { fetch: (): Response => new Response(`done ${burn()}`) };
