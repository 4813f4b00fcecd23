// The live page: the upload form and its timeline; the sources and their events when the
// service watches a plant (GET /v1/sources, the event stream GET /v1/events).
"use strict";

const $ = (id) => document.getElementById(id);

const LOADING_TRIES = 120;

// GET as JSON; while the service is still loading its models (503), ask again as it says.
async function getJSON(url, tries = LOADING_TRIES) {
  const answer = await fetch(url, { credentials: "same-origin" });
  if (answer.status === 503 && tries > 0) {
    setStatus("the service is loading its models…");
    await new Promise((done) => setTimeout(done, 1000 * Number(answer.headers.get("Retry-After") || 1)));
    return getJSON(url, tries - 1);
  }
  if (!answer.ok) throw new Error(`${url}: ${answer.status}`);
  return answer.json();
}

function setStatus(text, bad = false) {
  $("status").textContent = text;
  $("status").className = bad ? "error" : "muted";
}

async function loadModels() {
  const models = await getJSON("/v1/models");
  const select = $("upload-model");
  select.replaceChildren(...models.map((m) => new Option(`${m.name} (${m.machine}, ${m.score})`, m.name)));
  setStatus(`serving ${models.map((m) => m.name).join(", ")}`);
}

function describeRow(row, model) {
  const worst = row.timeline && row.timeline.worst;
  const where = worst ? ` (worst window ${worst.start.toFixed(1)}–${worst.end.toFixed(1)} s)` : "";
  return `${row.file}: ${row.decision.toUpperCase()}, ${model.score} ${row.score.toPrecision(6)}` +
    ` against threshold ${row.threshold.toPrecision(6)}${where}`;
}

async function scoreUpload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  const body = new FormData();
  body.append("file", file);
  const query = new URLSearchParams({ model: $("upload-model").value, timeline: "true" });
  const result = $("upload-result");
  $("upload-button").disabled = true;
  result.className = "result muted";
  result.textContent = `scoring ${file.name}…`;
  try {
    const answer = await fetch(`/v1/score?${query}`, { method: "POST", body, credentials: "same-origin" });
    const data = await answer.json();
    if (!answer.ok) throw new Error(data.detail + (data.hint ? ` ${data.hint}` : ""));
    const row = data.files[0];
    const windows = row.timeline.windows;
    const points = windows.map((w) => ({ t: w.start, score: w.score, anomalous: w.decision === "anomaly" }));
    drawChart($("upload-chart"), points, row.threshold);
    result.className = row.decision === "anomaly" ? "result anomaly" : "result";
    result.textContent = describeRow(row, data);
    result.dataset.windows = String(windows.length);
  } catch (error) {
    result.className = "result error";
    result.textContent = error.message;
  } finally {
    $("upload-button").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("upload-form").addEventListener("submit", scoreUpload);
  drawChart($("upload-chart"), [], NaN);
  loadModels().catch((error) => setStatus(`cannot reach the service: ${error.message}`, true));
  startSources().catch((error) => setStatus(`cannot follow the sources: ${error.message}`, true));
});
