// The dashboard's behaviour: JSON-RPC through `POST /rpc`, live updates from `GET /events`.
//
// The page exposes the stream's state on <body> for tests and tools: `data-last-seq` (the last seq
// received), `data-event-count`, `data-gaps` (times a seq was not the previous + 1) and
// `data-stream` (`connecting`, `live`, `reconnecting`, `closed`).
"use strict";
(() => {
const $ = (selector, root = document) => root.querySelector(selector);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
};
const TERMINAL = new Set(["success", "partial_success", "failed", "cancelled", "skipped"]);

// ---- JSON-RPC over POST /rpc ------------------------------------------------------------
class RPCError extends Error {
  constructor(error) { super(error.message); this.code = error.code; this.data = error.data; }
}
let nextId = 1;
async function rpc(method, params = {}) {
  const response = await fetch("/rpc", {
    method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }),
  });
  if (!response.ok) throw new Error(`${method}: HTTP ${response.status} ${(await response.text()).trim()}`);
  const answer = await response.json();
  if (answer.error) throw new RPCError(answer.error);
  return answer.result;
}
function notice(message) {
  const box = $("#notice");
  box.textContent = message || "";
  box.hidden = !message;
}
async function act(label, fn) {
  try { notice(""); return await fn(); }
  catch (error) { notice(`${label} failed: ${error.message}`); }
}

// ---- What this kernel can do ------------------------------------------------------------
const has = new Set();
async function discover() {
  try {
    const doc = await rpc("rpc.discover");
    for (const method of doc.methods || []) has.add(method.name);
  } catch (_) { /* an old kernel: assume the basic methods only */ }
}

