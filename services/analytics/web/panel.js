// analytics' panel: counts per event type per minute (chart) and totals per type (table).
"use strict";

// Its own columns in the kit's "last events persisted" table (service.js).
const RECENT_COLS = [];

const TYPE_COLORS = { buy: "#16a34a", sell: "#dc2626", click: "#2563eb", hover: "#9333ea", idle_5: "#6b7280" };
const TYPES = Object.keys(TYPE_COLORS);

const minutesChart = Dash.chart(document.getElementById("minutes-chart"), {
  yLabel: "events per minute",
  points: true,
  xPad: 30,
  series: TYPES.map((t) => ({ label: t, color: TYPE_COLORS[t] })),
});

async function minutes() {
  const m = await Dash.getJSON("/api/minutes?minutes=30");
  const x = m.minutes.map((iso) => Date.parse(iso) / 1000);
  minutesChart.update(x, TYPES.map((t) => m.series[t] || x.map(() => 0)));
  const rows = TYPES.map((t) => ({ event_type: t, total: m.totals[t] || 0 }));
  const all = rows.reduce((n, r) => n + r.total, 0);
  rows.push({ event_type: "all types", total: all });
  Dash.fillTable(document.querySelector("#type-totals tbody"), rows,
    [{ key: "event_type" }, { key: "total", fmt: Dash.num, num: true }], "event_type");
}

Dash.poll(minutes, 2000);
