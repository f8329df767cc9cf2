/**
 * Topic fan-out load for the bench: SUBSCRIBERS sockets on `url`/ws, and one publisher on
 * `url`/ws?role=pub sending RATE messages a second for SECONDS, each carrying the time it was
 * sent. Prints JSON: messages delivered per second, the share delivered, and p50/p99 of the
 * time from publish to delivery in ms (over every delivery). Args: url, subscribers, rate,
 * seconds, and optionally a second server's url (another host): every other subscriber then
 * connects there. Runs on Node.
 */
import process from "node:process";

const [url, subscribers, rate, seconds, otherUrl] = [
  process.argv[2],
  Number(process.argv[3]),
  Number(process.argv[4]),
  Number(process.argv[5]),
  process.argv[6] as string | undefined,
];
const now = () => performance.timeOrigin + performance.now();
const open = (path: string, at = url) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`${at.replace("http", "ws")}${path}`);
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error(`cannot connect to ${at}${path}`));
  });

let delivered = 0;
const latencies: number[] = [];
const sockets: WebSocket[] = [];
for (let i = 0; i < subscribers; i += 100) {
  sockets.push(
    ...await Promise.all(
      Array.from(
        { length: Math.min(100, subscribers - i) },
        (_, j) => open("ws", otherUrl !== undefined && j % 2 === 1 ? otherUrl : url),
      ),
    ),
  );
}
for (const socket of sockets) {
  socket.onmessage = (event) => {
    delivered++;
    latencies.push(now() - Number(event.data));
  };
}
await new Promise((resolve) => setTimeout(resolve, 1_000)); // every subscription reported
const publisher = await open("ws?role=pub");
const total = rate * seconds;
const began = now();
for (let sent = 0; sent < total;) {
  // Catch up to the schedule in 1 ms steps, so the rate holds without a timer per message.
  const due = Math.min(total, Math.floor(((now() - began) / 1000) * rate) + 1);
  for (; sent < due; sent++) publisher.send(String(now()));
  await new Promise((resolve) => setTimeout(resolve, 1));
}
const expected = total * subscribers;
const deadline = now() + 10_000;
while (delivered < expected && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
const elapsed = (now() - began) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
console.log(JSON.stringify({
  deliveredPerSecond: Math.round(delivered / elapsed),
  share: delivered / expected,
  p50: at(0.5),
  p99: at(0.99),
}));
for (const socket of [...sockets, publisher]) socket.close();
process.exit(0);
