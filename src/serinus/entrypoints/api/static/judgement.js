// serinus dashboard: the judgement panel. It says how long the gate has waited, when it times
// out and what each decision does; after a decision it says who decided and when.
"use strict";

(function () {
  const { h, stamp } = window.SerinusUI;
  const $ = (id) => document.getElementById(id);
  let shownKey = null;
  let shown = null; // the decision is bound to the revision and step shown

  function render(j, ctx) {
    const panel = $("judgement");
    if (!j) {
      shownKey = null;
      shown = null;
      renderDecided(ctx);
      return;
    }
    shown = j;
    panel.hidden = false;
    showing(true);
    $("judgement-fields").disabled = !j.canJudge || !ctx.connected();
    const key = `${ctx.name}:${j.revision}:${j.step}:${j.waitingSince}`;
    if (key === shownKey) return; // keep what the user is typing
    shownKey = key;
    // The only HTML sink: server-side sanitized markdown (see markdown.py).
    $("judgement-instructions").innerHTML = j.instructionsHtml;
    renderTiming(j);
    $("approve-effect").textContent = "Approve: " + j.approveEffect;
    $("reject-effect").textContent = "Reject: " + j.rejectEffect;
    $("judgement-inputs").replaceChildren(...j.inputs.map(inputField));
    const why = $("judgement-disabled");
    why.hidden = j.canJudge;
    why.textContent = j.canJudge ? "" : "You cannot decide this judgement: " + j.cannotJudgeReason;
    $("judgement-comment").value = "";
    $("judgement-result").textContent = "";
    ctx.tick();
  }

  // Pending: the gate's timing, instructions and form. Decided: only who decided, and when.
  function showing(pending) {
    for (const id of ["judgement-timing", "judgement-instructions", "judgement-form"]) $(id).hidden = !pending;
    $("judgement-decided").hidden = pending;
  }

  function renderTiming(j) {
    const timing = $("judgement-timing");
    const parts = [h("span", "", { "data-since": j.waitingSince, "data-prefix": "Waiting for a decision for " })];
    if (j.timeoutSeconds) {
      const then = j.onTimeout === "continue" ? "the rollout continues" : "the rollout is aborted";
      parts.push(document.createTextNode("; "));
      parts.push(h("span", "", {
        id: "judgement-countdown",
        "data-until": (j.stepStartedAt || j.waitingSince) + j.timeoutSeconds,
        "data-prefix": "times out in ",
        "data-due": "timing out now",
      }));
      parts.push(document.createTextNode(`, then ${then}.`));
    } else {
      parts.push(document.createTextNode("; no timeout."));
    }
    timing.replaceChildren(...parts);
  }

  function inputField(input, index) {
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
  }

  function decision(entry) {
    const inputs = Object.entries(entry.inputs || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    return `${entry.approve ? "Approved" : "Rejected"} by ${entry.actor} at ${stamp(entry.at)}` +
      (inputs ? ` (${inputs})` : "") + (entry.comment ? `: ${short(entry.comment)}` : ".");
  }

  // The audit keeps the whole comment; the panel quotes its start.
  function short(text) {
    return text.length > 200 ? text.slice(0, 200) + "…" : text;
  }

  // No judgement pending: the last decision on this revision stays in view.
  function renderDecided(ctx) {
    const panel = $("judgement");
    const last = ctx.lastJudge;
    const status = ctx.detail && ctx.detail.status;
    if (!last || !status || last.revision !== status.revision) { panel.hidden = true; return; }
    panel.hidden = false;
    showing(false);
    const decided = $("judgement-decided");
    decided.textContent = decision(last) + (last.outcome ? ` Outcome: ${last.outcome}.` : " The rollout acts on it shortly.");
  }

  function wire(context) {
    $("judgement-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const ctx = context();
      const j = shown;
      if (!j) return;
      const approve = event.submitter ? event.submitter.value === "approve" : true;
      if (!approve && !(await ctx.confirm("Reject this judgement?", "Reject: " + j.rejectEffect + ".", "Reject"))) return;
      const inputs = {};
      for (const field of $("judgement-inputs").querySelectorAll("[data-input]")) {
        if (field.value) inputs[field.dataset.input] = field.value;
      }
      const result = $("judgement-result");
      try {
        const entry = await ctx.api(ctx.rolloutPath(ctx.name, "/judge"), {
          method: "POST",
          body: { approve, inputs, comment: $("judgement-comment").value, revision: j.revision, step: j.step },
        });
        result.textContent = `${decision(entry)} Recorded (#${entry.id}); the rollout acts on it shortly.`;
        ctx.refreshAudit();
      } catch (e) {
        result.textContent = "Not recorded: " + e.message;
      }
    });
  }

  window.SerinusJudgement = { render, wire };
})();
