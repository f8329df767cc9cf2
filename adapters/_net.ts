/**
 * Port reservation over `node:net`, for the Node and Bun adapters.
 *
 * @module
 */
import { createServer } from "node:net";
import { listenError } from "./_shared.ts";

/**
 * Bind `hostname:port` exclusively (no SO_REUSEPORT), note the port, release it. Fails if
 * any server holds the port, even one that would share it; port 0 yields a free port.
 */
export function reservePort(hostname: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (error) => reject(listenError(error, hostname, port)));
    server.listen({ host: hostname, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : port;
      server.close(() => resolve(bound));
    });
  });
}
