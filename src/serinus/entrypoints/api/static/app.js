// serinus dashboard. Everything coming from the API is inserted with textContent; the single
// exception is a judgement's `instructionsHtml`, which the server renders from sanitized markdown.
"use strict";

(function () {
  const TOKEN_KEY = "serinus.token";
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const { h, stamp, duration } = window.SerinusUI;
  const P = window.SerinusPanels;
  const LOST = "The connection to the server is lost: actions are disabled until it is back (retrying).";

  const state = {
    me: null,
    listTimer: null,
    ticker: null,
    stream: null, // AbortController of the live stream
    name: null,
    namespace: null,
    detail: null,
    connected: true,
    samples: [], // [{at, weights: {version: percent}}] from recorded weight changes and snapshots
    seen: new Set(), // events already listed
    started: [], // [{at, version}]: when each version's rollout began, from RolloutStarted
    lastJudge: null, // the newest judge entry of the audit
  };

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  class ApiError extends Error {
    constructor(status, detail) { super(detail); this.status = status; }
  }

  async function api(path, options) {
    const opts = options || {};
    const sent = token();
    const headers = { Accept: "application/json", Authorization: "Bearer " + (sent || "") };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, {
        method: opts.method || "GET",
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (e) {
      connection(false);
      throw new ApiError(0, "the connection to the server is lost");
    }
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = null; }
    if (!response.ok) {
      let detail = payload && typeof payload.detail === "string" ? payload.detail : response.statusText;
      const wait = Number(response.headers.get("Retry-After"));
      if (response.status === 429 && wait > 0) detail = `too many failed sign-ins: try again in ${duration(wait)}`;
      // Only the first refusal of a token signs out: the requests in flight beside it keep its words.
      if (response.status === 401 && sent && token() === sent) signOut(state.me ? `You were signed out: ${detail}` : detail);
      throw new ApiError(response.status, detail);
    }
    return payload;
  }

  function notice(message) {
    const box = $("notice");
    box.textContent = message || "";
    box.hidden = !message;
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
    if (state.ticker) { clearInterval(state.ticker); state.ticker = null; }
    if (state.stream) { state.stream.abort(); state.stream = null; }
  }

  function showUser(me) {
    $("who-name").textContent = me.name;
    $("who-roles").textContent = me.roles.length ? `(${me.roles.join(", ")})` : "";
    $("who").hidden = false;
  }

  async function route() {
    stopLive();
    notice("");
    if (!token()) { showLogin(); return; }
    if (!state.me) {
      try { state.me = await api("/whoami"); } catch (e) { if (e.status !== 401) notice(e.message); return; }
      showUser(state.me);
    }
    const match = location.pathname.match(/^\/rollouts\/([a-z0-9-]+)$/);
    if (match) openRollout(match[1], new URLSearchParams(location.search).get("namespace"));
    else openList();
  }

  function showLogin(message) {
    notice("");
    $("who").hidden = true;
    $("who-name").textContent = "";
    $("who-roles").textContent = "";
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
    try { rollouts = await api("/rollouts"); } catch (e) { notice(e.status === 0 ? LOST : e.message); return; }
    notice("");
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
        h("td", r.step ? r.step.description : ""), h("td", P.weightsText(r.weights)));
      return tr;
    });
    $("rollout-rows").replaceChildren(...rows);
    $("list-empty").hidden = rollouts.length > 0;
  }

  // --- one rollout: the live stream -----------------------------------------------------------

  // A rollout's API path; the namespace (from the list's link) travels as ?namespace=.
  function rolloutPath(name, suffix) {
    const query = state.namespace ? "?namespace=" + encodeURIComponent(state.namespace) : "";
    return `/rollouts/${encodeURIComponent(name)}${suffix || ""}${query}`;
  }

  function openRollout(name, namespace) {
    show("rollout-view");
    Object.assign(state, {
      name, namespace: namespace || null, detail: null, samples: [], seen: new Set(), started: [],
      lastJudge: null, connected: true,
    });
    document.title = name + " · serinus";
    $("rollout-title").textContent = name;
    $("events").replaceChildren();
    $("audit-rows").replaceChildren();
    $("judgement").hidden = true;
    $("judgement-result").textContent = "";
    $("ops-result").textContent = "";
    disableActions();
    state.ticker = setInterval(P.tick, 1000);
    liveStream(name);
  }

  function disableActions() {
    for (const button of $("ops-buttons").querySelectorAll("button[data-op]")) button.disabled = true;
    $("judgement-fields").disabled = true;
  }

  // The connection's state decides before the rollout's: no action is offered while it is lost.
  function connection(ok) {
    if (ok === state.connected) return;
    state.connected = ok;
    const live = $("live");
    live.textContent = ok ? "live" : "connection lost";
    live.dataset.state = ok ? "on" : "off";
    if (ok) {
      notice("");
      if (state.detail) renderDetail(state.detail);
    } else {
      disableActions();
      notice(LOST);
    }
  }

  async function liveStream(name) {
    const controller = new AbortController();
    state.stream = controller;
    while (state.stream === controller) {
      try {
        const response = await fetch(API + rolloutPath(name, "/events"), {
          headers: { Authorization: "Bearer " + (token() || ""), Accept: "text/event-stream" },
          signal: controller.signal,
          credentials: "omit",
          cache: "no-store",
        });
        if (response.status === 401) { signOut("You were signed out: " + await detailOf(response)); return; }
        if (response.status === 404) { unknownRollout(name); return; }
        if (!response.ok) { notice(await detailOf(response)); return; }
        state.connected = false; // so that connection(true) re-renders and clears the notice
        connection(true);
        await readStream(response.body.getReader(), handleMessage);
      } catch (e) {
        if (controller.signal.aborted) return;
        if (!(e instanceof TypeError)) console.error("live stream:", e); // a bug, not the network
      }
      connection(false);
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }

  async function detailOf(response) {
    try { return (await response.json()).detail || response.statusText; } catch (e) { return response.statusText; }
  }

  function unknownRollout(name) {
    disableActions();
    const phase = $("rollout-phase");
    phase.textContent = "not found";
    phase.dataset.phase = "";
    $("live").textContent = "";
    notice(`There is no rollout named ${name}` + (state.namespace ? ` in namespace ${state.namespace}.` : "."));
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
      data.events.forEach(addEvent);
      sample(data.rollout, data.at);
      renderDetail(data.rollout);
      refreshAudit();
      refreshAnalysis();
    } else if (event === "status") {
      sample(data.rollout, data.at);
      renderDetail(data.rollout);
      refreshAudit();
      refreshAnalysis();
    } else if (event === "events") {
      data.forEach(addEvent);
      drawWeights();
      refreshAudit();
    } else if (event === "signed-out") {
      signOut("You were signed out: " + data.detail); // the token expired or was revoked
    } else if (event === "gone") {
      notice(`rollout ${data.name} was deleted`);
      disableActions();
    }
  }

  function sample(d, at) {
    if (d.phase && typeof at === "number") state.samples.push({ at, weights: d.weights });
  }

  function drawWeights() {
    if (state.detail) P.drawWeights(state.samples, state.detail);
  }

  // --- the detail -----------------------------------------------------------------------------

  function renderDetail(d) {
    state.detail = d;
    const phase = $("rollout-phase");
    phase.textContent = d.phase || "not started";
    phase.dataset.phase = d.phase || "";
    $("rollout-message").textContent = d.message;
    $("weights-now").textContent = P.weightsText(d.weights) || "no traffic yet";
    drawWeights();
    P.renderReplicas(d.colors);
    P.renderSteps(d.steps);
    window.SerinusStandby.render(d);
    window.SerinusJudgement.render(d.judgement, pageContext());
    window.SerinusOperations.render(d.allowedOperations, pageContext());
    renderFailures(d.notificationFailures || []);
  }

  // What the panels (judgement.js, operations.js) may use of the page's state and helpers.
  function pageContext() {
    return {
      api, rolloutPath, confirm: window.SerinusConfirm.ask, connected: () => state.connected,
      name: state.name, detail: state.detail, lastJudge: state.lastJudge, refreshAudit, tick: P.tick,
      me: state.me, lost: LOST,
    };
  }

  // --- notification failures ----------------------------------------------------------------

  function renderFailures(failures) {
    $("failures").hidden = failures.length === 0;
    $("failure-list").replaceChildren(...failures.map((f) =>
      h("li", `${stamp(f.at)} ${f.channel} (${f.kind}), ${f.eventType}: ${f.error} after ${f.attempts} attempt(s)`)));
  }

  // --- events, audit, analysis ----------------------------------------------------------------

  function addEvent(e) {
    const key = `${e.at}|${e.type}|${e.message}`;
    if (state.seen.has(key)) return; // a reconnect's snapshot repeats what is listed
    state.seen.add(key);
    if (e.type === "RolloutStarted" && e.data && e.data.version) {
      state.started.push({ at: e.at, version: e.data.version });
      state.started.sort((x, y) => x.at - y.at);
    }
    const weights = P.weightsOf(e);
    if (weights) state.samples.push({ at: e.at, weights });
    const li = h("li", null, { "data-severity": e.severity });
    li.append(h("time", stamp(e.at), { datetime: new Date(e.at * 1000).toISOString() }), document.createTextNode(e.message));
    $("events").prepend(li);
  }

  async function refreshAudit() {
    const name = state.name;
    let entries;
    try { entries = await api(rolloutPath(name, "/audit")); } catch (e) { return; }
    if (name !== state.name) return;
    const judged = entries.filter((a) => a.kind === "judge");
    state.lastJudge = judged.length ? judged[judged.length - 1] : null;
    $("audit-rows").replaceChildren(...P.auditRows(entries, state.started));
    if (state.detail) window.SerinusJudgement.render(state.detail.judgement, pageContext());
  }

  async function refreshAnalysis() {
    const name = state.name;
    let result;
    try { result = await api(rolloutPath(name, "/analysis")); } catch (e) { return; }
    if (name !== state.name) return;
    $("analysis").replaceChildren(...window.SerinusAnalysis.render(result));
    drawAnalysisCharts();
  }

  function drawAnalysisCharts() {
    for (const box of $("analysis").querySelectorAll(".chart")) if (box.draw) box.draw();
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
      showUser(state.me);
      route();
    });
    $("logout").addEventListener("click", () => signOut("signed out"));
    document.body.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-nav]");
      if (link && link.origin === location.origin && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        navigate(link.pathname + link.search);
      }
    });
    let pending = false;
    window.addEventListener("resize", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; drawWeights(); drawAnalysisCharts(); });
    });
    window.SerinusJudgement.wire(pageContext);
    window.SerinusOperations.wire(pageContext);
    window.addEventListener("popstate", route);
    route();
  });
})();
