"use strict";
// The kstreams console: reads the operations endpoints of the instance
// that serves it and redraws every second.
const $ = (id) => document.getElementById(id);
const svgNS = "http://www.w3.org/2000/svg";

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()));
  return r.json();
}

function el(name, attrs, text) {
  const e = document.createElementNS(svgNS, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// drawTopology lays out each sub-topology as a band: nodes in columns by
// their depth from the sources, edges as arrows.
function drawTopology(t) {
  $("app-id").textContent = t.application_id;
  const svg = $("graph");
  svg.innerHTML = "";
  const defs = el("defs", {});
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
  marker.appendChild(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#779" }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  const W = 290, H = 28, GX = 40, GY = 14;
  let y0 = 10, width = 0;
  const stores = [];
  for (const st of t.subtopologies) {
    const depth = {}, pos = {};
    for (const n of st.nodes) {
      depth[n.name] = Math.max(0, ...(n.parents || []).map((p) => (depth[p] ?? -1) + 1));
    }
    const rows = {};
    for (const n of st.nodes) {
      const d = depth[n.name];
      rows[d] = (rows[d] || 0) + 1;
      pos[n.name] = { x: 10 + d * (W + GX), y: y0 + 24 + (rows[d] - 1) * (H + GY) };
    }
    const maxRows = Math.max(...Object.values(rows));
    const cols = Math.max(...Object.values(depth)) + 1;
    const h = 34 + maxRows * (H + GY);
    svg.appendChild(el("rect", { class: "cluster", x: 4, y: y0, width: cols * (W + GX), height: h }));
    svg.appendChild(el("text", { x: 10, y: y0 + 14 }, "Sub-topology " + st.id));
    for (const n of st.nodes) {
      for (const c of n.children || []) {
        const a = pos[n.name], b = pos[c];
        if (b) svg.appendChild(el("line", { x1: a.x + W, y1: a.y + H / 2, x2: b.x, y2: b.y + H / 2 }));
      }
    }
    for (const n of st.nodes) {
      const p = pos[n.name];
      const g = el("g", { class: "node", "data-name": n.name, "data-kind": n.kind });
      g.appendChild(el("rect", { class: n.kind, x: p.x, y: p.y, width: W, height: H, rx: 4 }));
      g.appendChild(el("text", { x: p.x + 4, y: p.y + 12 }, n.name));
      const extra = (n.topics || []).map((x) => "topic " + x).concat((n.stores || []).map((x) => "store " + x));
      g.appendChild(el("text", { x: p.x + 4, y: p.y + 24, fill: "#555" }, extra.join(", ")));
      const title = el("title", {}, n.kind + " " + n.name);
      g.appendChild(title);
      svg.appendChild(g);
    }
    for (const s of st.stores || []) stores.push(s.name);
    width = Math.max(width, cols * (W + GX) + 10);
    y0 += h + 12;
  }
  svg.setAttribute("width", width);
  svg.setAttribute("height", y0);
  const sel = $("store-name");
  sel.innerHTML = "";
  for (const s of stores) {
    const o = document.createElement("option");
    o.value = o.textContent = s;
    sel.appendChild(o);
  }
}

function fillRows(tbody, rows) {
  tbody.innerHTML = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const c of r) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
}

const samples = []; // [time ms, processed]
function drawThroughput(m) {
  const now = Date.now();
  samples.push([now, m.Processed]);
  while (samples.length > 121) samples.shift();
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i][0] - samples[i - 1][0]) / 1000;
    rates.push(dt > 0 ? (samples[i][1] - samples[i - 1][1]) / dt : 0);
  }
  const max = Math.max(1, ...rates);
  $("throughput-line").setAttribute("points", rates.map((r, i) => (i * 5) + "," + (118 - (r / max) * 110)).join(" "));
  $("throughput-now").textContent = rates.length ? Math.round(rates[rates.length - 1]) + " records/s" : "";
}

