/**
 * (p) The PROXY protocol behind HAProxy in TCP mode, one isolate: serve() reading
 * `send-proxy-v2` headers (`--proxy-protocol`) against serve() behind the same HAProxy
 * sending none, over keep-alive connections and over a new connection per request (where
 * the header is read each time). Bun, which refuses the option, is measured on the way it
 * could have been served: its own server behind a front socket of ours relaying every byte
 * (bench/servers/bun_relay.ts), against its own server alone. Left out where HAProxy is not
 * installed.
 *
 * @module
 */
import { compareIsolates, LOAD, pairedRatio } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { command, HAPROXY, multiserve, raw, rawBaseline, RUNTIMES, type Target } from "../servers.ts";

export const letter = "p";
export const title =
  "PROXY protocol behind HAProxy (TCP mode): --proxy-protocol with send-proxy-v2 against neither";

const LOADS = [
  { name: "keep-alive", wrkArgs: [] as string[] },
  { name: "a connection per request", wrkArgs: ["-H", "Connection: close"] },
];

export async function run({ seconds, results }: Context): Promise<Row[]> {
  const rows: Row[] = [];
  if (HAPROXY === "") {
    console.error("  no haproxy on this machine: left out");
    return rows;
  }
  for (const runtime of RUNTIMES) {
    // Deno reads the header in its own accept loop, which serves with WebSockets off.
    const flags = runtime === "deno" ? ["--max-web-sockets", "0"] : [];
    const [off, on]: Target[] = runtime === "bun"
      ? [
        { ...raw(runtime, "hello", rawBaseline(runtime)), behindHaproxy: "plain" },
        {
          label: "Bun.serve behind a relaying front socket",
          runtime,
          cmd: (port) => command(runtime, "bench/servers/bun_relay.ts", [String(port)]),
          behindHaproxy: "send-proxy-v2",
        },
      ]
      : [
        { ...multiserve(runtime, "hello", flags, "serve()"), behindHaproxy: "plain" },
        {
          ...multiserve(runtime, "hello", [...flags, "--proxy-protocol"], "serve() --proxy-protocol"),
          behindHaproxy: "send-proxy-v2",
        },
      ];
    for (const load of LOADS) {
      const r = await compareIsolates([off, on], LOAD.hello, 3, seconds, load.wrkArgs);
      results[`p.${runtime}.${load.name}`] = Object.fromEntries(r);
      const { rps, rounds, errors } = r.get(on.label)!;
      rows.push({
        section: `(p) PROXY protocol behind HAProxy, hello, 1 isolate, ${load.name}`,
        runtime,
        what: runtime === "bun"
          ? "a front socket relaying to Bun.serve (not offered: Bun refuses --proxy-protocol)"
          : "HAProxy send-proxy-v2 → serve() --proxy-protocol",
        value: `${fmt(rps)} req/s${errors ? `, ${errors} errors` : ""}`,
        ratio: `${
          pairedRatio(rounds, r.get(off.label)!.rounds).toFixed(2)
        }× HAProxy → ${off.label}, no header`,
        target: "≥ 0.95",
      });
    }
  }
  return rows;
}
