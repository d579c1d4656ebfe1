// serinus dashboard. Everything coming from the API is inserted with textContent; the single
// exception is a judgement's `instructionsHtml`, which the server renders from sanitized markdown.
"use strict";

(function () {
  const TOKEN_KEY = "serinus.token";
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const VERSION_COLORS = ["#2563eb", "#15803d", "#b45309", "#7c3aed", "#0e7490", "#be123c"];

  const state = {
    me: null,
    listTimer: null,
    stream: null, // AbortController of the live stream
    name: null,
    detail: null,
    weights: [], // [{at, weights: {version: percent}}]
    versionColor: {},
  };

  // --- helpers --------------------------------------------------------------------------------

  function h(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString();
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json", Authorization: "Bearer " + (token() || "") };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(API + path, {
      method: opts.method || "GET",
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: "omit",
      cache: "no-store",
    });
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = null; }
    if (!response.ok) {
      const detail = payload && typeof payload.detail === "string" ? payload.detail : response.statusText;
      if (response.status === 401) signOut(detail);
      throw new ApiError(response.status, detail);
    }
    return payload;
  }

  function notice(message) {
    const box = $("notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function colorFor(version) {
    if (!(version in state.versionColor)) {
      state.versionColor[version] = VERSION_COLORS[Object.keys(state.versionColor).length % VERSION_COLORS.length];
    }
    return state.versionColor[version];
  }

  function weightsText(weights) {
    return Object.entries(weights || {}).map(([version, w]) => `${version} ${w}%`).join(" · ");
  }

  // --- navigation -----------------------------------------------------------------------------

  function show(view) {
    for (const id of ["login-view", "list-view", "rollout-view"]) $(id).hidden = id !== view;
  }

  function navigate(path) {
    history.pushState({}, "", path);
    route();
  }

  function stopLive() {
    if (state.listTimer) { clearInterval(state.listTimer); state.listTimer = null; }
    if (state.stream) { state.stream.abort(); state.stream = null; }
  }

  async function route() {
    stopLive();
    notice("");
    if (!token()) { showLogin(); return; }
    if (!state.me) {
      try { state.me = await api("/whoami"); } catch (e) { if (e.status !== 401) notice(e.message); return; }
      $("who-name").textContent = state.me.name;
      $("who-roles").textContent = state.me.roles.join(", ");
      $("who").hidden = false;
    }
    const match = location.pathname.match(/^\/rollouts\/([a-z0-9-]+)$/);
    if (match) openRollout(match[1], new URLSearchParams(location.search).get("namespace"));
    else openList();
  }

  function showLogin(message) {
    $("who").hidden = true;
    show("login-view");
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function signOut(message) {
    stopLive();
    sessionStorage.removeItem(TOKEN_KEY);
    state.me = null;
    showLogin(message);
  }

  // --- the list -------------------------------------------------------------------------------

  async function openList() {
    show("list-view");
    document.title = "Rollouts · serinus";
    await refreshList();
    state.listTimer = setInterval(refreshList, 2000);
  }

  async function refreshList() {
    let rollouts;
    try { rollouts = await api("/rollouts"); } catch (e) { notice(e.message); return; }
    const several = new Set(rollouts.map((r) => r.namespace)).size > 1;
    const rows = rollouts.map((r) => {
      const tr = h("tr");
      const name = h("td");
      // Name the namespace only when the list spans several (one namespace: short URLs).
      const query = several ? "?namespace=" + encodeURIComponent(r.namespace) : "";
      const href = "/rollouts/" + encodeURIComponent(r.name) + query;
      const link = h("a", r.name, { href, "data-nav": "", title: "namespace " + r.namespace });
      name.appendChild(link);
      tr.append(name, h("td", r.version), h("td", r.phase || "not started"),
        h("td", r.step ? r.step.description : ""), h("td", weightsText(r.weights)));
      return tr;
    });
    $("rollout-rows").replaceChildren(...rows);
    $("list-empty").hidden = rollouts.length > 0;
  }

  // --- one rollout ----------------------------------------------------------------------------

  // A rollout's API path; the namespace (from the list's link) travels as ?namespace=.
  function rolloutPath(name, suffix) {
    const query = state.namespace ? "?namespace=" + encodeURIComponent(state.namespace) : "";
    return `/rollouts/${encodeURIComponent(name)}${suffix || ""}${query}`;
  }

  function openRollout(name, namespace) {
    show("rollout-view");
    state.name = name;
    state.namespace = namespace || null;
    state.detail = null;
    state.weights = [];
    state.versionColor = {};
    document.title = name + " · serinus";
    $("rollout-title").textContent = name;
    $("events").replaceChildren();
    $("judgement-result").textContent = "";
    $("ops-result").textContent = "";
    liveStream(name);
  }

  async function liveStream(name) {
    const controller = new AbortController();
    state.stream = controller;
    const live = $("live");
    while (state.stream === controller) {
      try {
        const response = await fetch(API + rolloutPath(name, "/events"), {
          headers: { Authorization: "Bearer " + (token() || ""), Accept: "text/event-stream" },
          signal: controller.signal,
          credentials: "omit",
          cache: "no-store",
        });
        if (response.status === 401) { signOut("your token is no longer valid"); return; }
        if (!response.ok) {
          let detail = response.statusText;
          try { detail = (await response.json()).detail; } catch (e) { /* not JSON */ }
          notice(detail);
          return;
        }
        live.textContent = "live";
        live.dataset.state = "on";
        await readStream(response.body.getReader(), handleMessage);
      } catch (e) {
        if (controller.signal.aborted) return;
      }
      live.textContent = "reconnecting…";
      live.dataset.state = "off";
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }

  async function readStream(reader, onMessage) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        if (data) onMessage(event, JSON.parse(data));
      }
    }
  }

  function handleMessage(event, data) {
    if (event === "snapshot") {
      seedWeights(data.events);
      data.events.forEach(addEvent);
      renderDetail(data.rollout, data.at);
      refreshAudit();
      refreshAnalysis();
    } else if (event === "status") {
      renderDetail(data.rollout, data.at);
      refreshAudit();
      refreshAnalysis();
    } else if (event === "events") {
      data.forEach(addEvent);
      refreshAudit();
    } else if (event === "gone") {
      notice(`rollout ${data.name} was deleted`);
    }
  }

  function seedWeights(events) {
    for (const e of events) {
      if (e.type === "WeightsChanged" && e.data && e.data.weights) {
        state.weights.push({ at: e.at, weights: e.data.weights });
      }
    }
  }

  function renderDetail(d, at) {
    state.detail = d;
    const phase = $("rollout-phase");
    phase.textContent = d.phase || "not started";
    phase.dataset.phase = d.phase || "";
    $("rollout-message").textContent = d.message;
    if (d.phase) state.weights.push({ at, weights: d.weights });
    $("weights-now").textContent = weightsText(d.weights) || "no traffic yet";
    drawWeights(at);
    renderReplicas(d.colors);
    renderSteps(d.steps);
    renderJudgement(d.judgement);
    renderOperations(d.allowedOperations);
    renderFailures(d.notificationFailures || []);
  }

  function drawWeights(now) {
    const versions = [];
    for (const sample of state.weights) for (const v of Object.keys(sample.weights)) if (!versions.includes(v)) versions.push(v);
    const series = versions.map((version) => ({
      label: version,
      color: colorFor(version),
      points: state.weights.map((s) => [s.at, s.weights[version] || 0]),
    }));
    window.SerinusChart.draw($("weights-chart"), series, {
      yMin: 0, yMax: 100, yUnit: "%", step: true, now,
      title: "Traffic share per version over time: " + weightsText(state.detail ? state.detail.weights : {}),
    });
  }

  function renderReplicas(colors) {
    $("replica-rows").replaceChildren(...colors.map((c) => {
      const tr = h("tr");
      const color = h("td");
      const swatch = h("span", null, { class: "swatch", "aria-hidden": "true" });
      swatch.style.background = colorFor(c.version);
      color.append(swatch, document.createTextNode(c.color));
      tr.append(color, h("td", c.version), h("td", c.role), h("td", c.weight + "%"),
        h("td", `${c.ready}/${c.desired}`, { "aria-label": `${c.ready} of ${c.desired} ready` }));
      return tr;
    }));
  }

  function renderSteps(steps) {
    $("steps").replaceChildren(...steps.map((s) => {
      const li = h("li", s.description, { "data-state": s.state });
      if (s.state === "current") li.setAttribute("aria-current", "step");
      return li;
    }));
    if (!steps.length) $("steps").replaceChildren(h("li", "this strategy has no steps"));
  }

  let judgementKey = null;
  let shownJudgement = null; // the decision is bound to the revision and step shown

  function renderJudgement(j) {
    const panel = $("judgement");
    if (!j) { panel.hidden = true; judgementKey = null; shownJudgement = null; return; }
    shownJudgement = j;
    panel.hidden = false;
    const key = `${state.name}:${j.step}:${j.waitingSince}`;
    if (key === judgementKey) return; // keep what the user is typing
    judgementKey = key;
    // The only HTML sink: server-side sanitized markdown (see markdown.py).
    $("judgement-instructions").innerHTML = j.instructionsHtml;
    const inputs = j.inputs.map((input, index) => {
      const id = "judgement-input-" + index;
      const wrap = h("div");
      const label = h("label", input.name + (input.required ? " (required to approve)" : ""), { for: id });
      let field;
      if (input.options.length) {
        field = h("select", null, { id });
        field.appendChild(h("option", "—", { value: "" }));
        for (const option of input.options) field.appendChild(h("option", option, { value: option }));
      } else {
        field = h("input", null, { id, type: "text", maxlength: "500" });
      }
      field.dataset.input = input.name;
      wrap.append(label, field);
      return wrap;
    });
    $("judgement-inputs").replaceChildren(...inputs);
    $("judgement-fields").disabled = !j.canJudge;
    const why = $("judgement-disabled");
    why.hidden = j.canJudge;
    why.textContent = j.canJudge ? "" : "You cannot decide this judgement: " + j.cannotJudgeReason;
    $("judgement-comment").value = "";
  }

  async function submitJudgement(event) {
    event.preventDefault();
    const approve = event.submitter ? event.submitter.value === "approve" : true;
    const inputs = {};
    for (const field of $("judgement-inputs").querySelectorAll("[data-input]")) {
      if (field.value) inputs[field.dataset.input] = field.value;
    }
    const result = $("judgement-result");
    try {
      const intent = await api(rolloutPath(state.name, "/judge"), {
        method: "POST",
        body: {
          approve, inputs, comment: $("judgement-comment").value,
          revision: shownJudgement.revision, step: shownJudgement.step,
        },
      });
      result.textContent = `${approve ? "Approval" : "Rejection"} recorded (#${intent.id}); the rollout acts on it shortly.`;
      refreshAudit();
    } catch (e) {
      result.textContent = "Not recorded: " + e.message;
    }
  }

  function renderOperations(allowed) {
    const mine = new Set(state.me ? state.me.roles : []);
    for (const button of $("ops-buttons").querySelectorAll("button[data-op]")) {
      const op = button.dataset.op;
      const ok = allowed.includes(op);
      button.disabled = !ok;
      button.title = ok ? "" : (mine.has("deployer") ? `${op} does not apply now` : "needs the deployer role");
    }
  }

  async function runOperation(op) {
    const comment = $("ops-comment").value;
    const path = op === "promote-full" ? "promote" : op;
    const body = op.startsWith("promote") ? { comment, full: op === "promote-full" } : { comment };
    const result = $("ops-result");
    try {
      const intent = await api(rolloutPath(state.name, "/" + path), { method: "POST", body });
      result.textContent = `${op} recorded (#${intent.id}).`;
      $("ops-comment").value = "";
      refreshAudit();
    } catch (e) {
      result.textContent = `${op} refused: ${e.message}`;
    }
  }

  function renderFailures(failures) {
    $("failures").hidden = failures.length === 0;
    $("failure-list").replaceChildren(...failures.map((f) =>
      h("li", `${clock(f.at)} ${f.channel} (${f.kind}), ${f.eventType}: ${f.error} after ${f.attempts} attempt(s)`)));
  }

  function addEvent(e) {
    const li = h("li", null, { "data-severity": e.severity });
    li.append(h("time", clock(e.at), { datetime: new Date(e.at * 1000).toISOString() }), document.createTextNode(e.message));
    $("events").prepend(li);
  }

  async function refreshAudit() {
    const name = state.name;
    let entries;
    try { entries = await api(rolloutPath(name, "/audit")); } catch (e) { return; }
    if (name !== state.name) return;
    $("audit-rows").replaceChildren(...entries.slice().reverse().map((a) => {
      const tr = h("tr");
      const kind = a.kind === "judge" ? `judge: ${a.approve ? "approve" : "reject"}` : a.kind;
      const inputs = Object.entries(a.inputs).map(([k, v]) => `${k}=${v}`).join(", ");
      tr.append(h("td", clock(a.at)), h("td", kind), h("td", a.actor), h("td", a.source),
        h("td", inputs), h("td", a.comment), h("td", a.outcome || "pending"));
      return tr;
    }));
  }

  // --- analysis -------------------------------------------------------------------------------

  async function refreshAnalysis() {
    const name = state.name;
    let result;
    try { result = await api(rolloutPath(name, "/analysis")); } catch (e) { return; }
    if (name !== state.name) return;
    const box = $("analysis");
    if (!result.runs.length) {
      const last = result.events[result.events.length - 1];
      box.replaceChildren(h("p", last ? last.message : "No analysis results.", { class: "muted" }));
      return;
    }
    box.replaceChildren(...result.runs.map(renderRun));
  }

  function num(value, digits) {
    return typeof value === "number" && isFinite(value) ? value.toPrecision(digits || 3) : "";
  }

  function renderRun(run) {
    const section = h("div", null, { class: "metric" });
    section.appendChild(h("h3", `${run.name || "analysis"}: ${run.phase || ""}`));
    if (run.message) section.appendChild(h("p", run.message, { class: "muted" }));
    const table = h("table", null, { class: "grid" });
    const head = h("tr");
    for (const title of ["Metric", "Outcome", "Classification", "p-value", "Last value", "✓/✗/?/!"]) head.appendChild(h("th", title, { scope: "col" }));
    table.appendChild(h("thead")).appendChild(head);
    const body = table.appendChild(h("tbody"));
    const charts = [];
    for (const m of run.metrics || []) {
      const measurements = m.measurements || [];
      const last = measurements[measurements.length - 1] || {};
      const details = last.details || {};
      const tr = h("tr");
      tr.append(h("td", m.name), h("td", m.phase), h("td", details.classification || ""),
        h("td", num(details.pValue)), h("td", (last.value || []).map((v) => num(Number(v), 4)).join(", ")),
        h("td", `${m.successful || 0}/${m.failed || 0}/${m.inconclusive || 0}/${m.error || 0}`,
          { "aria-label": `${m.successful || 0} successful, ${m.failed || 0} failed, ${m.inconclusive || 0} inconclusive, ${m.error || 0} errors` }));
      body.appendChild(tr);
      const chart = metricChart(m);
      if (chart) charts.push(chart);
    }
    section.appendChild(table);
    charts.forEach((c) => section.appendChild(c));
    return section;
  }

  function metricChart(metric) {
    const measurements = (metric.measurements || []).filter((m) => typeof m.at === "number");
    if (!measurements.length) return null;
    const series = [];
    let title, zeroLine = false;
    const pairs = {};
    for (const m of measurements) {
      for (const [key, value] of Object.entries(m.details || {})) {
        const match = key.match(/^(canary|baseline)(?!Count)(.+)$/);
        if (match && typeof value === "number") (pairs[match[1]] = pairs[match[1]] || []).push([m.at, value]);
      }
    }
    if (pairs.canary && pairs.baseline) {
      title = `${metric.name}: canary against baseline`;
      series.push({ label: "canary", color: "#15803d", points: pairs.canary }, { label: "baseline", color: "#2563eb", points: pairs.baseline });
    } else if (measurements.some((m) => m.details && typeof m.details.estimate === "number")) {
      const withEstimate = measurements.filter((m) => m.details && typeof m.details.estimate === "number");
      title = `${metric.name}: canary minus baseline (estimate with confidence interval)`;
      zeroLine = true;
      series.push({
        label: "canary − baseline",
        color: "#7c3aed",
        points: withEstimate.map((m) => [m.at, m.details.estimate]),
        band: withEstimate.filter((m) => typeof m.details.ciLow === "number" && typeof m.details.ciHigh === "number")
          .map((m) => [m.at, m.details.ciLow, m.details.ciHigh]),
      });
    } else {
      const points = measurements.filter((m) => m.value && m.value.length).map((m) => [m.at, Number(m.value[0])]).filter(([, v]) => isFinite(v));
      if (!points.length) return null;
      title = `${metric.name}: measured value`;
      series.push({ label: metric.name, points });
    }
    const box = h("div", null, { class: "chart" });
    window.SerinusChart.draw(box, series, { title, zeroLine, height: 180 });
    return box;
  }

  // --- wiring ---------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = $("token").value.trim();
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      $("token").value = "";
      try {
        state.me = await api("/whoami");
      } catch (e) {
        if (e.status !== 401) { sessionStorage.removeItem(TOKEN_KEY); showLogin(e.message); }
        return;
      }
      $("who-name").textContent = state.me.name;
      $("who-roles").textContent = state.me.roles.join(", ");
      $("who").hidden = false;
      route();
    });
    $("logout").addEventListener("click", () => signOut("signed out"));
    $("judgement-form").addEventListener("submit", submitJudgement);
    $("ops-buttons").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-op]");
      if (button && !button.disabled) runOperation(button.dataset.op);
    });
    document.body.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-nav]");
      if (link && link.origin === location.origin && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        navigate(link.pathname + link.search);
      }
    });
    window.addEventListener("popstate", route);
    route();
  });
})();
