/** Benchmark app: bulk bytes (bench/servers/bytes.ts) through serve(). */
import { bytes } from "./bytes.ts";

export default { fetch: bytes };
