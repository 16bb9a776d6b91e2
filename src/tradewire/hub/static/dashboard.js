// The tradewire dashboard: one server-sent event a second carries the whole picture.
"use strict";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
let lastTicks = null;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function link(text, href) {
  const td = document.createElement("td");
  const a = document.createElement("a");
  a.textContent = text;
  a.href = href;
  a.title = "its statistics";
  td.append(a);
  return td;
}

function fill(id, rows, make) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.append(...make(row));
    return tr;
  }));
}

function button(label, onClick) {
  const td = document.createElement("td");
  const b = document.createElement("button");
  b.className = "act";
  b.textContent = label;
  b.addEventListener("click", onClick);
  td.append(b);
  return td;
}

async function act(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
    body: JSON.stringify(body),
  });
  if (!response.ok) alert(`${path}: ${response.status} ${await response.text()}`);
}

// Show or hide an element; true when it has just appeared (a chart drawn while hidden took
// Plotly's default width and must be fitted to its card).
function show(id, visible) {
  const element = document.getElementById(id);
  const appeared = visible && element.style.display === "none";
  element.style.display = visible ? "" : "none";
  return appeared;
}

const utc = (ms) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

function render(s) {
  const c = s.counters;
  document.getElementById("summary").textContent =
    `connections ${c.connections} · states ${c.states} · ticks stored ${c.tick_rows_stored}`;
  fill("channels", s.channels, (ch) => [
    link(ch.name, `/channels/${encodeURIComponent(ch.name)}`), cell(ch.publisher ? `${ch.publisher} (${ch.account})` : "—"),
    cell(ch.seq, "num seq"), cell(ch.age_s === null ? "—" : `${ch.age_s} s ago`, "num"),
    cell(ch.subscribers, "num"),
  ]);
  fill("followers", s.followers, (f) => [
    cell(`${f.user} (${f.address})`), cell(f.ch),
    f.alert ? cell(f.alert, "stale alert") : cell(f.in_sync ? "in sync" : "catching up", f.in_sync ? "live" : "stale"),
    cell(`${f.fills} / ${f.rejects} / ${f.skips}`, "num"),
    cell(`${f.latency_p50_ms ?? "—"} / ${f.latency_p99_ms ?? "—"} ms`, "num"),
    cell(f.slippage_mean_pts === null ? "—" : `${f.slippage_mean_pts} pts`, "num"),
  ]);
  const edges = s.latency_edges_ms.map((e) => `≤${e} ms`).concat(["more"]);
  // no follower has reported: no empty axes, a line saying so
  const latencyShown = show("latency", s.followers.length > 0);
  Plotly.react("latency", s.followers.map((f) => ({type: "bar", name: f.user, x: edges, y: f.latency_hist})),
    {barmode: "stack", margin: {t: 10, b: 50, l: 40, r: 10}, yaxis: {title: "fills"}, showlegend: true},
    {displayModeBar: false});
  if (latencyShown) Plotly.Plots.resize("latency");
  fill("sessions", s.sessions, (x) => [
    cell(x.user), cell(x.role), cell(x.address), cell(utc(x.since_ms)), cell(x.session.slice(0, 8)),
    cell(x.agent),
    button("kick", () => act("/api/session/kick", {session: x.session})),
  ]);
  document.getElementById("counters").textContent =
    `logins ok ${c.logins_ok} · failed ${c.logins_failed} · refused while banned ${c.logins_banned}` +
    ` · bans made ${c.bans} · slow consumers ${c.slow_consumers}`;
  fill("bans", s.bans, (b) => [
    cell(b.address), cell(utc(b.until_ms)), cell(b.offenses, "num"),
    button("lift", () => act("/api/ban/lift", {address: b.address})),
  ]);
  const f = s.fanout;
  const labels = f.buckets.map((b) => `≤${b * 1000} ms`).concat(["more"]);
  Plotly.react("fanout", [{type: "bar", x: labels, y: f.counts, marker: {color: "#3572a5"}}],
    {margin: {t: 10, b: 60, l: 40, r: 10}, yaxis: {title: "states"}}, {displayModeBar: false});
  const symbols = Object.keys(s.ticks.prices).sort();
  const select = document.getElementById("symbol");
  if (select.options.length !== symbols.length) {
    const chosen = select.value;
    select.replaceChildren(...symbols.map((x) => new Option(x, x)));
    if (symbols.includes(chosen)) select.value = chosen;
  }
  const points = s.ticks.prices[select.value] || [];
  // no ticks yet: no bare axes, no empty symbol menu
  const priceShown = show("price", symbols.length > 0);
  show("price-pick", symbols.length > 0);
  Plotly.react("price", [{x: points.map((p) => new Date(p[0])), y: points.map((p) => p[1]), mode: "lines"}],
    {margin: {t: 10, b: 30, l: 60, r: 10}}, {displayModeBar: false});
  if (priceShown) Plotly.Plots.resize("price");
  // The rate from the last counts seen here, kept apart from the rest of the page: a panel
  // that fails to draw must not freeze it at 0.0.
  const last = lastTicks;
  fill("ticks", Object.entries(s.ticks.stored).sort(), ([sym, n]) => {
    const before = last && sym in last.stored ? last.stored[sym] : n;
    const seconds = last ? Math.max((s.ts - last.ts) / 1000, 0.001) : 1;
    return [cell(sym), cell(n, "num"), cell(((n - before) / seconds).toFixed(1), "num")];
  });
  lastTicks = {ts: s.ts, stored: s.ticks.stored};
  fill("listeners", s.ticks.listeners, (l) => [
    cell(l.name), cell(l.received, "num"), cell(l.malformed, "num"), cell(l.kernel_drops, "num"),
  ]);
  fill("sentiment", s.sentiment, (r) => {
    const bars = document.createElement("td");
    const long = document.createElement("span");
    long.className = "bar"; long.style.width = `${r.long_pct || 0}px`;
    const short = document.createElement("span");
    short.className = "bar short"; short.style.width = `${r.short_pct || 0}px`;
    bars.append(long, short, ` ${(r.long_pct || 0).toFixed(0)}% / ${(r.short_pct || 0).toFixed(0)}%`);
    return [cell(r.symbol), bars, cell(r.contributors, "num")];
  });
  fill("topics", s.topics, (t) => [cell(t.topic), cell(t.seq, "num"), cell(JSON.stringify(t.value))]);
  fill("jobs", s.jobs, (j) => [
    cell(j.job), cell(j.owner), cell(j.fn), cell(`${j.done} / ${j.failed} / ${j.n}`, "num"), cell(j.status),
  ]);
}

