// The follower's own page (docs/follower-page.md): /api/accounts every 2 s, the chosen account's
// targets and journal.
"use strict";

const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);
const num = (v, d = 2) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en", {maximumFractionDigits: d}));
let chosen = null;
let oldest = null;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function tr(cells, cls) {
  const row = document.createElement("tr");
  if (cls) row.className = cls;
  row.append(...cells);
  return row;
}

const signed = (v) => (v === null || v === undefined ? "num" : v >= 0 ? "num up" : "num down");

async function accounts() {
  const answer = await fetch("/api/accounts");
  const rows = await answer.json();
  if (chosen === null && rows.length) chosen = rows[0].account;
  document.querySelector("#accounts tbody").replaceChildren(...rows.map((a) => {
    const row = tr([
      cell(a.account), cell(a.channels.join(", ")), cell(a.stopped ? "STOPPED" : a.in_sync ? "yes" : "catching up", a.stopped ? "down" : ""),
      cell(`${num(a.balance)} ${a.currency}`, "num"), cell(num(a.floating), signed(a.floating)),
      cell(a.fills, "num"), cell(a.skips, "num"),
      cell(a.rejects + a.errors, "num"), cell(`${num(a.latency_ms_p50, 1)} / ${num(a.latency_ms_p99, 1)}`, "num"),
      cell(num(a.slippage_points_mean), "num"),
    ], a.account === chosen ? "pick chosen" : "pick");
    row.addEventListener("click", () => { chosen = a.account; oldest = null; refresh(); journal(); });
    return row;
  }));
}

async function detail() {
  if (chosen === null) return;
  const answer = await fetch(`/api/account?name=${encodeURIComponent(chosen)}`);
  if (!answer.ok) return;
  const d = await answer.json();
  document.getElementById("chosen").textContent = `${chosen} (${d.summary.channels.join(", ")})`;
  const m = d.summary;
  const realized = m.realized === null ? "- (this broker keeps no deal history)" : `${num(m.realized)} ${m.currency}`;
  document.getElementById("pl").textContent = `P/L: floating ${num(m.floating)} ${m.currency}, realized since start ${realized}`;
  const keys = new Set([...Object.keys(d.target), ...Object.keys(d.held)]);
  const side = (t) => (t ? `${t.side} ${num(t.volume, 8)}` : "0");
  document.querySelector("#positions tbody").replaceChildren(...[...keys].sort().map((k) => {
    const t = d.target[k];
    const h = d.held[k];
    const s = d.stops[k];
    const held = h ? num(h.volume, 8) : "0";
    const stop = (want, has) => (s ? `${num(s[want], 5)} / ${num(s[has], 5)}` : "-");
    const off = Math.abs((t ? (t.side === "buy" ? 1 : -1) * t.volume : 0) - (h ? h.volume : 0)) > 1e-9;
    return tr([cell(k), cell((t || h).symbol), cell(side(t), "num"), cell(held, off ? "num down" : "num"),
      cell(stop("target_sl", "sl"), "num"), cell(stop("target_tp", "tp"), "num")]);
  }));
  const wanted = d.orders.target || {};
  const links = new Set([...Object.keys(wanted), ...Object.keys(d.orders.held)]);
  const order = (o) => (o ? `${o.type} ${num(o.volume, 8)} @ ${num(o.price, 5)}` : "-");
  document.querySelector("#orders tbody").replaceChildren(...[...links].sort().map((k) => tr([cell(k), cell(order(wanted[k])), cell(order(d.orders.held[k]))])));
  const breakers = Object.entries(d.breakers).map(([k, why]) => `${k}: ${why}`);
  document.getElementById("stopped").textContent = breakers.length ? `stopped: ${breakers.join("; ")}` : "";
  document.querySelector("#skipped tbody").replaceChildren(...d.skipped.map(([why, n]) => tr([cell(n, "num"), cell(why)])));
}

async function journal(older = false) {
  if (chosen === null) return;
  const query = new URLSearchParams({name: chosen, event: document.getElementById("event").value, symbol: document.getElementById("symbol").value});
  if (older && oldest !== null) query.set("before_ms", oldest);
  const answer = await fetch(`/api/journal?${query}`);
  const rows = await answer.json();
  if (rows.length) oldest = rows[rows.length - 1].time_ms;
  const what = (e) => e.reason || e.detail || [e.action, e.side, e.volume, e.price && `@ ${e.price}`, e.latency_ms != null && `${e.latency_ms} ms`].filter(Boolean).join(" ");
  document.querySelector("#journal tbody").replaceChildren(...rows.map((e) => tr([cell(utc(e.time_ms)), cell(e.event), cell(e.symbol || ""), cell(what(e))])));
}

async function refresh() {
  await accounts();
  await detail();
}

document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); oldest = null; journal(); });
document.getElementById("older").addEventListener("click", () => journal(true));
refresh().then(() => journal());
setInterval(refresh, 2000);
