// A channel's figures and curves (docs/statistics.md), from /api/channels/NAME/stats.
"use strict";

const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 16);
const money = (v, c) => (v === null ? "-" : `${v.toLocaleString("en", {maximumFractionDigits: 2})} ${c}`);
const ratio = (v, suffix = "") => (v === null ? "-" : `${v.toFixed(2)}${suffix}`);

function row(name, value, cls) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.textContent = name;
  const td = document.createElement("td");
  td.textContent = value;
  td.className = `num ${cls || ""}`;
  tr.append(th, td);
  return tr;
}

function draw(s) {
  const c = s.currency;
  const sign = (v) => (v >= 0 ? "up" : "down");
  document.querySelector("#figures tbody").replaceChildren(
    row("period", `${utc(s.start_ms)} to ${utc(s.end_ms)} UTC`),
    row("growth", `${s.growth_pct >= 0 ? "+" : ""}${s.growth_pct.toFixed(2)}%`, sign(s.growth_pct)),
    row("profit", money(s.profit, c), sign(s.profit)),
    row("deposits − withdrawals", money(s.deposits, c)),
    row("max drawdown, balance", `${money(s.balance_drawdown, c)} (${s.balance_drawdown_pct.toFixed(2)}%)`),
    row("max drawdown, equity", `${money(s.equity_drawdown, c)} (${s.equity_drawdown_pct.toFixed(2)}%)`),
    row("profit factor", ratio(s.profit_factor)),
    row("expected payoff", money(s.expected_payoff, c)),
    row("recovery factor", ratio(s.recovery_factor)),
    row("Sharpe ratio", ratio(s.sharpe)),
    row("trades", `${s.trades} (${s.trades_per_week.toFixed(1)} a week; from ${s.trades_from || "states"})`),
    row("commission / swap", `${money(s.commission || 0, c)} / ${money(s.swap || 0, c)}`),
    row("won", ratio(s.win_pct, "%")),
    row("average win / loss", `${money(s.average_win, c)} / ${money(s.average_loss, c)}`),
    row("best / worst trade", `${money(s.best_trade, c)} / ${money(s.worst_trade, c)}`),
    row("longest losing series", `${s.longest_losing_series}`),
    row("deposit load", ratio(s.deposit_load_pct, "%")),
  );
  const months = document.querySelector("#monthly tbody");
  months.replaceChildren(...s.monthly.map((m) => row(m.month, `${m.pct >= 0 ? "+" : ""}${m.pct.toFixed(2)}%`, sign(m.pct))));
  const x = s.curve.map((p) => new Date(p[0]));
  // The equity under its running peak is the drawdown: shaded between the two.
  let peak = -Infinity;
  const peaks = s.curve.map((p) => (peak = Math.max(peak, p[2])));
  Plotly.react("curve", [
    {x, y: peaks, mode: "lines", line: {width: 0}, showlegend: false, hoverinfo: "skip"},
    {x, y: s.curve.map((p) => p[2]), mode: "lines", name: "equity", fill: "tonexty", fillcolor: "#fca5a566", line: {color: "#2563eb"}},
    {x, y: s.curve.map((p) => p[1]), mode: "lines", name: "balance", line: {color: "#111827", shape: "hv"}},
  ], {margin: {t: 10, b: 40, l: 70, r: 10}, yaxis: {title: c}, legend: {orientation: "h"}}, {displayModeBar: false});
}

async function load() {
  const channel = document.getElementById("channel").textContent;
  const answer = await fetch(`/api/channels/${encodeURIComponent(channel)}/stats`);
  if (!answer.ok) {
    document.getElementById("error").textContent = await answer.text();
    return;
  }
  draw(await answer.json());
}

load();
