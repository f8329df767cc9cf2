/** Benchmark app: WebSocket echo through multiserve's upgradeWebSocket(). */
import { upgradeWebSocket } from "../../mod.ts";
import type { RequestInfo } from "../../mod.ts";

export default {
  fetch(request: Request, info: RequestInfo): Response {
    const { socket, response } = upgradeWebSocket(request, info);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  },
};
