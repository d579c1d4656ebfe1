// serinus dashboard: the small pieces every panel uses (elements, times, numbers, colours).
"use strict";

(function () {
  // Colours belong to the blue/green slots, never to the order versions were seen.
  const SLOT_COLORS = { blue: "#2563eb", green: "#15803d" };
  const OTHER_COLOR = "#6b7280";

  function h(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  const two = (n) => String(n).padStart(2, "0");

  // "2026-12-02 00:50:01 UTC" (or "+01:00"): an auditor's time, date and zone included.
  function stamp(seconds) {
    const d = new Date(seconds * 1000);
    const offset = -d.getTimezoneOffset();
    const zone = offset === 0 ? "UTC"
      : (offset > 0 ? "+" : "-") + two(Math.floor(Math.abs(offset) / 60)) + ":" + two(Math.abs(offset) % 60);
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
      `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
  }

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  }

  // "1h 02m", "3m 05s", "42s": how long, for waiting times and countdowns.
  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s >= 3600) return `${Math.floor(s / 3600)}h ${two(Math.floor(s % 3600 / 60))}m`;
    if (s >= 60) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
    return `${s}s`;
  }

  // A number at the precision its scale (an axis step, or the value itself) needs: two digits
  // of the scale, no float noise (37e-19 is 0 on a 0..1 axis).
  function number(value, scale) {
    if (typeof value !== "number" || !isFinite(value)) return "";
    const span = Math.abs(scale || value) || 1;
    if (Math.abs(value) < span * 1e-6) return "0";
    const decimals = Math.min(6, Math.max(0, 1 - Math.floor(Math.log10(span))));
    return String(Number(value.toFixed(decimals)));
  }

  function colorOf(slot) { return SLOT_COLORS[slot] || OTHER_COLOR; }

  window.SerinusUI = { h, stamp, clock, duration, number, colorOf, SLOT_COLORS };
})();