// ---- Progress: phase, current/total, rate, ETA -------------------------------------------
const samples = new Map(); // job id -> {t0, c0, t, c}
function sample(id, progress) {
  if (!progress || typeof progress.current !== "number") return;
  const now = performance.now();
  const s = samples.get(id);
  if (!s || progress.current < s.c) samples.set(id, { t0: now, c0: progress.current, t: now, c: progress.current });
  else { s.t = now; s.c = progress.current; }
}
function duration(seconds) {
  if (!isFinite(seconds)) return "";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.round((seconds % 3600) / 60)).padStart(2, "0")}m`;
}
function progressCell(job) {
  const p = job.progress || {};
  const cell = el("div", { class: "progress-cell" });
  const bar = el("progress", { max: 100, "aria-label": `Progress of job ${job.id}` });
  let percent = typeof p.percent === "number" ? p.percent
    : (typeof p.current === "number" && p.total) ? 100 * p.current / p.total : null;
  if (job.status === "success") percent = 100;
  if (percent !== null) bar.value = Math.max(0, Math.min(100, percent));
  else if (job.status !== "running") bar.value = 0;
  const parts = [];
  if (p.phase) parts.push(p.phase);
  if (typeof p.current === "number") parts.push(p.total ? `${p.current}/${p.total}` : `${p.current}`);
  if (percent !== null) parts.push(`${percent.toFixed(percent < 10 ? 1 : 0)}%`);
  const s = samples.get(job.id);
  if (job.status === "running" && s && s.t - s.t0 > 500 && s.c > s.c0) {
    const rate = (s.c - s.c0) / ((s.t - s.t0) / 1000);
    parts.push(`${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s`);
    if (p.total) parts.push(`ETA ${duration((p.total - p.current) / rate)}`);
  }
  if (p.message) parts.push(p.message);
  cell.append(bar, el("span", { class: "progress-text", text: parts.join(" · ") || (job.status === "running" ? "running" : "") }));
  cell.dataset.percent = percent === null ? "" : String(percent);
  cell.dataset.current = typeof p.current === "number" ? String(p.current) : "";
  return cell;
}
const statusBadge = (status) => el("span", { class: `status ${status}`, text: status });
const when = (ts) => ts ? new Date(ts).toLocaleString() : "–";

// ---- Actions -----------------------------------------------------------------------------
function actionButtons(job, after) {
  const buttons = [];
  if (!TERMINAL.has(job.status)) {
    buttons.push(el("button", { type: "button", class: "danger", "data-action": "cancel", text: "Cancel",
      "aria-label": `Cancel job ${job.id}`, disabled: job.cancel_requested,
      onclick: () => act("Cancel", async () => { apply(await rpc("cancel", { id: job.id })); after && after(); }) }));
  }
  if (["failed", "cancelled", "partial_success"].includes(job.status)) {
    buttons.push(el("button", { type: "button", "data-action": "retry", text: "Retry", "aria-label": `Retry job ${job.id}`,
      onclick: () => act("Retry", async () => { apply(await rpc("retry", { id: job.id })); after && after(); }) }));
  }
  if (TERMINAL.has(job.status) && has.has("remove")) {
    buttons.push(el("button", { type: "button", class: "danger", "data-action": "remove", text: "Remove",
      "aria-label": `Remove job ${job.id}`,
      onclick: () => act("Remove", async () => {
        if (!confirm(`Remove job ${job.id} with its items and log?`)) return;
        await rpc("remove", { ids: [job.id] });
        jobs.delete(job.id);
        if (route.view === "job") location.hash = "#/"; else loadJobs();
      }) }));
  }
  return buttons;
}

// ---- The jobs table ----------------------------------------------------------------------
const jobs = new Map(); // id -> latest job object seen
const listState = { cursors: [null], page: 0, next: null, filters: {} };
// Answers and events travel on different connections, so an older view of a job (a `list` or a
// `cancel` answer) can arrive after a newer one (the event of its end): the later `updated_at`
// wins, and at the same millisecond a finished job is not shown running again.
function fresher(incoming, known) {
  if (!known) return true;
  if (incoming.updated_at !== known.updated_at) return incoming.updated_at > known.updated_at;
  return !(TERMINAL.has(known.status) && !TERMINAL.has(incoming.status));
}
function newest(job) {
  const known = jobs.get(job.id);
  if (fresher(job, known)) { jobs.set(job.id, job); return job; }
  return known;
}
function apply(incoming) {
  if (!incoming || !incoming.id) return;
  const job = newest(incoming);
  sample(job.id, job.progress);
  renderJobRow(job);
  if (route.view === "job" && route.id === job.id) renderJob(job);
  if (route.view === "job" && job.parent_id === route.id) renderChildRow(job);
  if (job.type) knownTypes.add(job.type);
}
function jobRow(job) {
  return el("tr", { "data-job-id": job.id, "data-status": job.status, "data-cancel": String(!!job.cancel_requested) },
    el("td", {}, el("a", { href: `#/job/${job.id}`, text: job.id })),
    el("td", { text: job.type }),
    el("td", { text: job.dispatch_mode }),
    el("td", {}, statusBadge(job.status)),
    el("td", { class: "wide" }, progressCell(job)),
    el("td", { text: when(job.created_at) }),
    el("td", {}, el("div", { class: "actions" }, ...actionButtons(job))));
}
function replaceRow(row, fresh) {
  // Keep keyboard focus on the same control when a live update redraws the row.
  const focused = row.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  row.replaceWith(fresh);
  if (focused) { const again = fresh.querySelector(`[data-action="${focused}"]`); if (again) again.focus(); }
}
function renderJobRow(job) {
  const row = document.querySelector(`#jobs tbody tr[data-job-id="${job.id}"]`);
  if (!row) return;
  // Progress alone redraws only its cell, so a button is never swapped under a click.
  if (row.dataset.status === job.status && row.dataset.cancel === String(!!job.cancel_requested)) {
    row.querySelector(".progress-cell").replaceWith(progressCell(job));
  } else replaceRow(row, jobRow(job));
}
function filtersFromForm() {
  const form = $("#filters");
  const filters = {};
  for (const name of ["status", "type", "dispatch_mode", "parent_id"]) {
    const value = form.elements[name].value.trim();
    if (value) filters[name] = value;
  }
  return filters;
}
function matches(job, filters) {
  return Object.entries(filters).every(([key, value]) => String(job[key] ?? "") === value);
}
let loading = null;
async function loadJobs() {
  const params = { ...listState.filters, limit: Number($("#f-limit").value) };
  const cursor = listState.cursors[listState.page];
  if (cursor) params.cursor = cursor;
  const token = Symbol();
  loading = token;
  const result = await act("Loading jobs", () => rpc("list", params));
  if (!result || loading !== token) return;
  const body = $("#jobs tbody");
  body.replaceChildren(...result.jobs.map((listed) => { const job = newest(listed); sample(job.id, job.progress); knownTypes.add(job.type); return jobRow(job); }));
  $("#jobs-empty").hidden = result.jobs.length > 0;
  listState.next = result.next_cursor;
  $("#page-older").disabled = !result.next_cursor;
  $("#page-newer").disabled = listState.page === 0;
  $("#page-label").textContent = `page ${listState.page + 1}`;
  refreshTypeNames();
}
let reloadTimer = null;
function reloadSoon() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => { reloadTimer = null; if (route.view === "jobs") loadJobs(); }, 400);
}

