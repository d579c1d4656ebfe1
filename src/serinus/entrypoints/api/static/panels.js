// serinus dashboard: the rollout page's plain renderers (weights, replicas, steps, audit) and
// the live countdowns. They read only what they are given; app.js owns the state.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const { h, stamp, duration, colorOf } = window.SerinusUI;

  function weightsText(weights) {
    return Object.entries(weights || {}).map(([version, w]) => `${version} ${w}%`).join(" · ");
  }

  // What an event says about the traffic: a recorded weight change, or an abort (or failure)
  // that sent everything back to the stable version at that moment.
  function weightsOf(e) {
    const d = e.data || {};
    if (e.type === "WeightsChanged" && d.weights) return d.weights;
    if ((e.type === "Aborted" || e.type === "Failed") && d.stable && d.canary) return { [d.stable]: 100, [d.canary]: 0 };
    return null;
  }

  function drawWeights(all, d) {
    const samples = all.slice().sort((a, b) => a.at - b.at);
    const slots = {};
    for (const c of d.colors) if (c.version) slots[c.version] = c.color;
    const versions = [];
    for (const s of samples) for (const v of Object.keys(s.weights)) if (!versions.includes(v)) versions.push(v);
    const series = versions.map((version) => ({
      label: version,
      color: colorOf(slots[version]),
      points: samples.map((s) => [s.at, s.weights[version] || 0]),
    }));
    const now = Math.max(Date.now() / 1000, samples.length ? samples[samples.length - 1].at : 0);
    window.SerinusChart.draw($("weights-chart"), series, {
      yMin: 0, yMax: 100, yUnit: "%", step: true, now, legend: false, // the list below is the legend
      title: "Traffic share per version over time: " + weightsText(d.weights),
    });
    $("weights-legend").replaceChildren(...d.colors.filter((c) => c.version).map((c) => {
      const item = h("li", `${c.version} (${c.color}, ${c.role}) ${c.weight}%`);
      item.prepend(swatch(c.color));
      return item;
    }));
  }

  function swatch(slot) {
    const mark = h("span", null, { class: "swatch", "aria-hidden": "true", "data-color": slot });
    mark.style.background = colorOf(slot);
    return mark;
  }

  function renderReplicas(colors) {
    $("replica-rows").replaceChildren(...colors.map((c) => {
      const tr = h("tr");
      const color = h("td");
      color.append(swatch(c.color), document.createTextNode(c.color));
      // Nothing desired: the color is scaled down (or on its way), not "3/0 ready".
      let ready = `${c.ready}/${c.desired}`, label = `${c.ready} of ${c.desired} ready`;
      if (c.desired === 0) {
        ready = c.ready > 0 ? `scaling down (${c.ready} left)` : "scaled down";
        label = ready;
      }
      tr.append(color, h("td", c.version), h("td", c.role), h("td", c.weight + "%"),
        h("td", ready, { "aria-label": label }));
      return tr;
    }));
  }

  // Words for screen readers (the current step has aria-current).
  const STATE_WORDS = { done: "done", failed: "stopped here" };

  function renderSteps(steps) {
    $("steps").replaceChildren(...steps.map((s) => {
      const li = h("li", s.description, { "data-state": s.state });
      if (s.state === "current") li.setAttribute("aria-current", "step");
      if (STATE_WORDS[s.state]) li.appendChild(h("span", ` (${STATE_WORDS[s.state]})`, { class: "sr-only" }));
      if (s.state === "current" && s.pauseSeconds && s.startedAt) {
        li.appendChild(h("span", "", { class: "countdown", "data-until": s.startedAt + s.pauseSeconds, "data-prefix": "continues in " }));
      }
      return li;
    }));
    if (!steps.length) $("steps").replaceChildren(h("li", "this strategy has no steps"));
    tick();
  }

  // Live countdowns and waiting times: every element with data-until or data-since.
  function tick() {
    const now = Date.now() / 1000;
    for (const node of document.querySelectorAll("[data-until]")) {
      const left = Number(node.dataset.until) - now;
      node.textContent = left > 0 ? ` ${node.dataset.prefix || ""}${duration(left)}` : ` ${node.dataset.due || "due now"}`;
    }
    for (const node of document.querySelectorAll("[data-since]")) {
      node.textContent = `${node.dataset.prefix || ""}${duration(now - Number(node.dataset.since))}`;
    }
  }

  // The version an operation applied to: the one being rolled out when it was requested (the
  // last RolloutStarted before it), with the revision and step it was bound to, if any.
  function appliedTo(a, versions) {
    const started = versions.filter((s) => s.at <= a.at);
    const parts = started.length ? [started[started.length - 1].version] : [];
    if (a.revision !== null && a.revision !== undefined) parts.push(`revision ${a.revision}`);
    if (a.step !== null && a.step !== undefined) parts.push(`step ${a.step + 1}`);
    return parts.join(", ");
  }

  const AUDIT_COLUMNS = ["Time", "Operation", "Applied to", "By", "Source", "Inputs", "Comment", "Outcome"];

  function auditRows(entries, versions) {
    return entries.slice().reverse().map((a) => {
      const tr = h("tr");
      const kind = a.kind === "judge" ? `judge: ${a.approve ? "approve" : "reject"}` : a.kind;
      const inputs = Object.entries(a.inputs).map(([k, v]) => `${k}=${v}`).join(", ");
      const cells = [stamp(a.at), kind, appliedTo(a, versions), a.actor, a.source, inputs, a.comment, a.outcome || "pending"];
      // Each cell names its column: on a phone the rows stack and the header is hidden.
      tr.append(...cells.map((text, i) => h("td", text, {
        "data-label": AUDIT_COLUMNS[i], class: i === 5 || i === 6 ? "free" : "",
      })));
      return tr;
    });
  }

  window.SerinusPanels = {
    weightsText, weightsOf, drawWeights, renderReplicas, renderSteps, tick, auditRows,
  };
})();
