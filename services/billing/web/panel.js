// billing's panel: ledger totals and the top balances (a bar per user, drawn with CSS).
"use strict";

// Its own columns in the kit's "last events persisted" table (service.js).
const RECENT_COLS = [
  { key: "user_id" }, { key: "event_type", fmt: (v) => v || "not billable" },
  { key: "amount", fmt: Dash.money, num: true },
];

function balanceBar(value, row, max) {
  const wrap = document.createElement("div");
  wrap.className = "hbar";
  const bar = document.createElement("span");
  const v = Number(value);
  bar.style.width = `${max > 0 ? Math.round((Math.abs(v) / max) * 100) : 0}%`;
  bar.className = v < 0 ? "neg" : "pos";
  wrap.appendChild(bar);
  return wrap;
}

async function ledger() {
  const l = await Dash.getJSON("/api/ledger?top=10");
  Dash.set("ledger-entries", Dash.num(l.entries), l.entries);
  Dash.set("ledger-debits", Dash.money(l.debits), l.debits);
  Dash.set("ledger-credits", Dash.money(l.credits), l.credits);
  Dash.set("ledger-net", Dash.money(l.net), l.net);
  Dash.set("ledger-users", Dash.num(l.users), l.users);
  const rows = l.top.map((r, i) => ({ rank: i + 1, ...r }));
  const tbody = document.querySelector("#balances tbody");
  Dash.fillTable(tbody, rows, [
    { key: "rank", num: true }, { key: "user_id" },
    { key: "balance", fmt: Dash.money, num: true }, { key: "entries", fmt: Dash.num, num: true },
    { key: "bar", fmt: () => "" },
  ], "user_id");
  const max = Math.max(0, ...rows.map((r) => Math.abs(Number(r.balance))));
  tbody.querySelectorAll("tr").forEach((tr, i) => {
    tr.querySelector('td[data-col="bar"]').appendChild(balanceBar(rows[i].balance, rows[i], max));
  });
}

Dash.poll(ledger, 2000);
