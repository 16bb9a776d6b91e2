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

// ---- the what-if simulator (admins: the page carries their CSRF token) ----------------------

const csrf = document.querySelector('meta[name="csrf-token"]').content;

function growth(curve, base) {
  return curve.map((p) => (100 * (p[2] / base - 1)));
}

function drawSimulation(r) {
  const s = r.stats;
  const c = s.currency;
  // each source's share of the period (a quote holds until the next moment); one moment: of the quotes
  const shares = r.price_time_pct && Object.keys(r.price_time_pct).length ? r.price_time_pct : null;
  const quotes = Object.values(r.prices).reduce((a, b) => a + b, 0) || 1;
  const sources = shares
    ? Object.entries(shares).filter(([, v]) => v).map(([k, v]) => `${k} ${v.toFixed(0)}%`).join(", ")
    : Object.entries(r.prices).filter(([, n]) => n).map(([k, n]) => `${k} ${(100 * n / quotes).toFixed(0)}%`).join(", ");
  document.querySelector("#sim-figures tbody").replaceChildren(
    row("ends with", `balance ${money(r.balance, c)}, equity ${money(r.equity, c)}`),
    row("growth", `${s.growth_pct >= 0 ? "+" : ""}${s.growth_pct.toFixed(2)}%`, s.growth_pct >= 0 ? "up" : "down"),
    row("max drawdown, equity", `${money(s.equity_drawdown, c)} (${s.equity_drawdown_pct.toFixed(2)}%)`),
    row("trades", `${s.trades}, won ${ratio(s.win_pct, "%")}`),
    row("profit factor", ratio(s.profit_factor)),
    row("deals", `${r.fills_total}`),
    row("prices from (of the period)", sources || "-"),
  );
  const skips = r.skips.slice(0, 50).map((k) => row(`${utc(k.ts)} ${k.symbol}`, k.reason));
  document.querySelector("#sim-skips tbody").replaceChildren(...(skips.length ? skips : [row("none", "")]));
  const provider = r.provider_curve;
  const traces = [
    {x: s.curve.map((p) => new Date(p[0])), y: growth(s.curve, r.deposit), mode: "lines", name: "your account, % of the deposit", line: {color: "#2563eb"}},
  ];
  if (provider.length && provider[0][2] > 0) {
    traces.push({x: provider.map((p) => new Date(p[0])), y: growth(provider, provider[0][2]), mode: "lines", name: "the provider, % of its first equity", line: {color: "#6b7280"}});
  }
  document.getElementById("sim-result").hidden = false;
  Plotly.react("sim-curve", traces, {margin: {t: 10, b: 40, l: 60, r: 10}, yaxis: {title: "%"}, legend: {orientation: "h"}}, {displayModeBar: false});
}

async function simulate(event) {
  event.preventDefault();
  const channel = document.getElementById("channel").textContent;
  const status = document.getElementById("sim-status");
  const day = (id) => { const v = document.getElementById(id).value; return v ? Date.parse(v + "T00:00:00Z") : null; };
  const body = {
    deposit: Number(document.getElementById("deposit").value),
    mode: document.getElementById("mode").value,
    rules: document.getElementById("rules").value,
    since_ms: day("from"),
    until_ms: day("until"),
  };
  status.textContent = "replaying… (the hub runs one simulation at a time)";
  document.getElementById("run").disabled = true;
  try {
    const answer = await fetch(`/api/channels/${encodeURIComponent(channel)}/simulate`, {
      method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf}, body: JSON.stringify(body),
    });
    if (!answer.ok) {
      status.textContent = await answer.text();
      return;
    }
    status.textContent = "";
    drawSimulation(await answer.json());
  } finally {
    document.getElementById("run").disabled = false;
  }
}

if (csrf) {
  document.getElementById("simulator").hidden = false;
  document.getElementById("simulate-form").addEventListener("submit", simulate);
}

load();
