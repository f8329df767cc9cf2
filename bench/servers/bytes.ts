/**
 * Bulk bytes for the bench: POST /upload echoes the request body (wrk sends 1 MiB), GET
 * /download streams 10 MiB in 64 KiB chunks.
 */
const CHUNK = new Uint8Array(64 * 1024).fill(120);
const DOWNLOAD_CHUNKS = 160; // 10 MiB

export function bytes(request: Request): Response | Promise<Response> {
  if (request.method === "POST") {
    return request.arrayBuffer().then((body) => new Response(body));
  }
  let sent = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === DOWNLOAD_CHUNKS) return controller.close();
        controller.enqueue(CHUNK);
      },
    }),
    { headers: { "content-type": "application/octet-stream" } },
  );
}
