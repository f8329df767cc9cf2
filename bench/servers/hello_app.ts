/** Benchmark app: the smallest response. */
export default { fetch: (): Response => new Response("Hello, World!") };