// Times the hub writes into audit details as Unix ms (until_ms=1796607010395), for people.
function readable(detail) {
  // 0 is "none" (a lifted ban's until_ms=0)
  return detail.replace(/\b(\w+)_ms=(\d{11,}|0)\b/g, (_, key, ms) => `${key}=${ms === "0" ? "-" : utc(Number(ms))}`);
}

let auditOlder = null;

async function loadAudit(older) {
  const query = new URLSearchParams();
  for (const [key, id] of [["event", "audit-event"], ["user", "audit-user"], ["address", "audit-address"]]) {
    const value = document.getElementById(id).value.trim();
    if (value) query.set(key, value);
  }
  if (older) query.set("before", auditOlder);
  const page = await (await fetch(`/api/audit?${query}`)).json();
  const make = (r) => [cell(utc(r.ts_ms)), cell(r.event), cell(r.user || ""), cell(r.address || ""), cell(readable(r.detail || ""))];
  if (older) {
    const body = document.querySelector("#audit tbody");
    for (const row of page.rows) {
      const tr = document.createElement("tr");
      tr.append(...make(row));
      body.append(tr);
    }
  } else {
    fill("audit", page.rows, make);
  }
  auditOlder = page.older;
  document.getElementById("audit-older").hidden = auditOlder === null;
}

function connect() {
  const events = new EventSource("/events");
  const status = document.getElementById("status");
  events.onmessage = (e) => {
    status.textContent = "live";
    status.className = "live";
    render(JSON.parse(e.data));
  };
  events.onerror = () => {
    status.textContent = "reconnecting…";
    status.className = "stale";
  };
}

document.getElementById("audit-load").addEventListener("click", () => loadAudit(false));
document.getElementById("audit-older").addEventListener("click", () => loadAudit(true));
document.getElementById("logout").addEventListener("submit", async (e) => {
  e.preventDefault();
  await fetch("/logout", {method: "POST", headers: {"X-CSRF-Token": csrf}});
  location.href = "/login";
});
connect();
loadAudit();
