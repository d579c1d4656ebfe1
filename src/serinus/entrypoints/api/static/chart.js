// serinus dashboard: a tiny SVG line chart (no library). Labels go in as text nodes only.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#15803d", "#b45309", "#7c3aed", "#0e7490", "#be123c"];

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clockLabel(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function niceRange(lo, hi) {
    if (!isFinite(lo) || !isFinite(hi)) return [0, 1];
    if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 1; return [lo - pad, hi + pad]; }
    const pad = (hi - lo) * 0.08;
    return [lo - pad, hi + pad];
  }

  /**
   * Draw series into `container` (replacing its content).
   * series: [{label, color?, points: [[t, y], ...], band?: [[t, lo, hi], ...]}]
   * options: {yMin?, yMax?, yUnit?, step?, now?, title, zeroLine?}
   */
  function draw(container, series, options) {
    const opts = options || {};
    const width = 640, height = opts.height || 240;
    const pad = { left: 44, right: 12, top: 10, bottom: 40 };
    let tMin = Infinity, tMax = -Infinity, yLo = Infinity, yHi = -Infinity;
    for (const s of series) {
      for (const [t, y] of s.points) { tMin = Math.min(tMin, t); tMax = Math.max(tMax, t); yLo = Math.min(yLo, y); yHi = Math.max(yHi, y); }
      for (const [t, lo, hi] of s.band || []) { tMin = Math.min(tMin, t); tMax = Math.max(tMax, t); yLo = Math.min(yLo, lo); yHi = Math.max(yHi, hi); }
    }
    if (opts.now !== undefined && isFinite(tMin)) tMax = Math.max(tMax, opts.now);
    if (!isFinite(tMin)) { tMin = 0; tMax = 1; }
    if (tMax - tMin < 1) tMax = tMin + 1;
    let [y0, y1] = niceRange(yLo, yHi);
    if (opts.yMin !== undefined) y0 = opts.yMin;
    if (opts.yMax !== undefined) y1 = opts.yMax;
    if (opts.zeroLine) { y0 = Math.min(y0, 0); y1 = Math.max(y1, 0); }
    const x = (t) => pad.left + (t - tMin) / (tMax - tMin) * (width - pad.left - pad.right);
    const y = (v) => height - pad.bottom - (v - y0) / (y1 - y0 || 1) * (height - pad.top - pad.bottom);

    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": opts.title || "chart" });
    svg.appendChild(el("title", {}, opts.title || "chart"));
    for (let i = 0; i <= 4; i++) {
      const v = y0 + (y1 - y0) * i / 4;
      svg.appendChild(el("line", { class: "gridline", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
      const span = Math.abs(y1 - y0);
      // Round to the axis's own scale so floating-point noise (1e-18) does not print as digits.
      const shown = span >= 10 ? v.toFixed(0) : Math.abs(v) < span * 1e-6 ? "0" : v.toPrecision(3);
      svg.appendChild(el("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, shown + (opts.yUnit || "")));
    }
    if (opts.zeroLine) svg.appendChild(el("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), "stroke-dasharray": "4 3" }));
    svg.appendChild(el("line", { class: "axis", x1: pad.left, x2: pad.left, y1: pad.top, y2: height - pad.bottom }));
    svg.appendChild(el("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }));
    svg.appendChild(el("text", { x: pad.left, y: height - pad.bottom + 16 }, clockLabel(tMin)));
    svg.appendChild(el("text", { x: width - pad.right, y: height - pad.bottom + 16, "text-anchor": "end" }, clockLabel(tMax)));

    let legendX = pad.left;
    series.forEach((s, index) => {
      const color = s.color || PALETTE[index % PALETTE.length];
      if (s.band && s.band.length) {
        const upper = s.band.map(([t, , hi]) => `${x(t)},${y(hi)}`);
        const lower = s.band.slice().reverse().map(([t, lo]) => `${x(t)},${y(lo)}`);
        svg.appendChild(el("polygon", { class: "band", fill: color, points: upper.concat(lower).join(" ") }));
      }
      const coords = [];
      s.points.forEach(([t, v], i) => {
        if (opts.step && i > 0) coords.push(`${x(t)},${y(s.points[i - 1][1])}`);
        coords.push(`${x(t)},${y(v)}`);
      });
      if (opts.step && s.points.length && opts.now !== undefined) {
        coords.push(`${x(tMax)},${y(s.points[s.points.length - 1][1])}`);
      }
      if (coords.length === 1) {
        const [cx, cy] = coords[0].split(",");
        svg.appendChild(el("circle", { cx, cy, r: 3, fill: color }));
      } else if (coords.length) {
        svg.appendChild(el("polyline", { class: "series", stroke: color, points: coords.join(" ") }));
      }
      svg.appendChild(el("rect", { x: legendX, y: height - 14, width: 10, height: 10, fill: color }));
      const label = el("text", { x: legendX + 14, y: height - 5 }, s.label);
      svg.appendChild(label);
      legendX += 24 + Math.min(160, 7 * String(s.label).length);
    });
    container.replaceChildren(svg);
  }

  window.SerinusChart = { draw, PALETTE };
})();
