"use strict";
// The console's "Application metrics" panel: the metrics the application
// registered itself (kstreams.App.RegisterMetrics), read from
// /kstreams/appmetrics every second. The panel stays hidden while the
// application registered none.
(function () {
  const section = document.createElement("section");
  section.id = "appmetrics-section";
  section.hidden = true;
  section.innerHTML = '<h2>Application metrics <small>(registered by the application, every second)</small></h2>' +
    '<table id="appmetrics"><thead><tr><th>metric</th><th>labels</th><th>value</th><th>help</th></tr></thead><tbody></tbody></table>';
  document.querySelector("main").appendChild(section);

  // value formats a sample: counters and gauges as numbers, histograms and
  // summaries as their count and mean (in ms when the unit is seconds).
  function value(m, s) {
    if (m.type !== "histogram" && m.type !== "summary") {
      return Number.isInteger(s.value) ? String(s.value) : s.value.toPrecision(4);
    }
    const n = s.count || 0;
    if (!n) return "count 0";
    const mean = m.name.endsWith("_seconds") ? (s.mean * 1000).toPrecision(4) + " ms" : s.mean.toPrecision(4);
    return "count " + n + ", mean " + mean;
  }

  async function refreshAppMetrics() {
    let ms;
    try {
      const r = await fetch("/kstreams/appmetrics", { cache: "no-store" });
      if (!r.ok) return;
      ms = await r.json();
    } catch (e) { return; } // the next refresh retries
    section.hidden = ms.length === 0;
    const tbody = document.getElementById("appmetrics").tBodies[0];
    tbody.innerHTML = "";
    for (const m of ms) {
      for (const s of m.samples || []) {
        const tr = document.createElement("tr");
        tr.dataset.name = m.name;
        const labels = Object.entries(s.labels || {}).map(([k, v]) => k + "=" + v).join(" ");
        for (const c of [m.name, labels, value(m, s), m.help]) {
          const td = document.createElement("td");
          td.textContent = c;
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
    }
  }
  refreshAppMetrics();
  setInterval(refreshAppMetrics, 1000);
})();
