/**
 * WebSocket load for the bench (wrk has none): CLIENTS sockets each send a 64-byte text
 * message and wait for its echo, over and over, for SECONDS. Prints round trips per second.
 * Args: url, clients, seconds. Runs on Node.
 */
import process from "node:process";

const [url, clients, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const message = "x".repeat(64);
let trips = 0;
let counting = false;
const sockets = await Promise.all(
  Array.from({ length: clients }, () =>
    new Promise<WebSocket>((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.onopen = () => resolve(socket);
      socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
    })),
);
for (const socket of sockets) {
  socket.onmessage = () => {
    if (counting) trips++;
    socket.send(message);
  };
  socket.send(message);
}
await new Promise((resolve) => setTimeout(resolve, 500)); // warm up
counting = true;
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
counting = false;
console.log(String(Math.round(trips / seconds)));
for (const socket of sockets) socket.close();
process.exit(0);
