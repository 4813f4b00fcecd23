// Score against time as SVG: one circle per window, the trace, the threshold line and
// open alerts as shaded spans. No library: the page works offline.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const BOX = { width: 600, height: 240, left: 48, right: 14, top: 10, bottom: 26 };

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function niceRange(low, high) {
  if (!(high > low)) { const pad = Math.abs(low) * 0.1 || 1; return [low - pad, high + pad]; }
  const pad = (high - low) * 0.08;
  return [low - pad, high + pad];
}

const seconds = (t) => `${t.toFixed(1)} s`;
const clock = (t) => new Date(t * 1000).toLocaleTimeString();

// points: [{t, score, anomalous}]; alerts: [[start, end], ...] in the same unit as t;
// format: a time as a tick label.
function drawChart(svg, points, threshold, alerts = [], format = seconds) {
  svg.replaceChildren();
  const scored = points.filter((p) => p.score !== null && Number.isFinite(p.score)).sort((a, b) => a.t - b.t);
  const times = scored.map((p) => p.t);
  const values = scored.map((p) => p.score).concat(Number.isFinite(threshold) ? [threshold] : []);
  if (!values.length) {
    svg.append(svgElement("text", { x: BOX.left, y: BOX.height / 2, class: "tick" }, "no windows yet"));
    return;
  }
  const tLow = Math.min(...times), tHigh = Math.max(...times);
  const [t0, t1] = tHigh > tLow ? [tLow, tHigh] : [tLow - 1, tLow + 1];
  const [y0, y1] = niceRange(Math.min(...values), Math.max(...values));
  const plotW = BOX.width - BOX.left - BOX.right, plotH = BOX.height - BOX.top - BOX.bottom;
  const x = (t) => BOX.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => BOX.top + (1 - (v - y0) / (y1 - y0)) * plotH;
  for (const [start, end] of alerts) {
    const left = x(Math.max(start, t0)), right = x(Math.min(end, t1));
    if (right > left) svg.append(svgElement("rect", { class: "alert", x: left, y: BOX.top, width: right - left, height: plotH }));
  }
  svg.append(svgElement("line", { class: "axis", x1: BOX.left, y1: BOX.top + plotH, x2: BOX.left + plotW, y2: BOX.top + plotH }));
  svg.append(svgElement("line", { class: "axis", x1: BOX.left, y1: BOX.top, x2: BOX.left, y2: BOX.top + plotH }));
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    svg.append(svgElement("text", { class: "tick", x: BOX.left - 4, y: y(v) + 4, "text-anchor": "end" }, v.toPrecision(3)));
  }
  for (const [t, anchor] of [[t0, "start"], [t1, "end"]]) {
    svg.append(svgElement("text", { class: "tick", x: x(t), y: BOX.height - 6, "text-anchor": anchor }, format(t)));
  }
  if (Number.isFinite(threshold)) {
    svg.append(svgElement("line", { class: "threshold", x1: BOX.left, x2: BOX.left + plotW, y1: y(threshold), y2: y(threshold) }));
  }
  svg.append(svgElement("polyline", { class: "trace", points: scored.map((p) => `${x(p.t)},${y(p.score)}`).join(" ") }));
  for (const p of scored) {
    const dot = svgElement("circle", { class: p.anomalous ? "point anomaly" : "point", cx: x(p.t), cy: y(p.score), r: 3.5 });
    dot.append(svgElement("title", {}, `${format(p.t)}: ${p.score.toPrecision(6)}`));
    svg.append(dot);
  }
}
