/**
 * The admin endpoint's status page: plain HTML, CSS and script, no build step. It polls
 * `/status` once a second and redraws the worker table (each process's threads under it, a
 * process that keeps threads showing their sums), the totals in one row of cards on a
 * laptop's screen and three to a row on a phone's, a sparkline of each worker's requests
 * per second over the width of its cell, and the recent lifecycle lines.
 *
 * @module
 */

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>multiserve status</title>
<style>
  :root { color-scheme: light dark; --muted: #8a8f98; --ok: #2e9d5b; --warn: #c98a12; --bad: #d0453a; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 1rem; max-width: 72rem; }
  h1 { font-size: 1.2rem; margin: 0 0 .25rem; }
  .sub { color: var(--muted); margin-bottom: 1rem; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(6.5rem, 1fr)); gap: .5rem; margin-bottom: 1rem; }
  .card { border: 1px solid #8884; border-radius: .5rem; padding: .5rem .75rem; }
  .card b { display: block; font-size: 1.2rem; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .card span { color: var(--muted); font-size: .8rem; }
  .scroll { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: .3rem .5rem; border-bottom: 1px solid #8883; white-space: nowrap; }
  th:nth-child(-n+4), td:nth-child(-n+4) { text-align: left; }
  th { color: var(--muted); font-weight: 500; font-size: .8rem; }
  td.thread { padding-left: 1.5rem; } td.thread::before { content: "└ "; color: var(--muted); }
  .unit { color: var(--muted); font-size: .8rem; }
  .listening { color: var(--ok); } .starting { color: var(--warn); } .stopping { color: var(--bad); }
  .ready { color: var(--ok); } .notready { color: var(--bad); }
  svg { vertical-align: middle; }
  ol { padding-left: 1.2rem; font: 12px/1.5 ui-monospace, monospace; }
  li.warning { color: var(--warn); } li.error, li.critical { color: var(--bad); }
</style>
</head>
<body>
<h1>multiserve <span id="state"></span></h1>
<div class="sub" id="sub">loading…</div>
<div class="cards" id="cards"></div>
<div class="scroll"><table>
<thead><tr><th>worker</th><th>kind</th><th>pid</th><th>state</th><th>age</th><th>requests</th><th>req/s</th>
<th>last minute</th><th>in flight</th><th title="a process's resident set; a thread's JavaScript heap">memory</th><th>restarts</th><th>heartbeat</th></tr></thead>
<tbody id="rows"></tbody>
</table></div>
<h2 style="font-size:1rem">Recent events</h2>
<ol id="events"></ol>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
const mib = (b) => b ? (b / 1048576).toFixed(1) + " MiB" : "–";
const dur = (s) => s < 60 ? s.toFixed(0) + " s" : s < 3600 ? (s / 60).toFixed(0) + " min" : (s / 3600).toFixed(1) + " h";
const num = (n) => n.toLocaleString("en");
const rate = (r) => r >= 100 ? num(Math.round(r)) : r.toFixed(1);
// The seconds there are, over the whole width: a worker a few seconds old has a line too.
function spark(history) {
  const w = 120, h = 22, max = Math.max(1, ...history), last = Math.max(1, history.length - 1);
  const pts = (history.length > 1 ? history : [0, ...history])
    .map((v, i, all) => (1 + (i / Math.max(1, all.length - 1)) * (w - 2)).toFixed(1) + "," + (h - 1 - (v / max) * (h - 2)).toFixed(1));
  return '<svg width="' + w + '" height="' + h + '" aria-label="requests per second over the last ' + (last + 1) + ' s"><polyline fill="none" stroke="currentColor" stroke-width="1.4" points="' + pts.join(" ") + '"/></svg>';
}
// A process keeps threads where it has rows "N.M": they serve, it does not. Its row shows
// their sums, and its threads come right under it.
function nested(rows) {
  const id = (w) => w.worker.split(".").map(Number);
  const sorted = rows.slice().sort((a, b) => { const x = id(a), y = id(b); return (x[0] - y[0]) || ((x[1] ?? -1) - (y[1] ?? -1)); });
  return sorted.map((w) => {
    const threads = w.kind === "process" ? sorted.filter((t) => t.kind === "thread" && t.worker.startsWith(w.worker + ".")) : [];
    if (threads.length === 0) return w;
    const sum = (key) => threads.reduce((total, t) => total + t[key], 0);
    const width = Math.max(...threads.map((t) => t.history.length));
    const history = Array.from({ length: width }, (_, i) => threads.reduce((total, t) => total + (t.history[t.history.length - width + i] ?? 0), 0));
    return { ...w, requests: sum("requests"), rate: sum("rate"), inFlight: sum("inFlight"), history, threads: threads.length };
  });
}
const memory = (w) => w.memory ? mib(w.memory) + ' <span class="unit">' + (w.kind === "thread" ? "heap" : "RSS") + "</span>" : "–";
function card(label, value) { return '<div class="card"><b>' + value + '</b><span>' + label + '</span></div>'; }
async function refresh() {
  let s;
  try { s = await (await fetch("status", { cache: "no-store" })).json(); }
  catch { $("sub").textContent = "the server does not answer"; $("state").className = "notready"; $("state").textContent = "unreachable"; return; }
  $("state").className = s.ready ? "ready" : "notready";
  $("state").textContent = s.ready ? "ready" : "not ready";
  $("sub").textContent = s.runtime + " " + s.version + " · primary pid " + s.pid + " · up " + dur(s.uptime) + (s.url ? " · " + s.url : "");
  const t = s.totals, r = t.restarts;
  $("cards").innerHTML = card("workers alive / configured", s.workers.alive + " / " + s.workers.configured)
    + card("requests", num(t.requests)) + card("requests/s", rate(t.rate)) + card("in flight", t.inFlight)
    + card("WebSockets", t.webSockets)
    + card("topics: subscriptions / delivered" + (t.pubsub.dropped > 0 ? ", " + t.pubsub.dropped + " too slow" : "")
      + (t.pubsub.connected === undefined ? "" : t.pubsub.connected ? ", Redis up" : ", Redis down"),
      t.pubsub.subscriptions + " / " + num(t.pubsub.delivered))
    + card("restarts" + (Object.values(r).some((n) => n > 0) ? ": " + Object.entries(r).filter(([, n]) => n > 0).map(([k, n]) => n + " " + k).join(", ") : ""),
      Object.values(r).reduce((a, b) => a + b, 0))
    + card("reloads", t.reloads) + card("boot failures", t.bootFailures)
    + card("primary memory, MiB", t.memory ? (t.memory / 1048576).toFixed(1) : "–");
  $("rows").innerHTML = nested(s.rows).map((w) => '<tr data-worker="' + esc(w.worker) + '" data-kind="' + w.kind + '"><td' + (w.kind === "thread" && w.worker.includes(".") ? ' class="thread"' : "") + ">" + esc(w.worker) + "</td><td>" + w.kind + (w.threads ? " (" + w.threads + " threads)" : "")
    + '</td><td class="pid">' + (w.pid ?? "–") + '</td><td class="' + w.state + '">' + w.state + "</td><td>" + dur(w.age)
    + '</td><td class="requests">' + num(w.requests) + "</td><td>" + rate(w.rate) + '</td><td class="spark">' + spark(w.history)
    + "</td><td>" + w.inFlight + '</td><td class="memory">' + memory(w) + "</td><td>" + w.restarts + "</td><td>" + w.heartbeatAge.toFixed(1) + " s</td></tr>").join("");
  $("events").innerHTML = s.events.slice().reverse().map((e) => '<li class="' + e.level + '">' + new Date(e.time).toLocaleTimeString()
    + " " + esc(e.message) + "</li>").join("");
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
