// Charts by Chart.js, drawn without animation so that what a screenshot or a test reads is the
// final picture. Chart.getChart(canvas) gives a chart's data (window.Chart, for the tests).

import { Chart, registerables } from "chart.js";

Chart.register(...registerables);
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = "system-ui, sans-serif";
window.Chart = Chart;

const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumSignificantDigits: 4 });
// 215000000000 -> "215B" on an axis; below 100,000 the number as it is (950, 1,000)
const compact = (value) => (Math.abs(value) >= 1e5 ? COMPACT.format(value) : value.toLocaleString("en-US"));

export const COLORS = ["#2f6db5", "#e07b24", "#3a9a5b", "#c0392b", "#8e5ab5", "#7f6a4f", "#d65fa7", "#6b7b8c", "#b5a82f", "#27a3b5"];

function draw(canvas, config) {
  Chart.getChart(canvas)?.destroy();
  return new Chart(canvas, config);
}

export function clear(canvas) {
  Chart.getChart(canvas)?.destroy();
}

const PARTS = [["it_mw", "IT"], ["network_mw", "network"], ["losses_mw", "losses"], ["cooling_mw", "cooling"]];

// Power rows ({it_mw, network_mw, losses_mw, cooling_mw, total_mw, grid_mw}) as stacked bars, one
// per label, against the grid (a line).
export function powerChart(canvas, labels, rows, title) {
  const single = rows.length === 1;
  return draw(canvas, {
    type: "bar",
    data: { labels: single ? [labels[0], "grid"] : labels, datasets: single ? singlePower(rows[0]) : manyPower(rows) },
    options: {
      indexAxis: single ? "y" : "x",
      plugins: { title: { display: !!title, text: title }, legend: { position: "bottom" } },
      scales: single
        ? { x: { stacked: true, title: { display: true, text: "MW" }, beginAtZero: true }, y: { stacked: true } }
        : { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "MW" }, beginAtZero: true } },
    },
  });
}

// Several periods, slices or futures: the parts stacked in each, the grid a line across them.
function manyPower(rows) {
  const sets = PARTS.map(([key, name], i) => ({
    type: "bar", label: `${name} (MW)`, data: rows.map((r) => r[key]), backgroundColor: COLORS[i], stack: "use",
  }));
  sets.push({
    type: "line", label: "grid (MW)", data: rows.map((r) => r.grid_mw), borderColor: "#111", backgroundColor: "#111",
    borderWidth: 2, pointRadius: 3, stepped: "middle",
  });
  return sets;
}

// One period: the site's draw by part, and the grid connection as its own bar beneath.
function singlePower(row) {
  const sets = PARTS.map(([key, name], i) => ({
    label: `${name} (MW)`, data: [row[key], null], backgroundColor: COLORS[i], stack: "use",
  }));
  sets.push({ label: "grid connection (MW)", data: [null, row.grid_mw], backgroundColor: "#bbb", stack: "use" });
  return sets;
}

export function heatChart(canvas, heat) {
  return draw(canvas, {
    type: "bar",
    data: {
      labels: heat.map((h) => `${h.loop} loop`),
      datasets: [
        { label: "heat load (MW)", data: heat.map((h) => h.load_mw), backgroundColor: COLORS[1] },
        { label: "loop capacity (MW)", data: heat.map((h) => h.capacity_mw), backgroundColor: "#bbb" },
      ],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { position: "bottom" } },
      scales: { x: { beginAtZero: true, title: { display: true, text: "MW of heat" } } },
    },
  });
}

// A sweep's metric against its first parameter: one line per combination of the others.
export function sweepChart(canvas, xLabel, yLabel, lines) {
  return draw(canvas, {
    type: "line",
    data: {
      datasets: lines.map((l, i) => ({ label: l.label, data: l.points, borderColor: COLORS[i % COLORS.length],
        backgroundColor: COLORS[i % COLORS.length], pointRadius: 4 })),
    },
    options: {
      parsing: false,
      layout: { padding: { left: 6, right: 14, top: 8 } },  // the end points whole, not cut by the edge
      plugins: { legend: { position: "bottom" } },
      scales: {
        x: { type: "linear", title: { display: true, text: xLabel }, ticks: { callback: compact } },
        y: { title: { display: true, text: yLabel }, ticks: { callback: compact } },
      },
    },
  });
}

// Racks per hardware, stacked, at each value of the parameter.
export function mixChart(canvas, xLabel, xs, series) {
  return draw(canvas, {
    type: "bar",
    data: {
      labels: xs.map((x) => String(x)),
      datasets: series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: COLORS[i % COLORS.length], stack: "mix" })),
    },
    options: {
      plugins: { legend: { position: "bottom" } },
      scales: {
        x: { stacked: true, title: { display: true, text: xLabel } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: "racks" } },
      },
    },
  });
}
