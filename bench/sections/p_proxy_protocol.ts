/**
 * (p) The PROXY protocol behind HAProxy in TCP mode, one isolate: serve() reading
 * `send-proxy-v2` headers (`--proxy-protocol`) against serve() behind the same HAProxy
 * sending none, over keep-alive connections and over a new connection per request (where
 * the header is read each time). Bun, which refuses the option, is measured on the way it
 * could have been served: its own server behind a front socket of ours relaying every byte
 * (bench/servers/bun_relay.ts), against its own server alone. Then the server's part alone
 * (Deno, Node): wrk straight to it, a new connection per request with the header in the
 * request's own write (bench/proxy_header.lua), against serve() given the same requests with
 * no header. Left out where HAProxy is not installed.
 *
 * @module
 */
import { compareIsolates, LOAD, pairedRatio, type Rates } from "../measure.ts";
import { type Context, fmt, type Row } from "../section.ts";
import { command, HAPROXY, multiserve, raw, rawBaseline, root, RUNTIMES, type Target } from "../servers.ts";

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
      record(rows, results, runtime, load.name, r, [off.label, on.label], true);
    }
    if (runtime === "bun") continue;
    // The server's part alone: wrk straight to it, a new connection per request whose header
    // comes in the request's own write (HAProxy sends it in a write of its own, and shares
    // the CPU with the server).
    const wrkArgs = ["-s", `${root}bench/proxy_header.lua`];
    const direct = await compareIsolates(
      [multiserve(runtime, "hello", flags, "serve()"), {
        ...multiserve(runtime, "hello", [...flags, "--proxy-protocol"], "serve() --proxy-protocol"),
        scriptArgs: ["v2"],
      }],
      LOAD.hello,
      3,
      seconds,
      wrkArgs,
    );
    const load = "a connection per request, no HAProxy, the header in the request's write";
    record(rows, results, runtime, load, direct, ["serve()", "serve() --proxy-protocol"], false);
  }
  return rows;
}

/** The row of one comparison: `on` against `off`, through HAProxy or straight from wrk. */
function record(
  rows: Row[],
  results: Context["results"],
  runtime: string,
  load: string,
  r: Map<string, Rates>,
  [offLabel, onLabel]: [string, string],
  behindHaproxy: boolean,
): void {
  results[`p.${runtime}.${load}`] = Object.fromEntries(r);
  const { rps, rounds, errors } = r.get(onLabel)!;
  rows.push({
    section: `(p) PROXY protocol${behindHaproxy ? " behind HAProxy" : ""}, hello, 1 isolate, ${load}`,
    runtime,
    what: runtime === "bun"
      ? "a front socket relaying to Bun.serve (not offered: Bun refuses --proxy-protocol)"
      : behindHaproxy
      ? "HAProxy send-proxy-v2 → serve() --proxy-protocol"
      : "wrk with a PROXY v2 header → serve() --proxy-protocol",
    value: `${fmt(rps)} req/s${errors ? `, ${errors} errors` : ""}`,
    ratio: `${pairedRatio(rounds, r.get(offLabel)!.rounds).toFixed(2)}× ${
      behindHaproxy ? `HAProxy → ${offLabel}` : offLabel
    }, no header`,
    target: "≥ 0.95",
  });
}