// Latency charts: the thread averages of each refresh, last 2 minutes.
const latency = { process: [], commit: [], poll: [] };
function drawLatency(m) {
  const threads = m.Threads || [];
  const avg = (f) => threads.length ? threads.reduce((s, t) => s + f(t), 0) / threads.length : 0;
  const now = {
    process: avg((t) => t.ProcessLatencyAvg) * 1000, // ms to µs
    commit: avg((t) => t.CommitLatencyAvg),
    poll: avg((t) => t.PollLatencyAvg),
  };
  for (const k in latency) {
    const s = latency[k];
    s.push(now[k]);
    while (s.length > 120) s.shift();
    const max = Math.max(1e-9, ...s);
    $("latency-" + k + "-line").setAttribute("points", s.map((v, i) => (i * 5) + "," + (58 - (v / max) * 54)).join(" "));
    $("latency-" + k + "-now").textContent = "now " + now[k].toFixed(k === "process" ? 2 : 1) + ", max " + max.toFixed(k === "process" ? 2 : 1);
  }
}

// drawRestorations lists the restorations with a progress bar each.
function drawRestorations(m) {
  const tbody = $("restorations").tBodies[0];
  tbody.innerHTML = "";
  for (const r of m.Restorations || []) {
    const tr = document.createElement("tr");
    const bar = document.createElement("progress");
    bar.max = Math.max(r.Total, 1);
    bar.value = r.Done ? bar.max : r.Restored;
    const cells = [r.Task, r.Store, r.Partition, bar, r.Restored + " / " + r.Total + (r.Done ? " (done)" : ""), r.Remaining, Math.round(r.Rate)];
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
}

async function refresh() {
  try {
    const m = await getJSON("/kstreams/metrics.json");
    $("state").textContent = m.state;
    $("state").className = "state " + m.state;
    fillRows($("threads").tBodies[0], (m.Threads || []).map((t) => [t.ID, t.Processed, t.Produced, t.Commits, t.Rebalances, t.Restored, t.Dropped + t.Skipped]));
    drawThroughput(m);
    drawLatency(m);
    drawRestorations(m);
  } catch (e) { $("state").textContent = "unreachable"; }
  try {
    const l = await getJSON("/kstreams/lag");
    $("group").textContent = "group " + l.group + ": " + l.state + ", " + l.members + " members";
    fillRows($("instances").tBodies[0], (l.instances || []).map((m) => [m.host, m.client_id, (m.active || []).join(" "), (m.standby || []).join(" ")]));
    fillRows($("lag").tBodies[0], (l.partitions || []).map((p) => [p.task || "-", p.topic, p.partition, p.committed, p.end, p.lag, (p.member || "-").replace(/^(.*StreamThread-\d+).*$/, "$1")]));
  } catch (e) { $("group").textContent = String(e); }
  await refreshErrors();
  await refreshDeadLetters();
}

async function refreshDeadLetters() {
  try {
    const dls = await getJSON("/kstreams/deadletters");
    fillRows($("deadletters").tBodies[0], dls.slice().reverse().slice(0, 20).map((d) =>
      [new Date(d.time).toLocaleTimeString(), d.topic + "-" + d.partition + "@" + d.offset,
       d.input_offset >= 0 ? d.input_topic + "-" + d.input_partition + "@" + d.input_offset : "-", d.stage, d.error, d.key]));
  } catch (e) { /* the next refresh retries */ }
}

async function refreshErrors() {
  try {
    const errs = await getJSON("/kstreams/errors");
    fillRows($("errors").tBodies[0], errs.slice().reverse().slice(0, 20).map((e) =>
      [new Date(e.time).toLocaleTimeString(), e.level, e.message, Object.entries(e.attrs).map(([k, v]) => k + "=" + v).join(" ")]));
  } catch (e) { /* the next refresh retries */ }
}

const pageSize = 20;
let storeSkip = 0;      // local scans page by offset
let storeCursor = "";   // routed scans page by the query server's cursor
let storeNext = "";
let storeKinds = {};    // the stores the query server serves, by name

// loadServedStores asks the application's query server, through the
// operations server, which stores it serves; without one the browser reads
// this instance's key-value stores only.
async function loadServedStores() {
  try {
    const list = await getJSON("/kstreams/query/v1/stores");
    storeKinds = {};
    for (const s of list) storeKinds[s.name] = s.kind;
    $("store-routing").textContent = "(routed: any key, from any instance)";
  } catch (e) {
    $("store-routing").textContent = "(this instance's key-value stores; make a query server to browse every instance and window stores)";
  }
  for (const o of $("store-name").options) if (storeKinds[o.value]) o.textContent = o.value + " (" + storeKinds[o.value] + ")";
}

function windowOf(e) { return e.start === undefined ? "" : e.start + " .. " + e.end; }

// routedQuery reads a store the query server serves: the request and how
// to turn its answer into rows.
function routedQuery(store, kind) {
  const base = "/kstreams/query/v1/stores/" + encodeURIComponent(store);
  const key = $("store-key").value;
  const times = new URLSearchParams();
  if ($("store-time-from").value) times.set("from", $("store-time-from").value);
  if ($("store-time-to").value) times.set("to", $("store-time-to").value);
  const page = new URLSearchParams(times);
  page.set("limit", pageSize);
  if (storeCursor) page.set("after", storeCursor);
  const one = (r) => [[r.key, "", r.value]];
  if (kind === "window" && key) return [base + "/windows/" + encodeURIComponent(key) + "?" + times, (r) => r.windows.map((w) => [r.key, windowOf(w), w.value])];
  if (kind === "window") return [base + "/windows?" + page, (r) => r.entries.map((e) => [e.key, windowOf(e), e.value])];
  if (kind === "session" && key) return [base + "/sessions/" + encodeURIComponent(key), (r) => r.sessions.map((w) => [r.key, windowOf(w), w.value])];
  if (kind === "session") throw new Error("a session store is read by key");
  if (key) return [base + "/keys/" + encodeURIComponent(key), one];
  for (const f of ["from", "to"]) if ($("store-" + f).value) page.set(f, $("store-" + f).value);
  return [base + "/range?" + page, (r) => r.entries.map((e) => [e.key, "", e.value])];
}

// queryStore looks a key up, or scans a page of pageSize entries: through
// the query server for the stores it serves (routed to their owners),
// else in this instance's partitions.
async function queryStore() {
  const store = $("store-name").value, kind = storeKinds[store];
  $("store-error").textContent = "";
  try {
    let rows, more;
    if (kind) {
      const [path, toRows] = routedQuery(store, kind);
      const r = await getJSON(path);
      rows = toRows(r);
      storeNext = r.next || "";
      more = !!storeNext;
    } else {
      const q = new URLSearchParams({ store: store, limit: pageSize, skip: storeSkip });
      for (const f of ["key", "from", "to"]) if ($("store-" + f).value) q.set(f, $("store-" + f).value);
      const r = await getJSON("/kstreams/store?" + q.toString());
      rows = r.entries.map((e) => [e.key, "", e.value]);
      more = r.more;
    }
    fillRows($("store-result").tBodies[0], rows.map(([k, w, v]) => [JSON.stringify(k), w, JSON.stringify(v)]));
    if (!rows.length) $("store-error").textContent = "no entry";
    $("store-next").disabled = !more;
  } catch (e) {
    fillRows($("store-result").tBodies[0], []);
    $("store-error").textContent = String(e);
    $("store-next").disabled = true;
  }
}

async function main() {
  $("store-form").addEventListener("submit", (ev) => { ev.preventDefault(); storeSkip = 0; storeCursor = ""; queryStore(); });
  $("store-next").addEventListener("click", () => { storeSkip += pageSize; storeCursor = storeNext; queryStore(); });
  try { drawTopology(await getJSON("/kstreams/topology")); } catch (e) { $("app-id").textContent = String(e); }
  await loadServedStores();
  await refresh();
  setInterval(refresh, 1000);
}
main();