// ---- The job page ------------------------------------------------------------------------
// While the log so far loads, live lines wait in `liveLog`; then those after the last loaded line
// follow, so a line shows once whatever the order the two arrive in.
const jobPage = { id: null, logSince: null, loadingLog: false, liveLog: [], itemsNext: null, itemsSupported: false };
function renderJob(job) {
  $("#job-title").textContent = `Job ${job.id} · ${job.type}`;
  const fields = [
    ["Status", statusBadge(job.status)], ["Type", job.type], ["Dispatch mode", job.dispatch_mode],
    ["Priority", `${job.priority} (${job.lane} lane)`], ["Attempt", `${job.attempt} of ${job.max_attempts}`],
    ["Parent", job.parent_id ? el("a", { href: `#/job/${job.parent_id}`, text: job.parent_id }) : "–"],
    ["Created by", job.created_by], ["Created", when(job.created_at)], ["Started", when(job.started_at)],
    ["Finished", when(job.finished_at)],
  ];
  if (job.cancel_requested && !TERMINAL.has(job.status)) fields.push(["Cancel", "requested"]);
  if (job.items) fields.push(["Items", Object.entries(job.items).map(([k, v]) => `${k} ${v}`).join(", ")]);
  $("#job-fields").replaceChildren(...fields.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)]));
  $("#job-fields").dataset.status = job.status;
  $("#job-progress").replaceWith(Object.assign(progressCell(job), { id: "job-progress" }));
  const actions = $("#job-actions");
  const actionsKey = `${job.id}/${job.status}/${!!job.cancel_requested}`;
  if (actions.dataset.key !== actionsKey) { actions.dataset.key = actionsKey; actions.replaceChildren(...actionButtons(job)); }
  $("#job-error-section").hidden = !job.error;
  $("#job-error").textContent = job.error ? JSON.stringify(job.error, null, 2) : "";
  $("#job-result-section").hidden = job.result === null || job.result === undefined;
  $("#job-result").textContent = job.result === null || job.result === undefined ? "" : JSON.stringify(job.result, null, 2);
}
function appendLog(line) {
  const log = $("#job-log");
  const stick = $("#log-follow").checked;
  const text = `${line.ts ? new Date(line.ts).toLocaleTimeString() + " " : ""}${line.level && line.level !== "info" ? line.level.toUpperCase() + " " : ""}${line.message}\n`;
  log.append(el("span", { class: line.level || "info", text }));
  if (stick) log.scrollTop = log.scrollHeight;
}
function liveLogLine(line) {
  if (jobPage.logSince !== null && line.seq <= jobPage.logSince) return;
  appendLog(line);
  jobPage.logSince = line.seq;
}
async function openJob(id) {
  jobPage.id = id; jobPage.logSince = null; jobPage.itemsNext = null; jobPage.loadingLog = true; jobPage.liveLog = [];
  $("#job-log").replaceChildren();
  $("#job-items tbody").replaceChildren();
  $("#job-children tbody").replaceChildren();
  const job = await act("Loading the job", () => rpc("get", { id }));
  if (!job || jobPage.id !== id) return;
  apply(job);
  // The log so far, page by page; live lines arrive as job.log events.
  for (let page = 0; page < 50; page++) {
    const params = { id, limit: 500 };
    if (jobPage.logSince !== null) params.since = jobPage.logSince;
    const logs = await act("Loading the log", () => rpc("logs", params));
    if (jobPage.id !== id) return;
    if (!logs) break;
    for (const line of logs.lines) { appendLog(line); jobPage.logSince = line.seq; }
    if (logs.next === null || logs.next === undefined) break;
    jobPage.logSince = logs.next;
  }
  jobPage.loadingLog = false;
  for (const line of jobPage.liveLog) liveLogLine(line);
  jobPage.liveLog = [];
  loadItems(id, true);
  const children = await act("Loading children", () => rpc("list", { parent_id: id, limit: 200 }));
  if (children && jobPage.id === id) {
    $("#job-children-section").hidden = children.jobs.length === 0;
    for (const child of children.jobs) renderChildRow(newest(child));
  }
}
function renderChildRow(job) {
  const row = el("tr", { "data-job-id": job.id },
    el("td", {}, el("a", { href: `#/job/${job.id}`, text: job.id })), el("td", { text: job.type }),
    el("td", {}, statusBadge(job.status)), el("td", { class: "wide" }, progressCell(job)));
  const old = document.querySelector(`#job-children tbody tr[data-job-id="${job.id}"]`);
  if (old) old.replaceWith(row); else $("#job-children tbody").append(row);
  $("#job-children-section").hidden = false;
}
async function loadItems(id, first) {
  // `items` is newer than the kernels some gateways talk to: without it, the section stays hidden.
  const params = { id, limit: 200 };
  if (!first && jobPage.itemsNext !== null) params.since = jobPage.itemsNext;
  let result;
  try { result = await rpc("items", params); }
  catch (error) {
    if (error.code === -32601) { jobPage.itemsSupported = false; $("#job-items-section").hidden = true; return; }
    notice(`Loading items failed: ${error.message}`); return;
  }
  if (jobPage.id !== id) return;
  jobPage.itemsSupported = true;
  for (const item of result.items) renderItem(item);
  $("#job-items-section").hidden = $("#job-items tbody").children.length === 0;
  jobPage.itemsNext = result.next;
  $("#items-more").hidden = result.next === null || result.next === undefined;
}
function renderItem(item) {
  const outcome = item.error ? JSON.stringify(item.error) : (item.result === undefined || item.result === null ? "" : JSON.stringify(item.result));
  const row = el("tr", { "data-index": item.index },
    el("td", { text: item.index }), el("td", {}, statusBadge(item.status)), el("td", { text: item.attempt ?? "" }),
    el("td", { text: item.value === undefined ? "" : JSON.stringify(item.value).slice(0, 120) }),
    el("td", { text: outcome.slice(0, 200) }));
  const old = document.querySelector(`#job-items tbody tr[data-index="${item.index}"]`);
  if (old) old.replaceWith(row); else $("#job-items tbody").append(row);
}

