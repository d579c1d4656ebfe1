// serinus dashboard: the analysis panel as a report. Per metric: what is measured (query and
// provider), how it is judged (condition or the judge's thresholds), the measurements against
// the threshold, and the outcome's reason in one sentence. A sequential metric: its evidence
// against 1/alpha (log scale) and the canary's requests against minSamples.
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
      const sequential = spec.judge && spec.judge.kind === "sequential" ? spec.judge : null;
      if (sequential) {
        fact("Judge", `sequential test, alpha ${sequential.alpha}, minSamples ${sequential.minSamples}`);
        fact("Fails when", `the evidence that the canary's ${sequential.counts === "slow" ? "slow requests" : "errors"} ` +
          `are above the baseline's reaches 1/alpha = ${number(sequential.boundary)}`);
        fact("Succeeds when", `the looks end with at least minSamples ${sequential.minSamples} canary requests`);
      } else {
        if (spec.judge) fact("Judge", Object.entries(spec.judge).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", "));
        fact("Succeeds when", spec.successCondition);
        fact("Fails when", spec.failureCondition);
      }
      const every = spec.intervalSeconds ? `every ${duration(spec.intervalSeconds)}` : "once";
      const limit = sequential ? "" : `; fails after more than ${spec.failureLimit} failed`;
      fact("Measured", `${every}${spec.count ? `, ${spec.count} times` : ""}${limit}`);
    }
    fact("Measurements", counts);
    const measurements = (metric.measurements || []).filter((m) => typeof m.at === "number");
    const last = measurements[measurements.length - 1];
    // a sequential look's sentence below says what its message says
    const counted = last && looks([last]).length;
    if (last && last.message && !counted) fact("Last", reason(last.message));
    box.appendChild(facts);
    const chart = chartOf(metric, measurements, spec);
    if (chart) box.appendChild(chart);
    return box;
  }

  function judged(measurements) {
    return measurements.filter((m) => m.details && typeof m.details.estimate === "number");
  }

  // A sequential metric's counted looks: each carries its evidence and the boundary, 1/alpha.
  function looks(measurements) {
    return measurements.filter((m) => m.details && typeof m.details.evidence === "number" &&
      typeof m.details.boundary === "number");
  }

  // log10 of the evidence: from logEvidence when there is one (exp of a very small one is 0).
  function log10Evidence(d) {
    return typeof d.logEvidence === "number" ? d.logEvidence / Math.LN10 : Math.log10(d.evidence);
  }

  // As the looks' own messages say it: 2.50%.
  function percent(ratio) {
    return typeof ratio === "number" ? `${(ratio * 100).toFixed(2)}%` : "none yet";
  }

  // One sentence: where the evidence stands, and why it passes, fails or goes on.
  function lookSentence(last) {
    const d = last.details;
    const bad = d.counts === "slow" ? "slow" : "errors";
    const ratios = `canary ${bad} ${percent(d.canaryRatio)} of ${number(d.canaryRequests, 1)} requests, ` +
      `baseline ${percent(d.baselineRatio)} of ${number(d.baselineRequests, 1)}`;
    const evidence = String(Number(d.evidence.toPrecision(3)));
    const boundary = number(d.boundary);
    if (last.phase === "Failed") {
      return `Evidence ${evidence} reached 1/alpha = ${boundary}: ${ratios}.`;
    }
    const samples = d.canaryRequests >= d.minSamples
      ? `minSamples ${number(d.minSamples)} reached, so it passes when its looks end`
      : `${number(d.canaryRequests, 1)} of minSamples ${number(d.minSamples)} canary requests, too few to pass yet`;
    return `Evidence ${evidence}, below 1/alpha = ${boundary} (${ratios}); ${samples}.`;
  }

  // An axis top above `value` whose quarters are round: 4 steps of 1, 1.5, 2, 2.5, 3, 4, 5, 6
  // or 8 times a power of ten (216 -> 240: ticks 0, 60, 120, 180, 240).
  function roundAbove(value) {
    const raw = Math.max(value, 1) * 1.1 / 4;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((f) => f * power >= raw) * power;
    return 4 * step;
  }

  function sequentialCharts(metric, counted) {
    const box = h("div", null, { class: "sequential" });
    const last = counted[counted.length - 1];
    box.appendChild(h("p", lookSentence(last), { class: "single look" }));
    if (counted.length < 2) return box;
    const d = last.details;
    box.appendChild(drawn(`${metric.name}: evidence (log scale)`, [{
      label: "evidence", color: "#7c3aed", points: counted.map((m) => [m.at, log10Evidence(m.details)]),
    }], { log: true, threshold: {
      value: Math.log10(d.boundary), label: `fails when evidence reaches 1/alpha = ${number(d.boundary)}`,
    } }));
    const requests = counted.filter((m) => typeof m.details.canaryRequests === "number");
    if (requests.length && typeof d.minSamples === "number") {
      box.appendChild(drawn(`${metric.name}: canary requests`, [{
        label: "canary requests", color: "#0e7490", points: requests.map((m) => [m.at, m.details.canaryRequests]),
      }], {
        threshold: { value: d.minSamples, label: `minSamples ${number(d.minSamples)}` },
        yMin: 0, yMax: roundAbove(Math.max(d.minSamples, ...requests.map((m) => m.details.canaryRequests))),
      }));
    }
    return box;
  }

  function chartOf(metric, measurements, spec) {
    const counted = looks(measurements);
    if (counted.length) return sequentialCharts(metric, counted);
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
      title, height: 180, zeroLine: options.zeroLine, threshold: options.threshold, log: options.log,
      yMin: options.yMin, yMax: options.yMax,
    });
    return box;
  }

  window.SerinusAnalysis = { render, reason };
})();
