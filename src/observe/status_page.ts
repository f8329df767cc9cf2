/**
 * The admin endpoint's status page: plain HTML, CSS and script, no build step. It polls
 * `/status` once a second and redraws the worker table, the totals, a sparkline of each
 * worker's requests per second, and the recent lifecycle lines; it fits a phone's screen.
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
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .5rem; margin-bottom: 1rem; }
  .card { border: 1px solid #8884; border-radius: .5rem; padding: .5rem .75rem; }
  .card b { display: block; font-size: 1.3rem; font-variant-numeric: tabular-nums; }
  .card span { color: var(--muted); font-size: .8rem; }
  .scroll { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: .3rem .5rem; border-bottom: 1px solid #8883; white-space: nowrap; }
  th:nth-child(-n+4), td:nth-child(-n+4) { text-align: left; }
  th { color: var(--muted); font-weight: 500; font-size: .8rem; }
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
<th>last minute</th><th>in flight</th><th>memory</th><th>restarts</th><th>heartbeat</th></tr></thead>
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
function spark(history) {
  const w = 90, h = 18, max = Math.max(1, ...history);
  const pts = history.map((v, i) => (w - (history.length - 1 - i) * (w / 59)).toFixed(1) + "," + (h - 1 - (v / max) * (h - 2)).toFixed(1));
  return '<svg width="' + w + '" height="' + h + '" aria-label="requests per second"><polyline fill="none" stroke="currentColor" stroke-width="1.2" points="' + pts.join(" ") + '"/></svg>';
}
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
    + card("restarts" + (Object.values(r).some((n) => n > 0) ? ": " + Object.entries(r).filter(([, n]) => n > 0).map(([k, n]) => n + " " + k).join(", ") : ""),
      Object.values(r).reduce((a, b) => a + b, 0))
    + card("reloads", t.reloads) + card("boot failures", t.bootFailures) + card("primary memory", mib(t.memory));
  $("rows").innerHTML = s.rows.map((w) => '<tr data-worker="' + esc(w.worker) + '" data-kind="' + w.kind + '"><td>' + esc(w.worker) + "</td><td>" + w.kind
    + '</td><td class="pid">' + (w.pid ?? "–") + '</td><td class="' + w.state + '">' + w.state + "</td><td>" + dur(w.age)
    + '</td><td class="requests">' + num(w.requests) + "</td><td>" + rate(w.rate) + "</td><td>" + spark(w.history)
    + "</td><td>" + w.inFlight + "</td><td>" + mib(w.memory) + "</td><td>" + w.restarts + "</td><td>" + w.heartbeatAge.toFixed(1) + " s</td></tr>").join("");
  $("events").innerHTML = s.events.slice().reverse().map((e) => '<li class="' + e.level + '">' + new Date(e.time).toLocaleTimeString()
    + " " + esc(e.message) + "</li>").join("");
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
