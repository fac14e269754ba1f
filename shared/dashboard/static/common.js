// Shared by every fanout page: formatting, polling the JSON API, tables, charts (uPlot).
// Everything from the API is inserted with textContent: event payloads are untrusted input.
"use strict";

const Dash = (() => {
  const integer = new Intl.NumberFormat("en-US");

  function num(v) {
    return v === null || v === undefined ? "–" : integer.format(v);
  }

  // Money arrives as an exact decimal string ("-1234.50"); group it without a float.
  function money(s) {
    if (s === null || s === undefined) return "–";
    const [whole, frac = "00"] = String(s).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return `${sign}${digits}.${frac.padEnd(2, "0")}`;
  }

  function secs(v) {
    if (v === null || v === undefined) return "–";
    if (v < 60) return `${v.toFixed(1)} s`;
    if (v < 3600) return `${(v / 60).toFixed(1)} min`;
    if (v < 86400) return `${(v / 3600).toFixed(1)} h`;
    return `${(v / 86400).toFixed(1)} d`;
  }

  // UTC everywhere: the database stores timestamptz, the charts' axes are UTC too.
  function time(iso) {
    if (!iso) return "–";
    return new Date(iso).toISOString().replace("T", " ").slice(0, 19);
  }

  async function getJSON(url) {
    const response = await fetch(url, { cache: "no-store" });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  // Call fn now and again `ms` after each run ends: a slow answer never stacks requests.
  function poll(fn, ms) {
    async function tick() {
      try {
        await fn();
        setError(fn.name, null);
      } catch (err) {
        setError(fn.name, err.message || String(err));
      }
      setTimeout(tick, ms);
    }
    tick();
  }

  const errors = new Map();
  function setError(source, message) {
    if (message) errors.set(source, message); else errors.delete(source);
    const box = document.getElementById("errors");
    if (!box) return;
    box.textContent = [...errors.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
    box.hidden = errors.size === 0;
  }

  function set(id, text, value) {
    const el = document.getElementById(id);
    if (!el) return;
    if (el.textContent !== text) el.textContent = text;
    if (value !== undefined) el.dataset.value = value === null ? "" : String(value);
  }

  function setNum(id, v) { set(id, num(v), v); }

  function badge(id, up, text, title) {
    const el = document.getElementById(id);
    if (!el) return;
    el.textContent = text;
    el.className = `badge ${up ? "ok" : "bad"}`;
    el.title = title || "";
  }

  function stamp() {
    set("updated", `updated ${new Date().toISOString().slice(11, 19)} UTC`);
  }

  // Links between pages: same host as this page, each process on its own port.
  function links(ports) {
    for (const a of document.querySelectorAll("a[data-port]")) {
      const port = ports[a.dataset.port];
      if (port) a.href = `${location.protocol}//${location.hostname}:${port}${a.dataset.path || "/"}`;
    }
  }

  // Rebuild a tbody from rows; cols: [{key, fmt?, cls?}]; key names the cell (data-col).
  function fillTable(tbody, rows, cols, rowKey) {
    const fresh = document.createDocumentFragment();
    for (const row of rows) {
      const tr = document.createElement("tr");
      if (rowKey) tr.dataset.key = String(row[rowKey]);
      for (const col of cols) {
        const td = document.createElement("td");
        const value = row[col.key];
        td.dataset.col = col.key;
        td.textContent = col.fmt ? col.fmt(value, row) : value === null || value === undefined ? "–" : String(value);
        const cls = col.cls ? col.cls(value, row) : col.num ? "num" : "";
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      fresh.appendChild(tr);
    }
    tbody.replaceChildren(fresh);
  }

  // 24-hour UTC tick labels; the date only where it changes (uPlot's default is 12-hour).
  function timeTicks(u, splits) {
    let lastDay = "";
    return splits.map((ts) => {
      const iso = new Date(ts * 1e3).toISOString();
      const day = iso.slice(0, 10);
      const clock = iso.slice(11, u.scales.x.max - u.scales.x.min > 3600 ? 16 : 19);
      const label = day !== lastDay ? `${clock}\n${day}` : clock;
      lastDay = day;
      return label;
    });
  }

  function padRange(min, max, xPad) {
    if (min === null || max === null) return [Date.now() / 1000 - 300, Date.now() / 1000];  // no data yet
    const pad = min === max ? Math.max(xPad, 60) : xPad;
    return [min - pad, max + pad];
  }

  // A time-series chart with axes, axis labels and a legend; update() swaps its data.
  // xPad: seconds of room on both sides of the data (one minute of data still gets an axis).
  function chart(el, { yLabel, series, points = false, height = 260, xPad = 0 }) {
    const opts = {
      width: Math.max(el.clientWidth, 300),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      scales: {
        // From the data itself: for a single x value uPlot hands the range function a span of
        // its own choosing (days), which would squeeze one minute of data into a corner.
        x: { time: true, range: (u) => padRange(u.data[0][0] ?? null, u.data[0].at(-1) ?? null, xPad) },
        y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] },
      },
      axes: [
        { label: "time (UTC)", stroke: "#444", grid: { stroke: "#eee" }, ticks: { stroke: "#ccc" },
          values: timeTicks, space: 70, size: 56 },
        { label: yLabel, stroke: "#444", grid: { stroke: "#eee" }, ticks: { stroke: "#ccc" }, size: 64 },
      ],
      series: [
        { label: "time", value: "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" },
        ...series.map((s) => ({
          label: s.label, stroke: s.color, width: 2, fill: s.fill,
          points: { show: points, size: 6, fill: s.color },
        })),
      ],
      legend: { show: true, live: false },
    };
    const empty = [[], ...series.map(() => [])];
    const plot = new uPlot(opts, empty, el);
    new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 300), height })).observe(el);
    return { update: (x, ys) => plot.setData([x, ...ys]), plot };
  }

  return { num, money, secs, time, getJSON, poll, set, setNum, badge, stamp, links, fillTable, chart };
})();
