// audit's panel: search an event id for its deliveries; list the redelivered events.
"use strict";

// Its own columns in the kit's "last events persisted" table (service.js).
const RECENT_COLS = [
  { key: "event_type" }, { key: "delivery_count", fmt: Dash.num, num: true },
];

const form = document.getElementById("audit-search");
const input = document.getElementById("audit-id");
const result = document.getElementById("audit-result");

function field(label, value, id) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  if (id) dd.id = id;
  return [dt, dd];
}

function showEvent(e) {
  const dl = document.createElement("dl");
  dl.append(
    ...field("event id", e.event_id, "audit-event-id"),
    ...field("type", e.event_type, "audit-type"),
    ...field("origin", `${e.topic} partition ${e.partition} offset ${e.kafka_offset}`, "audit-origin"),
    ...field("deliveries", Dash.num(e.delivery_count), "audit-deliveries"),
    ...field("first seen", Dash.time(e.first_seen), "audit-first-seen"),
    ...field("last seen", Dash.time(e.last_seen), "audit-last-seen"),
    ...field("event time", Dash.time(e.event_time)),
  );
  const table = document.createElement("table");
  table.id = "audit-deliveries-table";
  table.innerHTML = "<thead><tr><th>#</th><th>at (UTC)</th><th>what</th><th>partition</th><th>offset</th></tr></thead><tbody></tbody>";
  Dash.fillTable(table.querySelector("tbody"), e.deliveries, [
    { key: "n", num: true }, { key: "at", fmt: Dash.time }, { key: "what" },
    { key: "partition", num: true }, { key: "offset", fmt: Dash.num, num: true },
  ]);
  const payload = document.createElement("pre");
  payload.id = "audit-payload";
  payload.textContent = e.payload;
  result.replaceChildren(dl, table, payload);
}

async function search(id) {
  result.textContent = "searching…";
  try {
    showEvent(await Dash.getJSON(`/api/events/${encodeURIComponent(id)}`));
  } catch (err) {
    const p = document.createElement("p");
    p.className = "notfound";
    p.id = "audit-error";
    p.textContent = err.message;
    result.replaceChildren(p);
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (input.value.trim()) search(input.value.trim());
});

// Event ids in audit's tables open the search (also used for "Last events persisted").
function linkIds(tbody) {
  for (const td of tbody.querySelectorAll('td[data-col="event_id"]')) {
    td.classList.add("link");
    td.addEventListener("click", () => { input.value = td.textContent; search(td.textContent); });
  }
}

function onRecentRows(tbody) { linkIds(tbody); }

async function redelivered() {
  const r = await Dash.getJSON("/api/events?limit=10");
  const tbody = document.querySelector("#redelivered tbody");
  Dash.fillTable(tbody, r.rows, [
    { key: "event_id" }, { key: "event_type" }, { key: "partition", num: true },
    { key: "kafka_offset", fmt: Dash.num, num: true },
    { key: "delivery_count", fmt: Dash.num, num: true }, { key: "last_seen", fmt: Dash.time },
  ], "event_id");
  linkIds(tbody);
  Dash.set("redelivered-events", Dash.num(r.events), r.events);
  Dash.set("redeliveries", Dash.num(r.redeliveries), r.redeliveries);
}

Dash.poll(redelivered, 2000);
