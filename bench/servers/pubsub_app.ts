/**
 * Topic fan-out for the bench: `/ws` subscribes the socket to "bench"; `/ws?role=pub` does
 * not, and each message it sends is published to "bench" from that socket.
 */
import { type RequestInfo, upgradeWebSocket } from "../../mod.ts";

export default {
  fetch(request: Request, info: RequestInfo): Response {
    const { socket, response } = upgradeWebSocket(request, info);
    const publisher = new URL(request.url).searchParams.get("role") === "pub";
    if (publisher) socket.onmessage = (event) => socket.publish("bench", event.data);
    else socket.onopen = () => socket.subscribe("bench");
    return response;
  },
};
