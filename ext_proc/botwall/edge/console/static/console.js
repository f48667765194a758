// botwall's dashboard: sortable and filterable tables, and the overview's charts (uPlot, vendored). No framework;
// everything it reads is in data-* attributes the server wrote, or the admin API (same origin, session cookie).
"use strict";

const COLORS = {
  human: "#2e7d32", "good-bot": "#1565c0", suspect: "#d99100", bot: "#c62828",
  allow: "#5b8c5a", monitor: "#7a7f87", challenge: "#d99100", block: "#c62828", throttle: "#7b3fb0", deceive: "#8d5a2b",
};
const ORDER = {
  verdict: ["human", "good-bot", "suspect", "bot"],
  action: ["allow", "monitor", "challenge", "block", "throttle", "deceive"],
};
const LABELS = { allow: "allowed", monitor: "tagged", challenge: "challenged", block: "blocked", throttle: "throttled",
  deceive: "deceived" };

function cellValue(row, index, kind) {
  const cell = row.cells[index];
  if (!cell) return kind === "num" ? 0 : "";
  const holder = cell.hasAttribute("data-value") ? cell : cell.querySelector("[data-value]");
  const raw = holder ? holder.getAttribute("data-value") : cell.textContent.trim();
  return kind === "num" ? Number(raw) || 0 : raw.toLowerCase();
}

function sortable(table) {
  table.querySelectorAll("th[data-sort]").forEach((th, index) => {
    const kind = th.getAttribute("data-sort");
    if (kind === "none") return;
    th.addEventListener("click", () => {
      const descending = !th.classList.contains("sorted-desc");
      table.querySelectorAll("th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(descending ? "sorted-desc" : "sorted-asc");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = cellValue(a, index, kind), y = cellValue(b, index, kind);
        const order = x < y ? -1 : x > y ? 1 : 0;
        return descending ? -order : order;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
}

function filterable(toolbar) {
  const table = document.getElementById(toolbar.getAttribute("data-table"));
  if (!table) return;
  const controls = toolbar.querySelectorAll("[data-filter]");
  const apply = () => {
    const want = {};
    controls.forEach((c) => { want[c.getAttribute("data-filter")] = c.type === "checkbox" ? c.checked : c.value; });
    const text = (want.text || "").trim().toLowerCase();
    Array.from(table.tBodies[0].rows).forEach((row) => {
      const shown = (!text || row.textContent.toLowerCase().includes(text))
        && (!want.kind || row.getAttribute("data-kind") === want.kind)
        && (!want.new || row.getAttribute("data-new") === "true")
        && (!want.unprotected || row.getAttribute("data-unprotected") === "true");
      row.classList.toggle("hidden", !shown);
    });
  };
  controls.forEach((c) => c.addEventListener("input", apply));
}

async function chart(box) {
  const by = box.getAttribute("data-by");
  const response = await fetch(box.getAttribute("data-src"), { credentials: "same-origin" });
  if (!response.ok) {
    box.textContent = `The traffic series did not load (HTTP ${response.status}).`;
    return;
  }
  const traffic = await response.json();
  const times = traffic.series.map((s) => s.time);
  const keys = ORDER[by].filter((k) => traffic.series.some((s) => s.counts.some((c) => c[by] === k)));
  const columns = keys.map((k) => traffic.series.map((s) =>
    s.counts.filter((c) => c[by] === k).reduce((n, c) => n + c.requests, 0)));
  const series = [{}].concat(keys.map((k) => ({
    label: LABELS[k] || k, stroke: COLORS[k] || "#333", width: 1.5, fill: (COLORS[k] || "#333") + "22",
    points: { show: false },
  })));
  box.setAttribute("data-points", String(times.length));
  box.setAttribute("data-total", String(columns.flat().reduce((a, b) => a + b, 0)));
  if (!keys.length) {
    box.textContent = "No requests in this range.";
    return;
  }
  const options = {
    width: Math.max(320, box.clientWidth - 16), height: 240, series,
    axes: [{}, { label: `requests per ${traffic.step_seconds / 60} min`, size: 60 }],
    scales: { x: { time: true } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"), // the tables' times are UTC too
  };
  new uPlot(options, [times, ...columns], box);
  box.classList.add("drawn");
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.grid").forEach(sortable);
  document.querySelectorAll(".toolbar[data-table]").forEach(filterable);
  document.querySelectorAll(".chart[data-src]").forEach((box) => {
    chart(box).catch((err) => { box.textContent = `The chart failed: ${err}`; });
  });
});
