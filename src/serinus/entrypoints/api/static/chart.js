// serinus dashboard: a tiny SVG line chart (no library). Labels go in as text nodes only.
// Drawn at the container's own width, so text keeps its size on a phone.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#15803d", "#b45309", "#7c3aed", "#0e7490", "#be123c"];
  const ui = window.SerinusUI;

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceRange(lo, hi) {
    if (!isFinite(lo) || !isFinite(hi)) return [0, 1];
    if (lo === hi) { const pad = Math.abs(lo) * 0.1 || 1; return [lo - pad, hi + pad]; }
    const pad = (hi - lo) * 0.08;
    return [lo - pad, hi + pad];
  }

  /**
   * Draw series into `container` (replacing its content).
   * series: [{label, color?, points: [[t, y], ...], band?: [[t, lo, hi], ...], bandLabel?}]
   * options: {yMin?, yMax?, yUnit?, step?, now?, title, zeroLine?, threshold?: {value, label},
   *   legend?: false when the page shows its own, log?: true when the y values (and the
   *   threshold) are log10 of the quantity: ticks at powers of ten, labelled with the quantity}
   */
  function draw(container, series, options) {
    const opts = options || {};
    const width = Math.max(280, Math.round(container.clientWidth || 640));
    const height = opts.height || 220;
    const legend = opts.legend === false ? { items: [], rows: 0 } : legendRows(series, opts, width);
    const pad = { left: 44, right: 12, top: 10, bottom: 26 + 16 * legend.rows };
    let tMin = Infinity, tMax = -Infinity, yLo = Infinity, yHi = -Infinity;
    for (const s of series) {
      for (const [t, y] of s.points) { tMin = Math.min(tMin, t); tMax = Math.max(tMax, t); yLo = Math.min(yLo, y); yHi = Math.max(yHi, y); }
      for (const [t, lo, hi] of s.band || []) { tMin = Math.min(tMin, t); tMax = Math.max(tMax, t); yLo = Math.min(yLo, lo); yHi = Math.max(yHi, hi); }
    }
    if (opts.threshold) { yLo = Math.min(yLo, opts.threshold.value); yHi = Math.max(yHi, opts.threshold.value); }
    if (opts.now !== undefined && isFinite(tMin)) tMax = Math.max(tMax, opts.now);
    if (!isFinite(tMin)) { tMin = 0; tMax = 1; }
    if (tMax - tMin < 1) tMax = tMin + 1;
    let [y0, y1] = niceRange(yLo, yHi);
    if (opts.yMin !== undefined) y0 = opts.yMin;
    if (opts.yMax !== undefined) y1 = opts.yMax;
    if (opts.zeroLine) { y0 = Math.min(y0, 0); y1 = Math.max(y1, 0); }
    // Tick labels at the axis's own precision; the left margin fits the longest (a minus too).
    let ticks, labels;
    if (opts.log) {
      [y0, y1, ticks] = decades(yLo, yHi);
      labels = ticks.map((k) => power(k) + (opts.yUnit || ""));
    } else {
      const span = Math.abs(y1 - y0);
      ticks = [0, 1, 2, 3, 4].map((i) => y0 + (y1 - y0) * i / 4);
      labels = ticks.map((v) => ui.number(v, span / 4) + (opts.yUnit || ""));
    }
    pad.left = Math.max(pad.left, 12 + 6.5 * Math.max(...labels.map((l) => l.length)));
    const x = (t) => pad.left + (t - tMin) / (tMax - tMin) * (width - pad.left - pad.right);
    const y = (v) => height - pad.bottom - (v - y0) / (y1 - y0 || 1) * (height - pad.top - pad.bottom);

    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": opts.title || "chart" });
    svg.appendChild(el("title", {}, opts.title || "chart"));
    ticks.forEach((v, i) => {
      svg.appendChild(el("line", { class: "gridline", x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
      svg.appendChild(el("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end" }, labels[i]));
    });
    if (opts.zeroLine) svg.appendChild(el("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), "stroke-dasharray": "4 3" }));
    if (opts.threshold) {
      svg.appendChild(el("line", { class: "threshold", x1: pad.left, x2: width - pad.right, y1: y(opts.threshold.value), y2: y(opts.threshold.value) }));
    }
    svg.appendChild(el("line", { class: "axis", x1: pad.left, x2: pad.left, y1: pad.top, y2: height - pad.bottom }));
    svg.appendChild(el("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: height - pad.bottom, y2: height - pad.bottom }));
    const axisY = height - pad.bottom + 15;
    svg.appendChild(el("text", { x: pad.left, y: axisY }, ui.clock(tMin)));
    svg.appendChild(el("text", { x: width - pad.right, y: axisY, "text-anchor": "end" }, ui.clock(tMax)));

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
        svg.appendChild(el("polyline", { class: "series", stroke: color, "data-label": s.label, points: coords.join(" ") }));
      }
    });
    for (const item of legend.items) {
      const top = height - 16 * (legend.rows - item.row) + 2;
      const attrs = { x: item.x, y: top - 10, width: 10, height: 10, fill: item.color, class: "legend-swatch" };
      if (item.band) attrs.opacity = 0.35;
      svg.appendChild(el("rect", attrs));
      svg.appendChild(el("text", { x: item.x + 14, y: top }, item.label));
    }
    container.replaceChildren(svg);
  }

  // A log axis from the decade below the lowest value to the one above the highest, with at
  // most 5 ticks at whole powers of ten.
  function decades(lo, hi) {
    if (!isFinite(lo) || !isFinite(hi)) { lo = 0; hi = 1; }
    const bottom = Math.floor(lo);
    let top = Math.ceil(hi);
    if (top === bottom) top += 1;
    const step = Math.max(1, Math.ceil((top - bottom) / 4));
    top = bottom + step * Math.ceil((top - bottom) / step);
    const ticks = [];
    for (let k = bottom; k <= top; k += step) ticks.push(k);
    return [bottom, top, ticks];
  }

  // 10^k as people write it: 0.01, 1, 1000 near one, 1e-6 and 1e6 beyond.
  function power(k) {
    return Math.abs(k) <= 3 ? String(Number(Math.pow(10, k).toFixed(Math.max(0, -k)))) : `1e${k}`;
  }

  // One legend entry per series (and per band), wrapped into rows that fit the width.
  function legendRows(series, opts, width) {
    const entries = [];
    series.forEach((s, index) => {
      const color = s.color || PALETTE[index % PALETTE.length];
      entries.push({ label: s.label, color });
      if (s.band && s.band.length && s.bandLabel) entries.push({ label: s.bandLabel, color, band: true });
    });
    if (opts.threshold) entries.push({ label: opts.threshold.label, color: "#b91c1c" });
    const items = [];
    let row = 0, left = 52;
    for (const entry of entries) {
      const size = 24 + 6.5 * String(entry.label).length;
      if (left + size > width - 8 && left > 52) { row += 1; left = 52; }
      items.push({ ...entry, x: left, row });
      left += size;
    }
    return { items, rows: entries.length ? row + 1 : 0 };
  }

  window.SerinusChart = { draw, PALETTE };
})();