// ---- Types: depth and throughput charts, pause/resume ------------------------------------
const knownTypes = new Set();
const typeSeries = new Map(); // type -> {depth: [], rate: [], finished: 0}
const paused = new Set();
let pausedAll = false;
function refreshTypeNames() {
  $("#type-names").replaceChildren(...[...knownTypes].sort().map((t) => el("option", { value: t })));
}
function series(type) {
  if (!typeSeries.has(type)) typeSeries.set(type, { depth: [], rate: [], finished: 0 });
  return typeSeries.get(type);
}
function chart(values, kind, label) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", `chart ${kind}`);
  svg.setAttribute("viewBox", "0 0 120 40");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const max = Math.max(1, ...values);
  const base = document.createElementNS(ns, "line");
  base.setAttribute("x1", "0"); base.setAttribute("x2", "120"); base.setAttribute("y1", "39"); base.setAttribute("y2", "39");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", values.map((v, i) => `${(i * 120 / 59).toFixed(1)},${(38 - 36 * v / max).toFixed(1)}`).join(" "));
  svg.append(base, line);
  return svg;
}
let lastStats = null;
async function sampleStats() {
  const stats = await rpc("stats").catch(() => null);
  if (!stats) return;
  lastStats = stats;
  const perType = stats.types || {};
  for (const type of Object.keys(perType)) knownTypes.add(type);
  for (const type of knownTypes) {
    const s = series(type);
    const t = perType[type];
    let depth = 0;
    if (t) depth = (t.pending || 0) + (t.scheduled || 0);
    else depth = [...jobs.values()].filter((j) => j.type === type && (j.status === "pending" || j.status === "scheduled")).length;
    s.depth.push(depth);
    s.rate.push(s.finished / 2);
    s.finished = 0;
    if (s.depth.length > 60) s.depth.shift();
    if (s.rate.length > 60) s.rate.shift();
    s.info = t;
  }
  if (route.view === "types") renderTypes();
}
async function loadPaused() {
  if (!has.has("pause")) return;
  const settings = await rpc("settings.get").catch(() => ({}));
  paused.clear();
  pausedAll = false;
  for (const [key, value] of Object.entries(settings)) {
    if (key === "paused.*") pausedAll = value === true;
    else if (key.startsWith("paused.") && value === true) paused.add(key.slice(7));
  }
}
function renderTypes() {
  const canPause = has.has("pause") && has.has("resume");
  $("#pause-all").hidden = !canPause || pausedAll;
  $("#resume-all").hidden = !canPause || !pausedAll;
  const cards = [...knownTypes].sort().map((type) => {
    const s = series(type);
    const depth = s.depth.at(-1) ?? 0, rate = s.rate.at(-1) ?? 0;
    const isPaused = pausedAll || paused.has(type);
    const figures = [`depth ${depth}`, `${rate.toFixed(1)} finished/s`];
    if (s.info) figures.push(`running ${s.info.running ?? 0}`, `ok/1m ${s.info.success_1m ?? 0}`, `failed/1m ${s.info.failed_1m ?? 0}`);
    return el("article", { class: "card", "data-type": type },
      el("h3", {}, el("span", { text: type }), isPaused ? el("span", { class: "paused", text: "paused" }) : null),
      el("p", { class: "figures", text: figures.join(" · ") }),
      el("figure", {}, chart(s.depth, "depth", `Queue depth of ${type}, now ${depth}`), el("figcaption", { text: "queue depth" })),
      el("figure", {}, chart(s.rate, "throughput", `Throughput of ${type}, now ${rate.toFixed(1)} per second`),
        el("figcaption", { text: "finished per second" })),
      canPause ? el("button", { type: "button", text: isPaused ? "Resume" : "Pause", "aria-label": `${isPaused ? "Resume" : "Pause"} ${type}`,
        onclick: () => act(isPaused ? "Resume" : "Pause", async () => { await rpc(isPaused ? "resume" : "pause", { type }); await loadPaused(); renderTypes(); }) }) : null);
  });
  $("#type-cards").replaceChildren(...cards);
}

