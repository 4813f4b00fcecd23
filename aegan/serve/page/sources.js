// The watched sources, live: a chart per source (score against time, the threshold,
// alerts shaded; the open one to now) and the recent events, from the event stream.
"use strict";

const KEPT_WINDOWS = 360;
const KEPT_EVENTS = 50;
const sources = new Map();

function sourceCard(status) {
  const card = document.createElement("article");
  card.className = "card";
  card.id = `source-${status.name}`;
  const title = document.createElement("h3");
  title.textContent = `${status.name} · ${status.model}`;
  const line = document.createElement("p");
  line.className = "muted state";
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", "0 0 600 240");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${status.name}: score against time`);
  card.append(title, line, svg);
  return card;
}

function epoch(iso) { return Date.parse(iso) / 1000; }

function redraw(name) {
  const source = sources.get(name);
  const points = [...source.windows.values()].map((w) => ({ t: epoch(w.place.end), score: w.score, anomalous: w.anomalous }));
  const now = Date.now() / 1000;
  const spans = source.alerts.map((a) => [epoch(a.start), a.end ? epoch(a.end) : now]);
  drawChart(source.card.querySelector("svg"), points, source.status.threshold, spans, clock);
  const open = source.alerts.some((a) => !a.end);
  source.card.classList.toggle("open", open);
  const last = source.status.last_score;
  source.card.querySelector(".state").textContent = `${open ? "ALERT OPEN" : source.status.state}` +
    ` · ${source.status.windows_scored} windows` + (last === null ? "" : ` · last ${last.toPrecision(4)}`) +
    ` · threshold ${source.status.threshold.toPrecision(4)}`;
}

function addWindow(name, window) {
  const source = sources.get(name);
  source.windows.set(window.seq, window);
  while (source.windows.size > KEPT_WINDOWS) source.windows.delete(source.windows.keys().next().value);
  source.status.last_score = window.score;
  source.status.windows_scored = Math.max(source.status.windows_scored, window.seq + 1);
}

function summary(event) {
  switch (event.event) {
    case "alert_opened": return `ALERT ${event.alert} opened (${event.rule}), worst ${event.worst.score.toPrecision(4)}`;
    case "alert_closed": return `alert ${event.alert} closed after ${event.windows} windows`;
    case "unusable": return `window ${event.seq} unusable: ${event.reason}`;
    case "error": return `error: ${event.message}`;
    case "dropped": return `dropped ${event.seconds.toFixed(1)} s (${event.reason})`;
    case "source_started": return `started: ${event.what}`;
    case "source_ended": return `ended (${event.reason})`;
    default: return event.event;
  }
}

function listEvent(event) {
  const list = $("events");
  const item = document.createElement("li");
  item.className = `event ${event.event}`;
  item.textContent = `${new Date(event.time).toLocaleTimeString()} ${event.source}: ${summary(event)}`;
  list.prepend(item);
  while (list.children.length > KEPT_EVENTS) list.lastChild.remove();
}

function onEvent(message) {
  const event = JSON.parse(message.data);
  const source = sources.get(event.source);
  if (!source) return;
  if (event.event === "window") addWindow(event.source, event);
  const known = source.alerts.find((a) => a.alert === event.alert);
  if (event.event === "alert_opened" && !known) source.alerts.push({ alert: event.alert, start: event.start, end: null });
  if (event.event === "alert_closed") {
    if (known) known.end = event.end; else source.alerts.push({ alert: event.alert, start: event.start, end: event.end });
  }
  if (event.event === "source_ended") source.status.state = "ended";
  if (event.event !== "window" && event.event !== "heartbeat") listEvent(event);
  redraw(event.source);
}

const EVENT_KINDS = ["window", "unusable", "alert_opened", "alert_closed", "error", "dropped", "source_started", "source_ended"];

async function startSources() {
  let data;
  try {
    data = await getJSON("/v1/sources");
  } catch (error) {
    if (error.message.endsWith(": 404")) return; // not watching a plant
    throw error;
  }
  $("sources").hidden = false;
  $("events-box").hidden = false;
  for (const status of data.sources) {
    const card = sourceCard(status);
    $("source-cards").append(card);
    sources.set(status.name, { status, card, windows: new Map(), alerts: status.alerts.slice() });
    const windows = await getJSON(`/v1/sources/${encodeURIComponent(status.name)}/windows`);
    for (const window of windows) addWindow(status.name, window);
    redraw(status.name);
  }
  // From the first event kept: the recent events are listed, and nothing is missed between
  // the requests above and the stream (windows and alerts already shown are matched by number).
  const stream = new EventSource("/v1/events?after=0");
  for (const kind of EVENT_KINDS) stream.addEventListener(kind, onEvent);
  stream.addEventListener("open", () => document.body.classList.remove("offline"));
  stream.addEventListener("error", () => document.body.classList.add("offline"));
}
