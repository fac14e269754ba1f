// A consuming service's page: summary cards, throughput chart, partitions, last events.
// The service's own panel is its panel.js (loaded first: it defines RECENT_COLS).
"use strict";

const SERVICE = document.body.dataset.service;

const throughputChart = Dash.chart(document.getElementById("throughput-chart"), {
  yLabel: "events / s",
  series: [{ label: "events persisted per second", color: "#2563eb", fill: "rgba(37,99,235,0.12)" }],
});

async function summary() {
  const s = await Dash.getJSON("/api/summary");
  const c = s.counts || {};
  Dash.set("topic", s.topic);
  Dash.set("offset-store", s.offset_store);
  Dash.setNum("processed", c.processed);
  Dash.setNum("duplicates", c.duplicates);
  Dash.setNum("invalid", c.invalid);
  Dash.setNum("lag", s.lag);
  Dash.setNum("window", s.window);
  Dash.set("time-lag", Dash.secs(s.time_lag_s), s.time_lag_s);
  Dash.set("owned", s.consumer.assigned.length ? s.consumer.assigned.join(", ") : "none");
  Dash.setNum("batches", s.consumer.batches);
  const dbProblem = s.db.read_error || (s.db.writes_ok ? "" : s.db.last_write_error);
  Dash.badge("db-status", s.db.up, s.db.up ? "database up" : "database down", dbProblem);
  Dash.badge("broker-status", s.broker.up, s.broker.up ? "broker reachable" : "broker unreachable",
    s.broker.error || "");
  Dash.set("db-detail", dbProblem || "");
  Dash.set("broker-detail", s.broker.error || "");
  Dash.links(s.ports);
  Dash.stamp();
}

const PARTITION_COLS = [
  { key: "partition", num: true },
  { key: "owned", fmt: (v) => (v ? "yes" : "no") },
  { key: "committed", fmt: Dash.num, num: true },
  { key: "db_offset", fmt: Dash.num, num: true },
  { key: "log_end", fmt: Dash.num, num: true },
  { key: "lag", fmt: Dash.num, cls: (v) => (v > 0 ? "num warn" : "num") },
  { key: "time_lag_s", fmt: Dash.secs, num: true },
  { key: "persisted_offset", fmt: Dash.num, num: true },
  { key: "window", fmt: Dash.num, cls: (v) => (v > 0 ? "num warn" : "num") },
  { key: "processed", fmt: Dash.num, num: true },
  { key: "duplicates", fmt: Dash.num, num: true },
  { key: "invalid", fmt: Dash.num, num: true },
  { key: "last_event_time", fmt: Dash.time },
];

async function partitions() {
  const p = await Dash.getJSON("/api/partitions");
  Dash.fillTable(document.querySelector("#partitions tbody"), p.rows, PARTITION_COLS, "partition");
}

async function throughput() {
  const t = await Dash.getJSON("/api/throughput");
  throughputChart.update(t.t, [t.events]);
  Dash.setNum("throughput-total", t.total);
}

// RECENT_COLS: the service's own columns of the last events, defined by its panel.js.

const RECENT_BASE = [
  { key: "event_id" },
  { key: "partition", num: true },
  { key: "kafka_offset", fmt: Dash.num, num: true },
  { key: "event_time", fmt: Dash.time },
  { key: "persisted_at", fmt: Dash.time },
];

const RECENT_TITLES = {
  event_id: "event id", partition: "partition", kafka_offset: "offset", event_time: "event time",
  persisted_at: "persisted at", user_id: "user", event_type: "type", amount: "amount",
  delivery_count: "deliveries",
};

function recentHeader() {
  const tr = document.querySelector("#recent thead tr");
  for (const col of [...RECENT_BASE, ...RECENT_COLS]) {
    const th = document.createElement("th");
    th.textContent = RECENT_TITLES[col.key];
    tr.appendChild(th);
  }
}

async function recent() {
  const r = await Dash.getJSON("/api/recent?limit=15");
  const tbody = document.querySelector("#recent tbody");
  Dash.fillTable(tbody, r.rows, [...RECENT_BASE, ...RECENT_COLS], "event_id");
  if (typeof onRecentRows === "function") onRecentRows(tbody);  // a panel may enrich rows
}

recentHeader();
Dash.poll(summary, 1500);
Dash.poll(partitions, 1500);
Dash.poll(throughput, 2000);
Dash.poll(recent, 2000);
