// The overview's Scenarios panel: the list with a Run button each; while one runs, its
// narration line by line (the server relays `./fanout scenario run NAME`), then the verdict.
// One at a time: a second Run is refused by the server, and the page shows its reason.
"use strict";

const Scenarios = (() => {
  const touched = new Set(); // services the running scenario acts on: overview.js outlines them
  let listed = false;
  let shownRun = null; // started_at of the run whose lines are on the page
  let shownLines = 0;

  function text(tag, value, cls) {
    const node = document.createElement(tag);
    node.textContent = value;
    if (cls) node.className = cls;
    return node;
  }

  function list(scenarios) {
    if (listed) return;
    const ul = document.getElementById("scenario-list");
    for (const s of scenarios) {
      const li = document.createElement("li");
      li.dataset.name = s.name;
      const button = text("button", "Run");
      button.type = "button";
      button.addEventListener("click", () => start(s.name));
      li.append(text("code", s.name), text("span", s.teaches, "what"), button);
      ul.append(li);
    }
    listed = true;
  }

  async function start(name) {
    const refusal = document.getElementById("scenario-refusal");
    // The custom header makes this a request no other site can send (shared/local_only.py).
    const response = await fetch(`/api/scenarios/${encodeURIComponent(name)}/run`, {
      method: "POST", headers: { "X-Fanout-Action": "scenario" }, cache: "no-store",
    });
    const body = await response.json().catch(() => ({}));
    refusal.textContent = response.ok ? "" : `Run refused: ${body.error || response.status}`;
    if (body.run) show(body.run);
  }

  const VERDICT_CLASS = { 0: "held", 1: "not-held", 2: "cannot" };

  function show(run) {
    const narration = document.getElementById("narration");
    if (run.started_at !== shownRun) {
      narration.replaceChildren();
      shownRun = run.started_at;
      shownLines = 0;
    }
    for (const line of run.lines.slice(shownLines)) narration.append(text("li", line));
    shownLines = Math.max(shownLines, run.lines.length);
    document.getElementById("scenario-title").textContent =
      `${run.name} — ${run.running ? "running" : run.verdict} (started ${Dash.time(run.started_at)} UTC)`;
    const verdict = document.getElementById("verdict");
    // The verdict with its numbers (or why it could not run), once the run has ended.
    verdict.textContent = run.running ? "" : run.outcome || run.verdict;
    verdict.className = run.running ? "" : VERDICT_CLASS[run.code] || "not-held";
    touched.clear();
    if (run.running) run.touches.forEach((s) => touched.add(s));
  }

  async function scenarios() {
    const body = await Dash.getJSON("/api/scenarios");
    list(body.scenarios);
    if (body.run) show(body.run);
  }

  window.fanoutTouched = touched;
  Dash.poll(scenarios, 1000);
  return { touched, start };
})();
