// serinus dashboard: the operations panel. Each button is enabled only when the rollout's state,
// the caller's rights and the connection allow it; the destructive ones ask first.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);

  function render(allowed, ctx) {
    const mine = new Set(ctx.me ? ctx.me.roles : []);
    for (const button of $("ops-buttons").querySelectorAll("button[data-op]")) {
      const op = button.dataset.op;
      const ok = ctx.connected() && allowed.includes(op);
      button.disabled = !ok;
      if (!ctx.connected()) button.title = "the connection to the server is lost";
      else button.title = ok ? "" : (mine.has("deployer") ? `${op} does not apply now` : "needs the deployer role");
    }
  }

  // The destructive operations ask first, saying what will happen.
  function consequence(op, ctx) {
    const d = ctx.detail || {};
    const status = d.status || {};
    const stable = status.stable ? status.stable.version : "the stable version";
    const canary = status.canary ? status.canary.version : d.version;
    if (op === "abort") return [`Abort ${ctx.name}?`, `All traffic goes back to ${stable}; ${canary} is scaled down.`, "Abort"];
    if (op === "promote-full") return [`Promote ${canary} fully?`, `Every remaining step, judgement and analysis is skipped and ${canary} takes all traffic.`, "Promote fully"];
    return null;
  }

  async function run(op, ctx) {
    const ask = consequence(op, ctx);
    if (ask && !(await ctx.confirm(...ask))) return;
    const comment = $("ops-comment").value;
    const path = op === "promote-full" ? "promote" : op;
    const body = op.startsWith("promote") ? { comment, full: op === "promote-full" } : { comment };
    const result = $("ops-result");
    try {
      const intent = await ctx.api(ctx.rolloutPath(ctx.name, "/" + path), { method: "POST", body });
      result.textContent = `${op} recorded (#${intent.id}).`;
      $("ops-comment").value = "";
      ctx.refreshAudit();
    } catch (e) {
      result.textContent = e.status === 0 ? ctx.lost : `${op} refused: ${e.message}`;
    }
  }

  function wire(context) {
    $("ops-buttons").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-op]");
      if (button && !button.disabled) run(button.dataset.op, context());
    });
  }

  window.SerinusOperations = { render, wire };
})();