// ---- Workflow toggles ----------------------------------------------------------------------
async function loadToggles() {
  const settings = await act("Loading settings", () => rpc("settings.get"));
  if (!settings) return;
  const items = Object.entries(settings).filter(([key, value]) => key.startsWith("workflow.") && typeof value === "boolean")
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => {
      const id = `toggle-${key.replace(/[^a-z0-9_-]/gi, "_")}`;
      const box = el("input", { type: "checkbox", id, role: "switch", checked: value,
        onchange: () => act("Changing a toggle", async () => { await rpc("settings.set", { key, value: box.checked }); }) });
      return el("li", {}, el("label", { for: id, text: key.slice(9) }), box);
    });
  $("#toggles").replaceChildren(...items);
  $("#toggles-empty").hidden = items.length > 0;
}

// ---- Live events from GET /events --------------------------------------------------------
const streamState = { lastSeq: null, count: 0, gaps: 0 };
function setStream(state, text) {
  document.body.dataset.stream = state;
  $("#stream-text").textContent = text;
}
function noteSeq(seq) {
  if (streamState.lastSeq !== null && seq !== streamState.lastSeq + 1) streamState.gaps++;
  streamState.lastSeq = seq;
  streamState.count++;
  document.body.dataset.lastSeq = String(seq);
  document.body.dataset.eventCount = String(streamState.count);
  document.body.dataset.gaps = String(streamState.gaps);
  $("#last-seq").textContent = String(seq);
}
function onEvent(event) {
  noteSeq(event.seq);
  const data = event.data || {};
  switch (event.kind) {
    case "job.created":
      apply(data.job);
      if (route.view === "jobs" && listState.page === 0 && matches(data.job, listState.filters)) reloadSoon();
      break;
    case "job.status": {
      apply(data.job);
      if (TERMINAL.has(data.to) && data.job) series(data.job.type).finished++;
      const row = document.querySelector(`#jobs tbody tr[data-job-id="${event.job_id}"]`);
      if (route.view === "jobs" && listState.filters.status && !row && matches(data.job, listState.filters)) reloadSoon();
      break;
    }
    case "job.progress": {
      const job = jobs.get(event.job_id);
      if (job && !data.item) { job.progress = data.progress; sample(job.id, data.progress); renderJobRow(job); if (route.id === job.id) renderJob(job); if (route.view === "job" && job.parent_id === route.id) renderChildRow(job); }
      break;
    }
    case "job.log":
      if (route.view === "job" && route.id === event.job_id) {
        const line = { seq: data.seq, ts: event.ts, level: data.level, message: data.message };
        if (jobPage.loadingLog) jobPage.liveLog.push(line); else liveLogLine(line);
      }
      break;
    case "item.status":
      if (route.view === "job" && route.id === event.job_id && jobPage.itemsSupported) {
        const old = document.querySelector(`#job-items tbody tr[data-index="${data.index}"]`);
        if (old) old.children[1].replaceChildren(statusBadge(data.to));
      }
      break;
    case "settings.changed":
      if (route.view === "settings") loadToggles();
      if (String(data.key).startsWith("paused.")) loadPaused().then(() => route.view === "types" && renderTypes());
      break;
  }
}
function connectEvents() {
  // EventSource resumes by itself with Last-Event-ID; the gateway replays what was missed.
  const source = new EventSource("/events");
  source.addEventListener("open", () => setStream("live", "live"));
  source.addEventListener("subscribed", (e) => {
    setStream("live", "live");
    const seq = JSON.parse(e.data).seq;
    if (streamState.lastSeq === null) { streamState.lastSeq = Number(e.lastEventId || seq); document.body.dataset.lastSeq = String(streamState.lastSeq); $("#last-seq").textContent = String(streamState.lastSeq); }
  });
  source.addEventListener("message", (e) => { try { onEvent(JSON.parse(e.data)); } catch (error) { console.error(error); } });
  source.addEventListener("reset", () => {
    // The kernel no longer has the events after our seq (a new database, or trimmed): start over.
    streamState.lastSeq = null;
    notice("The kernel's event log restarted; the page reloaded its data.");
    route.view === "job" ? openJob(route.id) : loadJobs();
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      setStream("closed", "disconnected — reload the page (if the gateway restarted, open its new URL)");
    } else setStream("reconnecting", "reconnecting…");
  });
}

