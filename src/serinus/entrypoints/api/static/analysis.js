// serinus dashboard: the analysis panel as a report. Per metric: what is measured (query and
// provider), how it is judged (condition or the judge's thresholds), the measurements against
// the threshold, and the outcome's reason in one sentence.
"use strict";

(function () {
  const { h, number, duration } = window.SerinusUI;

  // "Failed: Failed: 1 failed ..." -> "Failed: 1 failed ...": a repeated prefix said once.
  function reason(text) {
    let out = String(text || "").trim();
    for (;;) {
      const match = out.match(/^([A-Za-z]+): \s*\1:\s*/);
      if (!match) return out;
      out = `${match[1]}: ` + out.slice(match[0].length);
    }
  }

  function withUnit(value, unit, scale) {
    const text = number(value, scale);
    return text && unit ? `${text} ${unit}` : text;
  }

  function render(result) {
    if (!result.runs.length) {
      const last = result.events[result.events.length - 1];
      return [h("p", last ? last.message : "No analysis results.", { class: "muted" })];
    }
    const specs = {};
    for (const spec of result.metrics || []) specs[spec.name] = spec;
    return result.runs.map((run) => renderRun(run, specs));
  }

  function renderRun(run, specs) {
    const section = h("section", null, { class: "run", "data-run": run.name || "" });
    const title = run.title || run.name || "analysis";
    section.appendChild(h("h3", `${title}: ${run.phase || "running"}`));
    const why = reason(run.message);
    if (why && why !== run.phase) section.appendChild(h("p", why, { class: "reason" }));
    for (const metric of run.metrics || []) section.appendChild(renderMetric(metric, specs[metric.name]));
    return section;
  }

  function renderMetric(metric, spec) {
    const box = h("div", null, { class: "metric", "data-metric": metric.name });
    const counts = `${metric.successful || 0} successful, ${metric.failed || 0} failed, ` +
      `${metric.inconclusive || 0} inconclusive, ${metric.error || 0} errors`;
    box.appendChild(h("h4", `${metric.name}: ${metric.phase || "running"}`));
    const facts = h("dl", null, { class: "facts" });
    const fact = (term, value) => { if (value) facts.append(h("dt", term), h("dd", value)); };
    if (spec) {
      fact("Query", spec.query ? `${spec.query} (${spec.provider || "no provider"})` : spec.provider);
      if (spec.judge) fact("Judge", Object.entries(spec.judge).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", "));
      fact("Succeeds when", spec.successCondition);
      fact("Fails when", spec.failureCondition);
      const every = spec.intervalSeconds ? `every ${duration(spec.intervalSeconds)}` : "once";
      fact("Measured", `${every}${spec.count ? `, ${spec.count} times` : ""}; fails after more than ${spec.failureLimit} failed`);
    }
    fact("Measurements", counts);
    const measurements = (metric.measurements || []).filter((m) => typeof m.at === "number");
    const last = measurements[measurements.length - 1];
    if (last && last.message) fact("Last", reason(last.message));
    box.appendChild(facts);
    const chart = chartOf(metric, measurements, spec);
    if (chart) box.appendChild(chart);
    return box;
  }

  function judged(measurements) {
    return measurements.filter((m) => m.details && typeof m.details.estimate === "number");
  }

  function chartOf(metric, measurements, spec) {
    const unit = spec ? spec.unit : "";
    const estimates = judged(measurements);
    if (estimates.length) {
      const band = estimates.filter((m) => typeof m.details.ciLow === "number" && typeof m.details.ciHigh === "number");
      if (estimates.length === 1) {
        const d = estimates[0].details;
        const interval = band.length ? `, interval ${withUnit(d.ciLow, unit)} to ${withUnit(d.ciHigh, unit)}` : "";
        const p = typeof d.pValue === "number" ? `, p-value ${number(d.pValue, 0.01)}` : "";
        return h("p", `Canary − baseline: estimate ${withUnit(d.estimate, unit)}${interval}${p}` +
          (d.classification ? ` (${d.classification})` : ""), { class: "single" });
      }
      return drawn(`${metric.name}: canary − baseline`, [{
        label: "estimate",
        color: "#7c3aed",
        points: estimates.map((m) => [m.at, m.details.estimate]),
        band: band.map((m) => [m.at, m.details.ciLow, m.details.ciHigh]),
        bandLabel: "interval",
      }], { zeroLine: true, unit });
    }
    const points = measurements.filter((m) => m.value && m.value.length)
      .map((m) => [m.at, Number(m.value[0])]).filter(([, v]) => isFinite(v));
    if (!points.length) return null;
    const threshold = spec && typeof spec.threshold === "number" ? spec.threshold : null;
    if (points.length === 1) {
      const against = threshold === null ? "" : ` (threshold ${withUnit(threshold, unit)})`;
      return h("p", `Measured ${withUnit(points[0][1], unit)}${against}`, { class: "single" });
    }
    const options = { unit };
    if (threshold !== null) options.threshold = { value: threshold, label: `threshold ${withUnit(threshold, unit)}` };
    return drawn(`${metric.name}: measured value`, [{ label: metric.name, color: "#0e7490", points }], options);
  }

  function drawn(title, series, options) {
    const box = h("div", null, { class: "chart" });
    box.appendChild(h("p", title + (options.unit ? ` (${options.unit})` : ""), { class: "chart-title" }));
    const plot = h("div");
    box.appendChild(plot);
    box.draw = () => window.SerinusChart.draw(plot, series, {
      title, height: 180, zeroLine: options.zeroLine, threshold: options.threshold,
    });
    return box;
  }

  window.SerinusAnalysis = { render, reason };
})();
