// serinus dashboard: versions that run without user traffic, under the rollout's title. The
// blue-green preview (a link to where it is reached) while it is open, and the previous version
// a rollback window keeps after completion, while Undo can still move traffic back at once.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const { h, clock } = window.SerinusUI;
  const text = (words) => document.createTextNode(words);

  function renderPreview(p) {
    const box = $("preview");
    box.hidden = !p;
    if (!p) { box.replaceChildren(); return; }
    // The URL is built by the server from the router's own settings (http, its preview port).
    const where = p.url
      ? h("a", p.url, { href: p.url, rel: "noreferrer noopener", target: "_blank" })
      : text("the router's preview entry");
    box.replaceChildren(h("strong", "Preview: "), text(`${p.version} (${p.color}) at `), where,
      text(": it takes no user traffic until it is promoted."));
  }

  function renderWindow(w) {
    const box = $("rollback-window");
    box.hidden = !w;
    if (!w) { box.replaceChildren(); return; }
    const ready = w.ready < w.replicas ? ` (${w.ready} ready)` : "";
    box.replaceChildren(h("strong", "Rollback window: "),
      text(`${w.version} kept at ${w.replicas}/${w.fullReplicas} replicas${ready} until ${clock(w.until).slice(0, 5)}`),
      h("span", "", { class: "countdown", "data-until": w.until, "data-prefix": "(closes in ", "data-due": "(closing now" }),
      text(`). Undo is instant while it is open: traffic goes back to ${w.version} without starting it again.`));
  }

  function render(d) {
    renderPreview(d.preview || null);
    renderWindow(d.rollbackWindow || null);
  }

  window.SerinusStandby = { render };
})();
