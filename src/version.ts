/** The version of multiserve (kept equal to package.json and deno.json by a test). */
export const VERSION = "0.1.0";
