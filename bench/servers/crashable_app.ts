/** Benchmark app for crash recovery: hello, and /crash, which ends its isolate. */
export default {
  fetch(request: Request): Response {
    if (new URL(request.url).pathname === "/crash") {
      setTimeout(() => {
        throw new Error("crash on purpose");
      }, 10);
    }
    return new Response("Hello, World!");
  },
};
