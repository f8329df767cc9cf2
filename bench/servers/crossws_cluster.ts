/**
 * The peer of topic fan-out across processes: crossws on node:http in 2 `node:cluster` workers,
 * linked by crossws's own cluster sync driver (the primary relays every publish to every
 * worker), with the protocol of pubsub_app.ts (`/ws` subscribes to "bench"; `/ws?role=pub`
 * publishes each message it sends). Arg: port. Runs on Node.
 */
import cluster from "node:cluster";
import { createServer } from "node:http";
import process from "node:process";
import crossws from "crossws/adapters/node";
import { cluster as clusterSync, setupPrimaryCluster } from "crossws/sync";

const port = Number(process.argv[2]);
const WORKERS = 2;

if (cluster.isPrimary) {
  await setupPrimaryCluster();
  let listening = 0;
  cluster.on("listening", () => {
    if (++listening === WORKERS) console.log(`listening on ${port}`);
  });
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  const ws = crossws({
    hooks: {
      open(peer) {
        if (!peer.request.url.includes("role=pub")) peer.subscribe("bench");
      },
      message(peer, message) {
        peer.publish("bench", message.text());
      },
    },
    sync: clusterSync({ channel: "bench" }),
  });
  const server = createServer((_request, response) => {
    response.statusCode = 426;
    response.end("WebSocket only");
  });
  server.on("upgrade", (request, socket, head) => ws.handleUpgrade(request, socket, head));
  server.listen(port, "127.0.0.1");
}
