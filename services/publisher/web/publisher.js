// The publisher's page: what it sent, its rate over time, the topic's partitions.
"use strict";

const rateChart = Dash.chart(document.getElementById("rate-chart"), {
  yLabel: "events / s",
  series: [{ label: "events sent per second", color: "#0d9488", fill: "rgba(13,148,136,0.12)" }],
});

async function publisher() {
  const p = await Dash.getJSON("/api/publisher");
  Dash.setNum("sent", p.sent);
  Dash.setNum("acked", p.acked);
  Dash.set("rate", p.rate_setting > 0 ? `${p.rate_setting} / s` : "as fast as possible", p.rate_setting);
  const ends = Object.entries(p.log_end).map(([partition, end]) => ({ partition: Number(partition), log_end: end }));
  Dash.setNum("published", p.broker.up ? ends.reduce((n, r) => n + r.log_end, 0) : null);
  Dash.fillTable(document.querySelector("#topic-partitions tbody"), ends,
    [{ key: "partition", num: true }, { key: "log_end", fmt: Dash.num, num: true }], "partition");
  rateChart.update(p.t, [p.per_second]);
  Dash.badge("broker-status", p.broker.up, p.broker.up ? "broker reachable" : "broker unreachable", p.broker.error || "");
  Dash.links(p.ports);
  Dash.stamp();
}

Dash.poll(publisher, 1500);
