// The overview: the fan-out picture (SVG) and the reconciliation tables.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const STATUS = {
  ok: { text: "reconciled", stroke: "#15803d", fill: "#f0fdf4" },
  behind: { text: "catching up", stroke: "#b45309", fill: "#fffbeb" },
  gap: { text: "gap", stroke: "#b91c1c", fill: "#fef2f2" },
  unknown: { text: "unknown", stroke: "#6b7280", fill: "#f9fafb" },
};

function statusOf(s) {
  // The server's rule: a gap is an offset below the committed one that is missing or doubled;
  // what lies above it is in flight (lag), not lost.
  if (s.reconciled === null) return "unknown";
  if (!s.reconciled) return "gap";
  return s.lag > 0 ? "behind" : "ok";
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function box(x, y, w, h, stroke, fill) {
  return el("rect", { x, y, width: w, height: h, rx: 8, stroke, fill, "stroke-width": 2 });
}

function arrow(x1, y1, x2, y2, label) {
  const g = el("g", {});
  g.appendChild(el("line", { x1, y1, x2, y2, stroke: "#475569", "stroke-width": 2, "marker-end": "url(#head)" }));
  // The label sits near the arrow's head, above the line, where arrows do not cross.
  if (label) g.appendChild(el("text", { x: x2 - 8, y: y2 - 10, "text-anchor": "end", class: "svg-small svg-label" }, label));
  return g;
}

function drawPublisher(svg, o) {
  svg.appendChild(box(10, 135, 150, 100, "#0d9488", "#f0fdfa"));
  svg.appendChild(el("text", { x: 85, y: 162, "text-anchor": "middle", class: "svg-title" }, "publisher"));
  svg.appendChild(el("text", { x: 85, y: 187, "text-anchor": "middle", class: "svg-small" }, `sent ${Dash.num(o.publisher.sent)}`));
  svg.appendChild(el("text", { x: 85, y: 207, "text-anchor": "middle", class: "svg-small" }, `acked ${Dash.num(o.publisher.acked)}`));
  svg.appendChild(el("text", { x: 215, y: 170, "text-anchor": "middle", class: "svg-small" }, "by user key"));
  svg.appendChild(arrow(160, 185, 265, 185));
}

function drawTopic(svg, o) {
  svg.appendChild(box(260, 15, 260, 330, "#2563eb", "#eff6ff"));
  svg.appendChild(el("text", { x: 390, y: 40, "text-anchor": "middle", class: "svg-title" }, o.topic));
  svg.appendChild(el("text", { x: 390, y: 60, "text-anchor": "middle", class: "svg-small" },
    `${o.partitions.length} partitions · ${Dash.num(o.published)} events`));
  const n = Math.max(o.partitions.length, 1);
  const rowH = Math.min(40, 265 / n);
  const max = Math.max(1, ...o.partitions.map((p) => p.log_end));
  o.partitions.forEach((p, i) => {
    const y = 72 + i * rowH;
    svg.appendChild(el("rect", { x: 275, y, width: 230, height: rowH - 6, fill: "#fff", stroke: "#93c5fd" }));
    svg.appendChild(el("rect", { x: 275, y, width: (230 * p.log_end) / max, height: rowH - 6, fill: "#bfdbfe" }));
    svg.appendChild(el("text", { x: 283, y: y + rowH / 2, class: "svg-small", "dominant-baseline": "middle" },
      `partition ${p.partition}`));
    svg.appendChild(el("text", { x: 497, y: y + rowH / 2, class: "svg-small", "text-anchor": "end", "dominant-baseline": "middle" },
      `log end ${Dash.num(p.log_end)}`));
  });
}

function drawGroups(svg, o) {
  o.services.forEach((s, i) => {
    const y = 15 + i * 115;
    const st = STATUS[statusOf(s)];
    svg.appendChild(arrow(520, 180, 625, y + 50));
    svg.appendChild(box(630, y, 310, 100, st.stroke, st.fill));
    // The running scenario acts on this service (scenarios.js): outline it.
    if (window.fanoutTouched && window.fanoutTouched.has(s.service)) {
      svg.appendChild(el("rect", { x: 624, y: y - 6, width: 322, height: 112, rx: 11, fill: "none",
        stroke: "#7c3aed", "stroke-width": 3, "stroke-dasharray": "8 5", class: "touched" }));
    }
    svg.appendChild(el("text", { x: 645, y: y + 24, class: "svg-title" }, `${s.service}`));
    svg.appendChild(el("text", { x: 925, y: y + 24, "text-anchor": "end", class: "svg-small", fill: st.stroke }, st.text));
    svg.appendChild(el("text", { x: 645, y: y + 46, class: "svg-small" }, `group ${s.group}`));
    svg.appendChild(el("text", { x: 645, y: y + 66, class: "svg-small" },
      `committed ${Dash.num(s.committed)} · lag ${Dash.num(s.lag)}`));
    svg.appendChild(el("text", { x: 645, y: y + 86, class: "svg-small" },
      `persisted ${Dash.num(s.persisted)} · not committed ${Dash.num(s.window)}`));
  });
}

function drawDiagram(o) {
  const svg = document.getElementById("diagram");
  const defs = el("defs", {});
  const marker = el("marker", { id: "head", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.appendChild(el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#475569" }));
  defs.appendChild(marker);
  svg.replaceChildren(defs);
  drawPublisher(svg, o);
  drawTopic(svg, o);
  drawGroups(svg, o);
}

function fillRecon(o) {
  const rows = o.services.map((s) => ({ ...s, status: statusOf(s) }));
  const n = { fmt: Dash.num, num: true };
  Dash.fillTable(document.querySelector("#recon tbody"), rows, [
    { key: "service" }, { key: "group" },
    { key: "published", ...n }, { key: "persisted", ...n }, { key: "copies", ...n }, { key: "invalid", ...n },
    { key: "accounted", ...n }, { key: "committed", ...n },
    { key: "lag", fmt: Dash.num, cls: (v) => (v > 0 ? "num warn" : "num") },
    { key: "duplicates", ...n },
    { key: "window", fmt: Dash.num, cls: (v) => (v > 0 ? "num warn" : "num") },
    // Reasons only for a real gap: while a group catches up they are expected.
    { key: "status", fmt: (v, r) => (v === "gap" ? `${STATUS[v].text}: ${r.gaps.join("; ")}` : STATUS[v].text),
      cls: (v) => `status-${v}` },
  ], "service");
}

function fillWindows(o) {
  const thead = document.querySelector("#windows thead");
  const top = document.createElement("tr");
  const sub = document.createElement("tr");
  const th = (text, span) => { const c = document.createElement("th"); c.textContent = text; if (span) c.colSpan = span; return c; };
  top.append(th("partition"), th("log end"));
  sub.append(th(""), th(""));
  for (const s of o.services) {
    top.append(th(s.service, 3));
    sub.append(th("committed"), th("persisted offset"), th("not committed"));
  }
  thead.replaceChildren(top, sub);
  const cols = [{ key: "partition", num: true }, { key: "log_end", fmt: Dash.num, num: true }];
  const byPartition = new Map(o.partitions.map((p) => [p.partition, { partition: p.partition, log_end: p.log_end }]));
  for (const s of o.services) {
    for (const p of s.partitions) {
      Object.assign(byPartition.get(p.partition) || {}, {
        [`${s.service}.committed`]: p.committed, [`${s.service}.persisted`]: p.persisted_offset,
        [`${s.service}.window`]: p.window,
      });
    }
    cols.push({ key: `${s.service}.committed`, fmt: Dash.num, num: true },
      { key: `${s.service}.persisted`, fmt: Dash.num, num: true },
      { key: `${s.service}.window`, fmt: Dash.num, cls: (v) => (v > 0 ? "num warn" : "num") });
  }
  Dash.fillTable(document.querySelector("#windows tbody"), [...byPartition.values()], cols, "partition");
}

// The supervisor's view (`./fanout up`); none under compose, which restarts containers itself.
function fillRestarts(o) {
  const sup = o.supervisor;
  const panel = document.getElementById("supervision");
  if (!sup) {
    panel.hidden = true;
    Dash.badge("sup-status", true, "no local supervisor", "not under ./fanout up (under docker compose, its restart policy restarts containers)");
    return;
  }
  panel.hidden = false;
  const rows = [...Object.entries(sup.infra), ...Object.entries(sup.services)].map(([name, v]) => ({ name, ...v }));
  const orDash = (v) => (v === null || v === undefined ? "–" : String(v));
  Dash.fillTable(document.querySelector("#restarts tbody"), rows, [
    { key: "name" },
    { key: "state", fmt: (v, r) => (v === "gave up" ? `GAVE UP: ${r.last_error || `exit ${r.last_exit}`}` : v),
      cls: (v) => (v === "up" ? "status-ok" : "status-gap") },
    { key: "restarts", fmt: Dash.num, num: true },
    { key: "last_exit", fmt: orDash, num: true },
    { key: "last_down_s", fmt: (v) => (v === null ? "–" : `${v} s`), num: true },
  ], "name");
  const text = sup.gave_up.length ? `gave up on ${sup.gave_up.join(", ")}`
    : sup.down.length ? `${sup.down.join(", ")} down` : "every process up";
  Dash.badge("sup-status", sup.down.length === 0, text, "");
}

function fillTopicSetup(o) {
  const t = o.topic_setup, p = document.getElementById("topic-setup");
  if (!t || t.error) { p.textContent = t ? `topic set-up unknown: ${t.error}` : ""; return; }
  p.textContent = `${o.topic}: created explicitly with ${t.partitions} partitions and ` +
    `replication ${t.replication}; auto.create.topics.enable=${t.auto_create}: ${t.why}.`;
}

async function overview() {
  const o = await Dash.getJSON("/api/overview");
  drawDiagram(o);
  fillRecon(o);
  fillWindows(o);
  fillRestarts(o);
  fillTopicSetup(o);
  Dash.badge("db-status", o.db.up, o.db.up ? "database up" : "database down", o.db.error || "");
  Dash.badge("broker-status", o.broker.up, o.broker.up ? "broker reachable" : "broker unreachable", o.broker.error || "");
  Dash.links(o.ports);
  Dash.stamp();
}

Dash.poll(overview, 1500);