// ---- Routing -----------------------------------------------------------------------------
const route = { view: "jobs", id: null };
function show(view) {
  for (const name of ["jobs", "job", "types", "settings"]) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("header nav a")) {
    const target = link.getAttribute("href").slice(2) || "jobs";
    link.toggleAttribute("aria-current", target === view || (view === "job" && target === "jobs"));
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
}
function navigate() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, id] = hash.split("/");
  if (view === "job" && id) { route.view = "job"; route.id = decodeURIComponent(id); show("job"); openJob(route.id); }
  else if (view === "types") { route.view = "types"; route.id = null; show("types"); loadPaused().then(renderTypes); }
  else if (view === "settings") { route.view = "settings"; route.id = null; show("settings"); loadToggles(); }
  else { route.view = "jobs"; route.id = null; show("jobs"); loadJobs(); }
}

async function start() {
  setStream("connecting", "connecting…");
  connectEvents();
  await discover();
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    listState.filters = filtersFromForm(); listState.cursors = [null]; listState.page = 0;
    loadJobs();
  });
  $("#filters").addEventListener("reset", () => setTimeout(() => $("#filters").requestSubmit(), 0));
  for (const select of ["#f-status", "#f-mode", "#f-limit"]) $(select).addEventListener("change", () => $("#filters").requestSubmit());
  $("#page-older").addEventListener("click", () => {
    if (!listState.next) return;
    listState.cursors[listState.page + 1] = listState.next; listState.page++; loadJobs();
  });
  $("#page-newer").addEventListener("click", () => { if (listState.page > 0) { listState.page--; loadJobs(); } });
  $("#items-more").addEventListener("click", () => loadItems(jobPage.id, false));
  $("#pause-all").addEventListener("click", () => act("Pause", async () => { await rpc("pause", {}); await loadPaused(); renderTypes(); }));
  $("#resume-all").addEventListener("click", () => act("Resume", async () => { await rpc("resume", {}); await loadPaused(); renderTypes(); }));
  window.addEventListener("hashchange", navigate);
  navigate();
  sampleStats();
  setInterval(sampleStats, 2000);
  // Rates and ETAs age; redraw the running rows' progress text now and then.
  setInterval(() => { for (const job of jobs.values()) if (job.status === "running") renderJobRow(job); }, 1000);
}
start();
})();
