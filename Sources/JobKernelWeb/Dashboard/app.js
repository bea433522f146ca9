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
// Every failure becomes an Error whose message is a sentence saying what happened and what to do
// (`explain`); the raw answer stays on it (`code`, `data`, `status`) for the code that needs it.
class RPCError extends Error {
  constructor(error, method, params) {
    super(explain(error, method, params)); this.code = error.code; this.data = error.data; this.raw = error.message;
  }
}
class HTTPError extends Error {
  constructor(status, text) { super(explainHTTP(status, text)); this.status = status; this.raw = text; }
}
const STATUS_WORDS = { scheduled: "is scheduled", pending: "is waiting to run", running: "is running", success: "finished with success",
  partial_success: "finished with partial success", failed: "failed", cancelled: "was cancelled", skipped: "was skipped" };
function explain(error, method, params = {}) {
  const data = error.data || {};
  const job = data.job_id || params.id || (params.ids && params.ids.length === 1 ? params.ids[0] : null);
  switch (error.code) {
    case -32001: return job ? `Job ${job} does not exist (any more): it may have been removed. Reload the list.`
      : "That job does not exist (any more). Reload the list.";
    case -32002: return `The kernel has no job type ${data.field ? `for ${data.field}` : "by that name"}: check the type's spelling or the kernel's configuration.`;
    case -32004: {
      const status = STATUS_WORDS[data.status] || `is ${data.status || "in another status"}`;
      if (method === "retry") return `Job ${job} ${status}, so it cannot be retried: only failed, cancelled and partly successful jobs can.`;
      if (method === "cancel") return `Job ${job} ${status}, so there is nothing to cancel.`;
      if (method === "remove") return `Job ${job} ${status}: only finished jobs can be removed; cancel it first.`;
      return `Job ${job} ${status}, which does not allow that.`;
    }
    case -32006: return "The kernel no longer keeps those events: reload the page.";
    case -32007: return `The kernel cannot do that right now (${error.message}). Try again in a moment.`;
    case -32601: return `This kernel does not know \`${method}\`: it is older than this page. Upgrade jobkernel.`;
    case -32602: return `The kernel refused ${data.field ? `the value of ${data.field}` : "the request"}: ${error.message}. Check what you entered.`;
    case -32603: return `The kernel failed inside (${error.message}). Its log says more; try again.`;
    default: return `The kernel answered: ${error.message}.`;
  }
}
const BUSY = /in flight|Retry-After|busy/i;
function explainHTTP(status, text) {
  if (status === 503 && BUSY.test(text)) return "The gateway is busy. Try again in a moment.";
  if (status === 503) return "The kernel is not answering. Start it (jobkernel serve); this page reconnects by itself.";
  if (status === 401) return "Your session has ended. Open the login link that jobkernel web printed, or paste the token at /.";
  if (status === 403) return "The gateway refused this page's request as coming from another site. Reload the page from the gateway's own address.";
  if (status === 413) return "That request is too large for the gateway (16 MiB at most).";
  if (status === 429) return "Too many dashboards or streams are open on this token. Close some tabs.";
  return `The gateway answered HTTP ${status}. Reload the page; if it persists, see jobkernel web's output.`;
}
let nextId = 1;
async function rpc(method, params = {}, { timeout = 30000 } = {}) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeout);
  let response;
  try {
    response = await fetch("/rpc", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params }), signal: abort.signal,
    });
  } catch (error) {
    const timedOut = abort.signal.aborted;
    const gone = new Error(timedOut
      ? "The gateway did not answer in time. It may be overloaded; try again."
      : "The gateway is not answering: is jobkernel web still running? This page reconnects by itself.");
    gone.status = 0;
    gone.timedOut = timedOut;
    if (!timedOut) gatewayUnreachable();
    throw gone;
  } finally { clearTimeout(timer); }
  if (!response.ok) {
    const text = (await response.text()).trim();
    if (response.status === 503 && !BUSY.test(text)) kernelUnreachable();
    if (response.status === 401) sessionEnded();
    throw new HTTPError(response.status, text);
  }
  const answer = await response.json();
  if (answer.error) throw new RPCError(answer.error, method, params);
  return answer.result;
}
function notice(message) {
  const box = $("#notice");
  box.classList.remove("ok");
  box.textContent = message || "";
  box.hidden = !message;
}
async function act(label, fn) {
  try { notice(""); return await fn(); }
  catch (error) {
    // While the kernel or the gateway is down, or the session has ended, the banner says so once;
    // a notice per failed call would repeat it.
    if ((error.status === 503 && !BUSY.test(error.raw || "")) || error.status === 0 || error.status === 401) return;
    notice(`${label} failed. ${error.message}`);
  }
}

// ---- What this kernel can do ------------------------------------------------------------
const has = new Set();
const paramsOf = new Map(); // method -> its parameters' names
async function discover() {
  try {
    const doc = await rpc("rpc.discover");
    for (const method of doc.methods || []) { has.add(method.name); paramsOf.set(method.name, (method.params || []).map((p) => p.name)); }
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
function ago(ts) {
  if (!ts) return "–";
  const s = (Date.now() - new Date(ts).getTime()) / 1000;
  if (s < 0) return `in ${duration(-s)}`;
  if (s < 5) return "just now";
  if (s < 60) return `${Math.floor(s)}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
const timeCell = (ts) => el("time", { class: "ago", datetime: ts || "", title: ts ? when(ts) : "", text: ago(ts) });
function runTime(job) {
  if (!job.started_at) return "";
  const end = job.finished_at ? new Date(job.finished_at) : (job.status === "running" ? new Date() : null);
  if (!end) return "";
  const seconds = Math.max(0, (end - new Date(job.started_at)) / 1000);
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : duration(seconds);
}
// ---- What a job is: its label, command line, or a payload summary ------------------------
const labelOf = (job) => job.label || (job.payload && typeof job.payload.label === "string" ? job.payload.label : null);
const shellQuote = (word) => /^[A-Za-z0-9_@%+=:,.\/-]+$/.test(word) ? word : `'${String(word).replace(/'/g, "'\\''")}'`;
const commandOf = (job) => job.payload && Array.isArray(job.payload.argv) ? job.payload.argv.map(String).map(shellQuote).join(" ") : null;
function summaryOf(job) {
  const command = commandOf(job);
  if (command) return command;
  let payload = job.payload;
  if (payload && typeof payload === "object" && !Array.isArray(payload)) payload = Object.fromEntries(Object.entries(payload).filter(([k]) => k !== "label"));
  if (!payload || (typeof payload === "object" && Object.keys(payload).length === 0)) return "";
  return JSON.stringify(payload).slice(0, 80);
}
// Why a pending or scheduled job waits (the job's `waiting`, on kernels that give it).
function waitingText(job) {
  const w = job.waiting;
  if (!w || !w.reason) return null;
  switch (w.reason) {
    case "paused": return `waits: ${w.setting === "paused.*" ? "everything" : "its type"} is paused`;
    case "pool_full": return w.position ? `waits for a free slot, #${w.position} in line` : "waits for a free slot";
    case "after": return `waits for job${(w.job_ids || []).length === 1 ? "" : "s"} ${(w.job_ids || []).join(", ")}`;
    case "delayed": return `waits until ${when(w.until)}`;
    case "toggle_off": return `waits: ${w.toggle} is off`;
    default: return `waits (${w.reason})`;
  }
}
function whatCell(job) {
  const label = labelOf(job), summary = summaryOf(job);
  return el("td", { class: "what", title: [label, summary].filter(Boolean).join("\n") },
    label ? el("span", { class: "label", text: label }) : null,
    summary ? el("code", { class: "summary", text: summary.length > 60 ? summary.slice(0, 59) + "…" : summary }) : null);
}
function searchable(job) {
  return [job.id, labelOf(job), job.type, commandOf(job) || JSON.stringify(job.payload || "")].filter(Boolean).join("\n").toLowerCase();
}

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
const listState = { filters: {}, q: "", limit: 50, after: [], next: null };
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
  if (route.view === "workers") loadWorkersSoon();
}
const selected = new Map(); // id -> job, the jobs ticked for a bulk action
let selectedAllMatching = false;
function jobRow(job) {
  const box = el("input", { type: "checkbox", class: "pick", "aria-label": `Select job ${job.id}`, checked: selected.has(job.id),
    onchange: () => { if (box.checked) selected.set(job.id, job); else selected.delete(job.id); selectedAllMatching = false; renderBulk(); } });
  return el("tr", { "data-job-id": job.id, "data-status": job.status, "data-cancel": String(!!job.cancel_requested) },
    el("td", { class: "check" }, box),
    el("td", {}, el("a", { href: `#/job/${job.id}`, text: job.id })),
    whatCell(job),
    el("td", { text: job.type }),
    el("td", { text: job.dispatch_mode }),
    el("td", { class: "status-cell" }, statusBadge(job.status), waitingText(job) ? el("span", { class: "waiting", text: waitingText(job) }) : null),
    el("td", { class: "wide" }, progressCell(job)),
    el("td", { class: "started" }, job.started_at ? timeCell(job.started_at) : el("span", { class: "muted", title: `created ${when(job.created_at)}`, text: "–" })),
    el("td", { class: "duration", text: runTime(job) }),
    el("td", {}, el("div", { class: "actions" }, ...actionButtons(job))));
}
function replaceRow(row, fresh) {
  // Keep keyboard focus on the same control when a live update redraws the row.
  const focused = row.contains(document.activeElement) ? (document.activeElement.dataset.action || (document.activeElement.classList.contains("pick") ? "pick" : null)) : null;
  fresh.hidden = row.hidden;
  row.replaceWith(fresh);
  if (focused) { const again = fresh.querySelector(focused === "pick" ? ".pick" : `[data-action="${focused}"]`); if (again) again.focus(); }
}
function renderJobRow(job) {
  const row = document.querySelector(`#jobs tbody tr[data-job-id="${job.id}"]`);
  if (!row) return;
  if (selected.has(job.id)) selected.set(job.id, job);
  // Progress alone redraws only its cells, so a button is never swapped under a click.
  if (row.dataset.status === job.status && row.dataset.cancel === String(!!job.cancel_requested)) {
    row.querySelector(".progress-cell").replaceWith(progressCell(job));
    row.querySelector(".duration").textContent = runTime(job);
  } else replaceRow(row, jobRow(job));
  applySearch();
}

// The list's state lives in the URL's fragment, `#/?status=failed&type=t&q=text&limit=50&after=C…`
// (`after` repeated: the cursors of the pages before this one), so a link opens the same view and
// back/forward walk through what was looked at.
const LIST_KEYS = ["status", "type", "dispatch_mode", "parent_id"];
function listURL(state) {
  const query = new URLSearchParams();
  for (const key of LIST_KEYS) if (state.filters[key]) query.set(key, state.filters[key]);
  if (state.q) query.set("q", state.q);
  if (state.limit && state.limit !== 50) query.set("limit", String(state.limit));
  for (const cursor of state.after || []) query.append("after", cursor);
  const text = query.toString();
  return text ? `#/?${text}` : "#/";
}
function readListURL(query) {
  const filters = {};
  for (const key of LIST_KEYS) { const v = (query.get(key) || "").trim(); if (v) filters[key] = v; }
  const limit = [25, 50, 100].includes(Number(query.get("limit"))) ? Number(query.get("limit")) : 50;
  return { filters, q: (query.get("q") || "").trim(), limit, after: query.getAll("after") };
}
function currentList() { return { filters: listState.filters, q: listState.q, limit: listState.limit, after: listState.after }; }
function go(hash) { if (location.hash !== hash) location.hash = hash; else navigate(true); }
function formToURL() {
  const form = $("#filters");
  const filters = {};
  for (const name of LIST_KEYS) { const value = form.elements[name].value.trim(); if (value) filters[name] = value; }
  go(listURL({ filters, q: form.elements.q.value.trim(), limit: Number($("#f-limit").value), after: [] }));
}
function fillForm() {
  const form = $("#filters");
  for (const name of LIST_KEYS) form.elements[name].value = listState.filters[name] || "";
  form.elements.q.value = listState.q;
  $("#f-limit").value = String(listState.limit);
}
function matches(job, filters) {
  return Object.entries(filters).every(([key, value]) => String(job[key] ?? "") === value);
}
function applySearch() {
  const q = listState.q.toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll("#jobs tbody tr")) {
    const job = jobs.get(row.dataset.jobId);
    row.hidden = !!q && !(job && searchable(job).includes(q));
    if (!row.hidden) shown++;
  }
  const loaded = document.querySelectorAll("#jobs tbody tr").length;
  $("#jobs-empty").hidden = shown > 0;
  $("#jobs-empty").textContent = loaded && q ? `No job on this page matches “${listState.q}”.` : "No jobs match.";
  const hint = $("#search-hint");
  const id = /^#?\d+$/.test(listState.q) ? listState.q.replace("#", "") : null;
  if (q && id && !document.querySelector(`#jobs tbody tr[data-job-id="${id}"]`)) {
    hint.replaceChildren(`Job ${id} is not on this page: `, el("a", { href: `#/job/${id}`, text: `open job ${id}` }), ".");
    hint.hidden = false;
  } else if (q && listState.next) {
    hint.textContent = "The search looks through this page only; the older pages may hold more matches.";
    hint.hidden = false;
  } else hint.hidden = true;
  renderBulk();
}
function renderCounts(stats) {
  const counts = stats.jobs || {};
  const all = Object.values(counts).reduce((a, b) => a + (b || 0), 0);
  const current = listState.filters.status || "";
  const tabs = [["", "all", all], ...["running", "pending", "scheduled", "failed", "partial_success", "cancelled", "success", "skipped"]
    .map((status) => [status, status.replace("_", " "), counts[status] || 0])];
  const key = JSON.stringify([tabs, current, listState.filters, listState.q, listState.limit]);
  const nav = $("#status-tabs");
  if (nav.dataset.key === key) return;
  nav.dataset.key = key;
  nav.replaceChildren(...tabs.map(([status, name, count]) => {
    const filters = { ...listState.filters, status };
    if (!status) delete filters.status;
    const link = el("a", { href: listURL({ filters, q: listState.q, limit: listState.limit, after: [] }), "data-status": status || "all",
      class: `tab ${status}` }, el("span", { text: name }), " ", el("span", { class: "count", text: String(count) }));
    if (status === current) link.setAttribute("aria-current", "true");
    return link;
  }));
}
let loading = null;
async function loadJobs() {
  const params = { ...listState.filters, limit: listState.limit };
  const cursor = listState.after.at(-1);
  if (cursor) params.cursor = cursor;
  const token = Symbol();
  loading = token;
  const result = await act("Loading jobs", () => rpc("list", params));
  if (!result || loading !== token) return;
  const body = $("#jobs tbody");
  body.replaceChildren(...result.jobs.map((listed) => { const job = newest(listed); sample(job.id, job.progress); knownTypes.add(job.type); return jobRow(job); }));
  listState.next = result.next_cursor;
  listState.loadedIds = result.jobs.map((j) => j.id);
  $("#page-older").disabled = !result.next_cursor;
  $("#page-newer").disabled = listState.after.length === 0;
  $("#page-label").textContent = `page ${listState.after.length + 1}`;
  applySearch();
  if (lastStats) renderCounts(lastStats);
  refreshTypeNames();
}
let reloadTimer = null;
function reloadSoon() {
  if (reloadTimer) return;
  reloadTimer = setTimeout(() => { reloadTimer = null; if (route.view === "jobs") loadJobs(); }, 400);
}

// ---- Bulk actions: cancel, retry or remove the ticked jobs, after a confirmation ----------
const BULK = {
  cancel: { verb: "Cancel", done: "cancelled", can: (j) => !TERMINAL.has(j.status), why: "already finished" },
  retry: { verb: "Retry", done: "retried", can: (j) => ["failed", "cancelled", "partial_success"].includes(j.status), why: "not failed, cancelled or partly successful" },
  remove: { verb: "Remove", done: "removed", can: (j) => TERMINAL.has(j.status), why: "not finished" },
};
function renderBulk() {
  const n = selected.size;
  $("#bulk").hidden = n === 0;
  $("#bulk-count").textContent = `${n} selected${selectedAllMatching ? " (all that match)" : ""}`;
  $("#bulk-remove").hidden = !has.has("remove");
  const rows = [...document.querySelectorAll("#jobs tbody tr:not([hidden])")];
  const all = rows.length > 0 && rows.every((row) => selected.has(row.dataset.jobId));
  $("#select-page").checked = all;
  $("#select-page").indeterminate = !all && rows.some((row) => selected.has(row.dataset.jobId));
  $("#select-matching").hidden = !all || selectedAllMatching || !listState.next && listState.after.length === 0;
}
function selectPage(on) {
  for (const row of document.querySelectorAll("#jobs tbody tr:not([hidden])")) {
    const job = jobs.get(row.dataset.jobId);
    if (on) selected.set(job.id, job); else selected.delete(job.id);
    row.querySelector(".pick").checked = on;
  }
  selectedAllMatching = false;
  renderBulk();
}
async function selectAllMatching() {
  // Every page of the list with the same filters (and the search), up to 10,000 jobs.
  const q = listState.q.toLowerCase();
  let cursor = null;
  for (let page = 0; page < 10; page++) {
    const params = { ...listState.filters, limit: 1000 };
    if (cursor) params.cursor = cursor;
    const result = await act("Selecting the matching jobs", () => rpc("list", params));
    if (!result) return;
    for (const listed of result.jobs) { const job = newest(listed); if (!q || searchable(job).includes(q)) selected.set(job.id, job); }
    cursor = result.next_cursor;
    if (!cursor) break;
  }
  selectedAllMatching = true;
  for (const box of document.querySelectorAll("#jobs tbody tr:not([hidden]) .pick")) box.checked = true;
  renderBulk();
}
function confirmDialog(title, text, yes) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = yes;
  return new Promise((resolve) => {
    const finish = (answer) => { dialog.close(); $("#confirm-yes").onclick = null; $("#confirm-no").onclick = null; dialog.oncancel = null; resolve(answer); };
    $("#confirm-yes").onclick = () => finish(true);
    $("#confirm-no").onclick = () => finish(false);
    dialog.oncancel = () => finish(false);
    dialog.showModal();
    $("#confirm-no").focus();
  });
}
async function bulk(action) {
  const spec = BULK[action];
  const picked = [...selected.values()].map((job) => jobs.get(job.id) || job);
  const eligible = picked.filter(spec.can);
  const skipped = picked.length - eligible.length;
  const noun = (n) => `${n} job${n === 1 ? "" : "s"}`;
  if (eligible.length === 0) { notice(`None of the ${noun(picked.length)} selected can be ${spec.done}: they are ${spec.why}.`); return; }
  const ids = eligible.map((j) => j.id);
  const shown = ids.length <= 12 ? ids.join(", ") : `${ids.slice(0, 10).join(", ")} and ${ids.length - 10} more`;
  const text = `${spec.verb} ${noun(ids.length)} (${shown})?` + (skipped ? ` ${noun(skipped)} of the selection ${skipped === 1 ? "is" : "are"} ${spec.why} and will be left alone.` : "")
    + (action === "remove" ? " Their logs, items and results are deleted for good." : "");
  if (!await confirmDialog(`${spec.verb} ${noun(ids.length)}`, text, `${spec.verb} ${noun(ids.length)}`)) return;
  notice("");
  let ok = 0;
  const failures = [];
  // The kernel's bulk form when it has one (`{ids}`); else one call per job, four at a time.
  const bulkForm = action === "remove" || (paramsOf.get(action) || []).includes("ids");
  const oneByOne = async (list) => {
    const queue = [...list];
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (queue.length) {
        const id = queue.shift();
        try {
          const answer = await rpc(action, action === "remove" ? { ids: [id] } : { id });
          if (action !== "remove") apply(answer);
          ok++;
        } catch (error) { failures.push(error.message); }
      }
    }));
  };
  if (bulkForm) {
    for (let i = 0; i < ids.length; i += 100) {
      const chunk = ids.slice(i, i + 100);
      try {
        const answer = await rpc(action, { ids: chunk });
        const count = answer && typeof answer === "object" ? (answer.cancelled ?? answer.retried ?? answer.removed) : undefined;
        ok += typeof count === "number" ? count : chunk.length;
      } catch (error) {
        // One job that changed since the page saw it refuses the whole call: go one by one.
        if (error.code === -32001 || error.code === -32004) await oneByOne(chunk); else failures.push(error.message);
      }
    }
  } else await oneByOne(ids);
  if (action === "remove") for (const id of ids) jobs.delete(id);
  selected.clear(); selectedAllMatching = false;
  const parts = [`${spec.verb === "Retry" ? "Retried" : spec.done[0].toUpperCase() + spec.done.slice(1)} ${noun(ok)}.`];
  if (skipped) parts.push(`${noun(skipped)} left alone (${spec.why}).`);
  if (failures.length) parts.push(`${failures.length} failed: ${[...new Set(failures)].slice(0, 3).join(" ")}`);
  await loadJobs();
  const box = $("#notice");
  box.textContent = parts.join(" ");
  box.hidden = false;
  box.classList.toggle("ok", failures.length === 0);
}

// ---- The job page ------------------------------------------------------------------------
// While the log so far loads, live lines wait in `liveLog`; then those after the last loaded line
// follow, so a line shows once whatever the order the two arrive in.
const jobPage = { id: null, logSince: null, loadingLog: false, liveLog: [], itemsNext: null, itemsSupported: false };
function renderJob(job) {
  const label = labelOf(job);
  $("#job-title").textContent = `Job ${job.id} · ${label ? `${label} · ` : ""}${job.type}`;
  const fields = [
    ["Status", statusBadge(job.status)], ["Type", job.type], ["Dispatch mode", job.dispatch_mode],
    ["Priority", `${job.priority} (${job.lane} lane)`], ["Attempt", `${job.attempt} of ${job.max_attempts}`],
    ["Parent", job.parent_id ? el("a", { href: `#/job/${job.parent_id}`, text: job.parent_id }) : "–"],
    ["Created by", job.created_by], ["Created", when(job.created_at)], ["Started", when(job.started_at)],
    ["Finished", when(job.finished_at)], ["Ran for", runTime(job) || "–"],
  ];
  if (job.cancel_requested && !TERMINAL.has(job.status)) fields.push(["Cancel", "requested"]);
  if (waitingText(job)) fields.push(["Waiting", el("span", { id: "job-waiting", text: waitingText(job).replace(/^waits:? /, "") })]);
  if (job.items) fields.push(["Items", Object.entries(job.items).map(([k, v]) => `${k} ${v}`).join(", ")]);
  $("#job-fields").replaceChildren(...fields.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)]));
  $("#job-fields").dataset.status = job.status;
  renderWhat(job);
  $("#job-progress").replaceWith(Object.assign(progressCell(job), { id: "job-progress" }));
  const actions = $("#job-actions");
  const actionsKey = `${job.id}/${job.status}/${!!job.cancel_requested}`;
  if (actions.dataset.key !== actionsKey) { actions.dataset.key = actionsKey; actions.replaceChildren(...actionButtons(job)); }
  $("#job-error-section").hidden = !job.error;
  // The message as a sentence; anything else the error carries below it.
  const { message, ...rest } = job.error && typeof job.error === "object" ? job.error : { message: job.error };
  $("#job-error").textContent = !job.error ? "" : `${message ?? ""}${Object.keys(rest).length ? `\n\n${JSON.stringify(rest, null, 2)}` : ""}`;
  $("#job-result-section").hidden = job.result === null || job.result === undefined;
  $("#job-result").textContent = job.result === null || job.result === undefined ? "" : JSON.stringify(job.result, null, 2);
}
// What the job runs: its label; for a command, the command line, directory and environment
// (names only until "show values" is pressed); for other types, the payload as a JSON tree.
function renderWhat(job) {
  const box = $("#job-what");
  const key = JSON.stringify([job.id, job.label, job.payload]);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  const rows = [];
  const label = labelOf(job);
  rows.push(["Label", label ? el("span", { class: "label", id: "job-label", text: label }) : el("span", { class: "muted", text: "none" })]);
  const command = commandOf(job);
  const payload = job.payload || {};
  if (command) {
    rows.push(["Command", el("code", { id: "job-command", class: "command", text: command })]);
    rows.push(["Directory", el("code", { id: "job-cwd", text: payload.cwd || "the kernel's working directory" })]);
    const env = payload.env && typeof payload.env === "object" ? Object.entries(payload.env) : [];
    if (env.length) {
      const list = el("ul", { id: "job-env", class: "env" }, ...env.map(([name, value]) =>
        el("li", { "data-name": name }, el("code", { text: name }), el("code", { class: "env-value", hidden: true, text: `=${value}` }))));
      const toggle = el("button", { type: "button", id: "env-toggle", "aria-expanded": "false", "aria-controls": "job-env", text: "show values",
        onclick: () => {
          const open = toggle.getAttribute("aria-expanded") !== "true";
          toggle.setAttribute("aria-expanded", String(open));
          toggle.textContent = open ? "hide values" : "show values";
          for (const value of list.querySelectorAll(".env-value")) value.hidden = !open;
        } });
      rows.push(["Environment", el("div", {}, list, toggle)]);
    } else rows.push(["Environment", el("span", { class: "muted", text: "inherited, nothing added" })]);
    const rest = Object.fromEntries(Object.entries(payload).filter(([k]) => !["argv", "cwd", "env", "label"].includes(k)));
    if (Object.keys(rest).length) rows.push(["Other payload", jsonTree(rest, 0)]);
  } else {
    rows.push(["Payload", Object.keys(payload).length ? el("div", { id: "job-payload" }, jsonTree(payload, 0)) : el("span", { class: "muted", text: "empty" })]);
  }
  box.replaceChildren(...rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", {}, value)]));
}
function jsonTree(value, depth) {
  if (value === null || typeof value !== "object") return el("code", { class: `json ${value === null ? "null" : typeof value}`, text: JSON.stringify(value) });
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const summary = Array.isArray(value) ? `[${entries.length} item${entries.length === 1 ? "" : "s"}]` : `{${entries.length} key${entries.length === 1 ? "" : "s"}}`;
  const details = el("details", { class: "json-tree", open: depth < 2 && entries.length <= 50 },
    el("summary", { text: summary }),
    el("ul", {}, ...entries.map(([k, v]) => el("li", {}, el("span", { class: "json-key", text: `${k}: ` }), jsonTree(v, depth + 1)))));
  return details;
}

// The job's history from the kernel's event log: `/events?ids=ID&kinds=job.created,job.status&since=0`
// replays every status change it still keeps (24 h by default), then goes on live.
let jobStream = null;
const history_ = { id: null, seen: new Set(), entries: [] };
function closeJobStream() { if (jobStream) { jobStream.close(); jobStream = null; } }
function openJobStream(id) {
  closeJobStream();
  history_.id = id; history_.seen = new Set(); history_.entries = [];
  $("#job-timeline").replaceChildren();
  $("#job-attempts tbody").replaceChildren();
  $("#job-attempts").parentElement.hidden = true;
  const source = new EventSource(`/events?ids=${encodeURIComponent(id)}&kinds=job.created,job.status&since=0`);
  jobStream = source;
  source.addEventListener("message", (e) => {
    if (jobStream !== source) return;
    const event = JSON.parse(e.data);
    if (history_.seen.has(event.seq)) return;
    history_.seen.add(event.seq);
    history_.entries.push(event);
    renderHistory();
  });
  source.addEventListener("reset", () => {
    if (jobStream !== source) return;
    history_.trimmed = true;
    renderHistory();
  });
}
function renderHistory() {
  const entries = [...history_.entries].sort((a, b) => a.seq - b.seq);
  const items = entries.map((event) => {
    const data = event.data || {};
    const job = data.job || {};
    const text = event.kind === "job.created" ? `created, ${job.status || "pending"}` : `${data.from} → ${data.to}`;
    const extra = [];
    if (event.kind === "job.status" && data.to === "running" && job.attempt) extra.push(`attempt ${job.attempt}`);
    if (event.kind === "job.status" && job.error && ["failed", "cancelled", "partial_success"].includes(data.to) && job.error.message) extra.push(job.error.message);
    return el("li", { "data-kind": event.kind, "data-to": data.to || job.status || "" },
      el("time", { datetime: event.ts, title: when(event.ts), text: new Date(event.ts).toLocaleTimeString() }), " ",
      el("span", { class: `status-change ${data.to || ""}`, text }), extra.length ? el("span", { class: "muted", text: ` · ${extra.join(" · ")}` }) : null);
  });
  if (history_.trimmed) items.unshift(el("li", { class: "muted", text: "Older changes are no longer kept by the kernel." }));
  $("#job-timeline").replaceChildren(...items);
  // Attempts: each move to running starts one; the next status change ends it.
  const attempts = [];
  for (const event of entries) {
    if (event.kind !== "job.status") continue;
    const data = event.data || {}, job = data.job || {};
    if (data.to === "running") attempts.push({ n: job.attempt || attempts.length + 1, start: event.ts, end: null, outcome: "running" });
    else if (attempts.length && attempts.at(-1).end === null && data.from === "running") {
      const last = attempts.at(-1);
      const error = job.error && job.error.message ? `: ${job.error.message}` : "";
      last.end = event.ts;
      last.outcome = ["scheduled", "pending"].includes(data.to) ? `failed, retried${error}` : `${data.to}${error}`;
    }
  }
  $("#job-attempts tbody").replaceChildren(...attempts.map((a) => el("tr", { "data-attempt": String(a.n) },
    el("td", { text: String(a.n) }), el("td", { text: when(a.start) }), el("td", { text: a.end ? when(a.end) : "–" }),
    el("td", { text: a.end ? runTime({ started_at: a.start, finished_at: a.end, status: "success" }) : "" }),
    el("td", { class: "outcome", text: a.outcome }))));
  $("#job-attempts").parentElement.hidden = attempts.length === 0;
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
  $("#job-items-section").hidden = true;
  $("#job-children-section").hidden = true;
  $("#job-what").dataset.key = "";
  openJobStream(id);
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
  // Items only for an itemized job (`items` answers one row for any other).
  if (job.items) loadItems(id, true);
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

// ---- Types: a chart per type from the kernel's recent history, pause/resume -----------------
// `stats.history` gives a sample per interval (10 s by default, the last hour): per type the jobs
// pending and running at the sample's time and those that ended during the interval. The view
// draws what the kernel kept when it opens, then asks for the samples after the last one every
// interval. A kernel without `stats.history` gets samples taken by the page: `stats` every 2 s and
// the jobs that ended meanwhile, counted from the events (the charts then start empty).
const knownTypes = new Set();
const paused = new Set();
let pausedAll = false;
const typeHistory = { source: null, interval: 10, kept: 3600, samples: [], timer: null, loading: null };
const ENDED = ["succeeded", "partial_success", "failed", "cancelled", "skipped"];
const ENDED_AS = { success: "succeeded", partial_success: "partial_success", failed: "failed", cancelled: "cancelled", skipped: "skipped" };
const endedSince = new Map(); // type -> {succeeded, failed, …}: the page's own count since its last sample
function refreshTypeNames() {
  $("#type-names").replaceChildren(...[...knownTypes].sort().map((t) => el("option", { value: t })));
}
function noteEnded(job, to) {
  if (!job || !ENDED_AS[to] || typeHistory.source === "kernel") return;
  const counts = endedSince.get(job.type) || {};
  counts[ENDED_AS[to]] = (counts[ENDED_AS[to]] || 0) + 1;
  endedSince.set(job.type, counts);
}
function addSamples(samples) {
  const known = typeHistory.samples;
  for (const sample of samples) {
    const t = new Date(sample.t).getTime();
    if (!Number.isFinite(t) || (known.length && t <= known.at(-1).t)) continue;
    known.push({ t, iso: sample.t, types: sample.types || {} });
    for (const type of Object.keys(sample.types || {})) knownTypes.add(type);
  }
  const oldest = (known.length ? known.at(-1).t : 0) - typeHistory.kept * 1000;
  while (known.length && known[0].t < oldest) known.shift();
}
// The page's own sample, on a kernel without `stats.history`.
let lastStats = null;
let lastOwnSample = 0;
function sampleStats(stats) {
  if (typeHistory.source === "kernel" || has.has("stats.history") || Date.now() - lastOwnSample < 1900) return;
  const types = {};
  for (const [type, t] of Object.entries(stats.types || {})) {
    knownTypes.add(type);
    types[type] = { pending: t.pending || 0, running: t.running || 0 };
  }
  for (const [type, counts] of endedSince) types[type] = { pending: 0, running: 0, ...types[type], ...counts };
  endedSince.clear();
  lastOwnSample = Date.now();
  typeHistory.interval = 2;
  typeHistory.kept = 3600;
  addSamples([{ t: new Date(lastOwnSample).toISOString(), types }]);
  if (route.view === "types") renderTypes();
}
async function loadHistory() {
  if (typeHistory.loading) return typeHistory.loading;
  typeHistory.loading = (async () => {
    if (typeHistory.source === "page") return;
    const last = typeHistory.samples.at(-1);
    let result;
    try { result = await rpc("stats.history", last && typeHistory.source === "kernel" ? { since: last.iso } : {}); }
    catch (error) {
      if (error.code === -32601) { typeHistory.source = "page"; typeHistory.samples = []; return; }
      if (error.status !== 503 && error.status !== 0) notice(`Loading the types' history failed. ${error.message}`);
      return;
    }
    if (typeHistory.source !== "kernel") { typeHistory.source = "kernel"; typeHistory.samples = []; endedSince.clear(); }
    typeHistory.interval = result.interval_s || typeHistory.interval;
    typeHistory.kept = result.kept_s || typeHistory.kept;
    addSamples(result.samples || []);
  })();
  try { await typeHistory.loading; } finally { typeHistory.loading = null; }
}
// While the Types view is open: the samples after the last one, every interval (at least 1 s).
function followHistory() {
  clearTimeout(typeHistory.timer);
  if (route.view !== "types" || typeHistory.source === "page") return;
  typeHistory.timer = setTimeout(async () => {
    if (route.view !== "types") return;
    await loadHistory();
    if (route.view === "types") { renderTypes(); followHistory(); }
  }, Math.max(1000, typeHistory.interval * 1000));
}
async function openTypes() {
  await Promise.all([loadPaused(), loadHistory()]);
  if (route.view !== "types") return;
  renderTypes();
  followHistory();
}

// A chart with axes, drawn as SVG: time along x (ticks as HH:MM, or HH:MM:SS for short spans),
// jobs along y; lines for pending and running, stacked bars for the jobs that ended in each
// interval. Each sample has a hover area whose <title> gives its values.
const SVG = "http://www.w3.org/2000/svg";
const svgEl = (tag, attrs = {}, ...children) => {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  for (const child of children) if (child) node.append(child);
  return node;
};
const SERIES = [
  { key: "pending", name: "pending", kind: "line" }, { key: "running", name: "running", kind: "line" },
  { key: "succeeded", name: "succeeded", kind: "bar" }, { key: "partial_success", name: "partly succeeded", kind: "bar" },
  { key: "failed", name: "failed", kind: "bar" }, { key: "cancelled", name: "cancelled", kind: "bar" }, { key: "skipped", name: "skipped", kind: "bar" },
];
const ALWAYS_SHOWN = new Set(["pending", "running", "succeeded", "failed"]);
const pad2 = (n) => String(n).padStart(2, "0");
function clock(ms, seconds) {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ""}`;
}
function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}
function valuesAt(sample, type) {
  const v = (sample.types || {})[type] || {};
  const values = { pending: v.pending || 0, running: v.running || 0, ended: 0 };
  for (const key of ENDED) { values[key] = v[key] || 0; values.ended += values[key]; }
  return values;
}
function typeChart(type, samples, interval) {
  const W = 440, H = 170, L = 34, R = 10, T = 10, B = 22;
  const pw = W - L - R, ph = H - T - B;
  const points = samples.map((s) => ({ t: s.t, v: valuesAt(s, type) }));
  const t1 = points.at(-1).t;
  // At least 20 intervals wide, so that a young history does not stretch a few samples across.
  const t0 = Math.min(points[0].t - interval * 1000, t1 - 20 * interval * 1000);
  const x = (t) => L + pw * (t - t0) / (t1 - t0);
  const top = Math.max(1, ...points.map((p) => Math.max(p.v.pending, p.v.running, p.v.ended)));
  const yStep = Math.max(1, niceStep(top / 4));
  const yMax = Math.ceil(top / yStep) * yStep;
  const y = (v) => T + ph - ph * v / yMax;
  const svg = svgEl("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "data-type": type,
    "aria-label": `Jobs of ${type} over time: pending and running (lines), finished per ${interval} s (bars)` });
  // Axes, grid and ticks.
  const grid = svgEl("g", { class: "grid" });
  for (let v = 0; v <= yMax; v += yStep) {
    grid.append(svgEl("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    grid.append(svgEl("text", { class: "y-tick", x: L - 4, y: y(v) + 3, "text-anchor": "end" }, document.createTextNode(String(v))));
  }
  const span = (t1 - t0) / 1000;
  const xStep = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].find((s) => span / s <= 6) || 7200;
  for (let t = Math.ceil(t0 / (xStep * 1000)) * xStep * 1000; t <= t1; t += xStep * 1000) {
    grid.append(svgEl("line", { class: "x-grid", x1: x(t), x2: x(t), y1: T + ph, y2: T + ph + 4 }));
    grid.append(svgEl("text", { class: "x-tick", x: x(t), y: H - 6, "text-anchor": "middle" }, document.createTextNode(clock(t, xStep < 60))));
  }
  grid.append(svgEl("line", { class: "axis", x1: L, x2: W - R, y1: T + ph, y2: T + ph }), svgEl("line", { class: "axis", x1: L, x2: L, y1: T, y2: T + ph }));
  svg.append(grid);
  // Bars: what ended in the interval before each sample, stacked.
  const slot = pw * interval * 1000 / (t1 - t0);
  const bars = svgEl("g", { class: "bars" });
  for (const p of points) {
    let base = 0;
    for (const key of ENDED) {
      if (!p.v[key]) continue;
      bars.append(svgEl("rect", { class: `bar ${key}`, x: x(p.t) - slot * 0.9, width: Math.max(1, slot * 0.8), y: y(base + p.v[key]), height: y(base) - y(base + p.v[key]) }));
      base += p.v[key];
    }
  }
  svg.append(bars);
  // Lines, with a dot per sample while they are few enough to tell apart.
  for (const key of ["pending", "running"]) {
    svg.append(svgEl("polyline", { class: `line ${key}`, points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v[key]).toFixed(1)}`).join(" ") }));
    if (points.length <= 90) {
      const dots = svgEl("g", { class: `dots ${key}` });
      for (const p of points) dots.append(svgEl("circle", { class: `point ${key}`, cx: x(p.t).toFixed(1), cy: y(p.v[key]).toFixed(1), r: 2.2 },
        svgEl("title", {}, document.createTextNode(`${clock(p.t, true)}: ${p.v[key]} ${key}`))));
      svg.append(dots);
    }
  }
  // Hover areas, one per sample.
  const hover = svgEl("g", { class: "hover" });
  for (const p of points) {
    const ended = SERIES.filter((s) => s.kind === "bar" && (ALWAYS_SHOWN.has(s.key) || p.v[s.key])).map((s) => `${p.v[s.key]} ${s.name}`).join(", ");
    hover.append(svgEl("rect", { class: "sample", "data-t": new Date(p.t).toISOString(), x: x(p.t) - slot, y: T, width: Math.max(2, slot), height: ph },
      svgEl("title", {}, document.createTextNode(`${clock(p.t, true)} · ${p.v.pending} pending, ${p.v.running} running · ended in the ${interval} s before: ${ended}`))));
  }
  svg.append(hover);
  return svg;
}
// The latest sample's values; a rarer kind of end only when the chart shows some.
function legend(latest, seen) {
  return el("ul", { class: "legend" }, ...SERIES.filter((s) => ALWAYS_SHOWN.has(s.key) || seen.has(s.key))
    .map((s) => el("li", { class: s.key, "data-series": s.key }, el("span", { class: `swatch ${s.kind} ${s.key}`, "aria-hidden": "true" }),
      `${s.name} `, el("strong", { class: "value", text: String(latest[s.key]) }))));
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
function typesHint() {
  const every = typeHistory.interval >= 1 ? `${typeHistory.interval} s` : `${Math.round(typeHistory.interval * 1000)} ms`;
  if (typeHistory.source === "kernel") return `Per type: the jobs pending and running (lines) and the jobs that ended in each ${every} (bars), from the kernel's own record of the last ${Math.round(typeHistory.kept / 60)} min, updated every ${every}. Hover a moment for its values.`;
  if (typeHistory.source === "page") return "Per type: the jobs pending and running (lines) and the jobs that ended in each 2 s (bars), sampled by this page since it opened: this kernel keeps no history (it has no stats.history). Hover a moment for its values.";
  return "Per type: the jobs pending and running, and the jobs that ended, over time.";
}
const typeCards = new Map(); // type -> {card, chartKey, pauseKey}
function renderTypes() {
  const canPause = has.has("pause") && has.has("resume");
  $("#pause-all").hidden = !canPause || pausedAll;
  $("#resume-all").hidden = !canPause || !pausedAll;
  $("#types-hint").textContent = typesHint();
  if (lastStats) for (const type of Object.keys(lastStats.types || {})) knownTypes.add(type);
  const samples = typeHistory.samples;
  const cards = [...knownTypes].sort().map((type) => {
    let entry = typeCards.get(type);
    if (!entry) {
      entry = { card: el("article", { class: "card type", "data-type": type }), chartKey: null, pauseKey: null };
      entry.head = el("h3", {}, el("span", { text: type }));
      entry.figures = el("p", { class: "figures" });
      entry.figure = el("figure", {});
      entry.actions = el("div", { class: "card-actions" });
      entry.card.append(entry.head, entry.figures, entry.figure, entry.actions);
      typeCards.set(type, entry);
    }
    const info = lastStats && lastStats.types && lastStats.types[type];
    const isPaused = pausedAll || paused.has(type);
    const figures = info ? [`now ${info.pending ?? 0} pending`, `${info.scheduled ?? 0} scheduled`, `${info.running ?? 0} running`,
      `${info.success_1m ?? 0} ok and ${info.failed_1m ?? 0} failed in the last minute`] : [];
    if (info && info.concurrency) figures.push(`concurrency ${info.concurrency}`);
    entry.figures.textContent = figures.join(" · ");
    const chartKey = JSON.stringify([samples.length, samples.at(-1) && samples.at(-1).t, samples[0] && samples[0].t, typeHistory.interval]);
    if (entry.chartKey !== chartKey) {
      entry.chartKey = chartKey;
      if (samples.length) {
        const latest = valuesAt(samples.at(-1), type);
        const seen = new Set(ENDED.filter((key) => samples.some((s) => valuesAt(s, type)[key])));
        entry.figure.replaceChildren(typeChart(type, samples, typeHistory.interval), legend(latest, seen),
          el("figcaption", { text: `Latest sample ${clock(samples.at(-1).t, true)}; bars count the jobs that ended in the ${typeHistory.interval} s before each sample.` }));
      } else {
        entry.figure.replaceChildren(el("p", { class: "muted empty-chart", text: typeHistory.source === "page"
          ? "No sample yet: this page takes one every 2 s."
          : `No sample yet: the kernel records one every ${typeHistory.interval} s.` }));
      }
    }
    const pauseKey = `${canPause}/${isPaused}`;
    if (entry.pauseKey !== pauseKey) {
      entry.pauseKey = pauseKey;
      entry.head.replaceChildren(el("span", { text: type }), isPaused ? el("span", { class: "paused", text: "paused" }) : "");
      entry.actions.replaceChildren(...(canPause ? [el("button", { type: "button", text: isPaused ? "Resume" : "Pause", "aria-label": `${isPaused ? "Resume" : "Pause"} ${type}`,
        onclick: () => act(isPaused ? "Resume" : "Pause", async () => { await rpc(isPaused ? "resume" : "pause", { type }); await loadPaused(); renderTypes(); }) })] : []));
    }
    return entry.card;
  });
  const box = $("#type-cards");
  if (cards.length !== box.children.length || cards.some((card, i) => box.children[i] !== card)) box.replaceChildren(...cards);
  $("#types-empty").hidden = cards.length > 0;
}

// ---- Workers: slots, each local pool's workers, the leases of external workers, what runs --------
function meter(name, busy, total, note) {
  const bar = el("meter", { min: 0, max: Math.max(1, total), value: busy, "aria-label": `${name}: ${busy} of ${total} busy` });
  return el("article", { class: "card worker", "data-pool": name },
    el("h3", {}, el("span", { text: name }), el("span", { class: "count", text: `${busy} / ${total} busy` })),
    bar, el("p", { class: "figures", text: note || `${total - busy} idle` }));
}
function renderWorkers() {
  const stats = lastStats;
  if (!stats) return;
  const cards = [];
  for (const [name, pool] of Object.entries(stats.pools || {})) cards.push(meter(`pool ${name}`, pool.busy || 0, pool.total || 0));
  for (const [name, lane] of Object.entries(stats.lanes || {})) cards.push(meter(`lane ${name}`, lane.busy || 0, lane.total || 0,
    `${(lane.total || 0) - (lane.busy || 0)} idle · slots shared by the pools' ${name} jobs`));
  cards.push(el("article", { class: "card worker", "data-pool": "leases" },
    el("h3", {}, el("span", { text: "external workers" }), el("span", { class: "count", id: "lease-count", text: `${stats.leases || 0} lease${stats.leases === 1 ? "" : "s"}` })),
    el("p", { class: "figures", text: `units leased through fetch (broker: ${(stats.broker && stats.broker.kind) || "?"}) · ${stats.queued_units ?? 0} units queued for a slot · ${stats.connections ?? 0} client connections` })));
  const key = JSON.stringify([stats.pools, stats.lanes, stats.leases, stats.broker, stats.queued_units, stats.connections]);
  if ($("#worker-cards").dataset.key !== key) { $("#worker-cards").dataset.key = key; $("#worker-cards").replaceChildren(...cards); }
}
// How long ago, as "12 s", "3 min 4 s", "2 h 5 min".
function span(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ""}`;
  return `${Math.floor(s / 3600)} h${Math.floor(s % 3600 / 60) ? ` ${Math.floor(s % 3600 / 60)} min` : ""}`;
}
// The clocks of the workers view: "for 12 s" since a worker's state began, "expires in 21 s" of a
// lease (red under 5 s). They tick in the page between two answers of `workers`.
function tickClocks() {
  const now = Date.now();
  for (const time of document.querySelectorAll("#view-workers time.since")) time.textContent = `for ${span((now - new Date(time.dateTime).getTime()) / 1000)}`;
  for (const time of document.querySelectorAll("#view-workers time.expires")) {
    const left = (new Date(time.dateTime).getTime() - now) / 1000;
    time.textContent = left > 0 ? `expires in ${Math.ceil(left)} s` : `expired ${span(-left)} ago`;
    time.classList.toggle("soon", left < 5);
    time.dataset.left = String(Math.ceil(left));
  }
}
// A redraw of `box` keeps keyboard focus on the link to the same place, if it is still there.
function keepFocus(box, redraw) {
  const focused = box.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
  redraw();
  if (focused) { const again = [...box.querySelectorAll("a[href]")].find((a) => a.getAttribute("href") === focused); if (again) again.focus(); }
}
const workersView = { timer: null, soon: null, supported: true, key: null };
const WORKERS_FAILED = "Loading the workers failed.";
function jobLink(job) {
  if (!job) return el("span", { class: "muted", text: "–" });
  const known = jobs.get(job.id);
  const label = job.label || (known && labelOf(known));
  return el("span", { class: "job-ref" }, el("a", { href: `#/job/${job.id}`, class: "job-link", "data-job-id": job.id, text: job.id }), " ",
    el("span", { class: label ? "label" : "muted", text: label || job.type }));
}
const WORKER_STATE = { busy: "running", idle: "idle", starting: "pending", stopping: "cancelled" };
function poolBlock(pool) {
  const workers = pool.workers || [];
  const busy = workers.filter((w) => w.state === "busy").length;
  const cap = pool.concurrency ? `concurrency ${pool.concurrency}` : "no concurrency cap of its own";
  const kind = pool.persistent ? "persistent workers" : "a process per job";
  return el("article", { class: "pool", "data-pool-type": pool.type },
    el("h4", {}, el("span", { text: pool.type }), el("span", { class: "count",
      text: `${busy} busy of ${workers.length} worker${workers.length === 1 ? "" : "s"} · ${cap} · ${kind}` })),
    workers.length ? el("div", { class: "table-wrap" }, el("table", { class: "pool-workers" },
      el("thead", {}, el("tr", {}, ...["PID", "State", "Job", "In this state"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...workers.map((w) => el("tr", { "data-pid": w.pid === null ? "" : String(w.pid), "data-state": w.state },
        w.pid === null ? el("td", { class: "pid muted", title: "no process yet", text: "–" }) : el("td", { class: "pid", text: String(w.pid) }),
        el("td", {}, el("span", { class: `status worker-state ${WORKER_STATE[w.state] || ""}`, text: w.state })),
        el("td", { class: "job" }, jobLink(w.job)),
        el("td", {}, w.since ? el("time", { class: "since", datetime: w.since, title: when(w.since) }) : "–"))))))
      : el("p", { class: "muted", text: pool.persistent ? "No worker process now: they start with the kernel or when a job of this type comes." : "No worker process now: one starts for each job of this type." }));
}
function renderPools(pools) {
  const total = pools.reduce((n, p) => n + (p.workers || []).length, 0);
  const empty = $("#pools-empty");
  empty.textContent = pools.length ? "No local pool has workers yet: a pool starts them when a job of its type runs." : "This kernel has no local pool: no type runs inside it (mode internal).";
  empty.hidden = total > 0;
  const withWorkers = pools.filter((p) => (p.workers || []).length);
  const without = pools.filter((p) => !(p.workers || []).length);
  const idle = without.length ? [el("p", { class: "idle-pools muted" }, `${withWorkers.length ? "Pools without a worker now" : "Pools"}: `,
    ...without.flatMap((p, i) => [i ? ", " : "", el("span", { "data-pool-type": p.type, text: `${p.type} (${p.concurrency ? `concurrency ${p.concurrency}` : "no cap"})` })]))] : [];
  $("#pools").replaceChildren(...withWorkers.map(poolBlock), ...idle);
}
function renderLeases(leases) {
  $("#leases tbody").replaceChildren(...leases.map((lease) => el("tr", { "data-lease": lease.lease, "data-job-id": lease.job ? lease.job.id : "" },
    el("td", {}, el("code", { text: lease.lease })), el("td", { class: "job", title: typeof lease.index === "number" ? `unit ${lease.index} of the job` : null }, jobLink(lease.job)),
    el("td", { text: lease.worker || "unnamed worker", class: lease.worker ? "" : "muted" }),
    el("td", {}, lease.expires_at ? el("time", { class: "expires", datetime: lease.expires_at, title: when(lease.expires_at) }) : "–"))));
  $("#leases").closest(".table-wrap").hidden = leases.length === 0;
  $("#leases-empty").hidden = leases.length > 0;
}
async function loadWorkers() {
  if (!workersView.supported) return;
  let result;
  try { result = await rpc("workers"); }
  catch (error) {
    if (error.code === -32601) {
      workersView.supported = false;
      $("#pools").replaceChildren();
      $("#pools-empty").textContent = "This kernel does not list its workers (it has no workers method): upgrade jobkernel to see each worker and lease. The slots and the running jobs below come from stats and list.";
      $("#pools-empty").hidden = false;
      $("#leases-section").hidden = true;
    } else if (error.status !== 503 && error.status !== 0) notice(`${WORKERS_FAILED} ${error.message}`);
    return;
  }
  if (route.view !== "workers") return;
  if ($("#notice").textContent.startsWith(WORKERS_FAILED)) notice("");
  // Redrawn only when something changed, so that a focused link or a hover stays put.
  const key = JSON.stringify(result);
  if (workersView.key !== key) {
    workersView.key = key;
    keepFocus($("#pools"), () => renderPools(result.pools || []));
    keepFocus($("#leases"), () => renderLeases(result.leases || []));
  }
  tickClocks();
}
// Open: every 2 s, and soon after a job changes status (a worker took or finished one).
function followWorkers() {
  clearInterval(workersView.timer);
  workersView.timer = setInterval(() => { if (route.view === "workers") { loadWorkers(); loadRunning(); } else clearInterval(workersView.timer); }, 2000);
}
function loadWorkersSoon() {
  if (workersView.soon) return;
  workersView.soon = setTimeout(() => { workersView.soon = null; if (route.view === "workers") { loadWorkers(); loadRunning(); } }, 300);
}
function openWorkers() {
  workersView.key = null;
  renderWorkers();
  loadWorkers();
  loadRunning();
  followWorkers();
}
const RUNNING_FAILED = "Loading the running jobs failed.";
async function loadRunning() {
  // Asked every 2 s: a failure is said once in the notice, and a later answer clears it.
  let result;
  try { result = await rpc("list", { status: "running", limit: 200 }); }
  catch (error) {
    if (error.status !== 503 && error.status !== 0) notice(`${RUNNING_FAILED} ${error.message}`);
    return;
  }
  if (route.view !== "workers") return;
  if ($("#notice").textContent.startsWith(RUNNING_FAILED)) notice("");
  const where = { internal: "pool internal", sync_api: "pool sync_api", async_api: "leased to an external worker" };
  keepFocus($("#running-jobs"), () => $("#running-jobs tbody").replaceChildren(...result.jobs.map((listed) => {
    const job = newest(listed);
    return el("tr", { "data-job-id": job.id }, el("td", {}, el("a", { href: `#/job/${job.id}`, text: job.id })), whatCell(job),
      el("td", { text: job.type }), el("td", { text: where[job.dispatch_mode] || job.dispatch_mode }),
      el("td", {}, timeCell(job.started_at)), el("td", { class: "wide" }, progressCell(job)));
  })));
  $("#running-empty").hidden = result.jobs.length > 0;
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

// ---- Live events from GET /events, and whether the kernel and the gateway answer -------------
// The event stream alone cannot tell: the gateway keeps it open while the kernel is away (and
// resumes it with no gap when it is back). So the page also asks the kernel for `stats` every
// second: a 503 means the kernel is down, a fetch that fails that the gateway is, a 401 that the
// session ended (a restarted gateway forgets its sessions). `data-stream` on <body> is
// `connecting`, `live`, `down` (the kernel does not answer), `gateway-down` (the gateway does
// not answer), `reconnecting` (the event stream reconnects) or `closed` (the session ended: log
// in again, in another tab, and this page carries on by itself).
const streamState = { lastSeq: null, count: 0, gaps: 0 };
const conn = { source: "connecting", kernel: null, gateway: "up", timeouts: 0 };
const CONN_TEXT = {
  live: "live", connecting: "connecting…", down: "kernel down, reconnecting…", "gateway-down": "gateway down, reconnecting…",
  reconnecting: "reconnecting…", closed: "logged out: log in again",
};
function connState() {
  if (conn.gateway === "down") return "gateway-down";
  if (conn.gateway === "auth") return "closed";
  if (conn.kernel === "down") return "down";
  if (conn.source === "open") return "live";
  return conn.source === "connecting" ? "connecting" : "reconnecting";
}
function bannerFor(state) {
  const gateway = location.host;
  switch (state) {
    case "down": return ["The kernel is down or not answering. Start it again (jobkernel serve, or your service manager); "
      + "this page keeps trying every second and misses no event when it is back."];
    case "gateway-down": return [`The gateway (jobkernel web) at ${gateway} is not answering: it has stopped. Start it again on the same address `,
      el("code", { text: `jobkernel web --listen ${gateway}` }), "; this page keeps trying every second. A restarted gateway will ask you to log in again."];
    case "closed": return ["This page's session has ended: the gateway restarted, or the session's 12 hours are over. Log in again: open the new login link that jobkernel web printed, or ",
      el("a", { href: "/", target: "_blank", rel: "noopener", id: "login-again", text: "enter the token in a new tab" }),
      ". This page carries on by itself once you are logged in, and misses no event."];
    default: return null;
  }
}
function renderConn() {
  const state = connState();
  const was = document.body.dataset.stream;
  document.body.dataset.stream = state;
  document.body.dataset.kernel = conn.kernel || "unknown";
  document.body.dataset.gateway = conn.gateway;
  $("#stream-text").textContent = CONN_TEXT[state];
  const banner = $("#conn-banner");
  if (banner.dataset.state !== state) {
    banner.dataset.state = state;
    const say = bannerFor(state);
    banner.replaceChildren(...(say || []));
    banner.hidden = !say;
  }
  // Back from an outage: what failed to load meanwhile loads now (the events resume by themselves).
  if (["down", "gateway-down", "reconnecting", "closed"].includes(was) && state === "live") {
    (has.size ? Promise.resolve() : discover()).then(() => navigate(true));
  }
}
function kernelUnreachable() { conn.gateway = "up"; if (conn.kernel !== "down") { conn.kernel = "down"; renderConn(); } }
function kernelAnswered() { if (conn.kernel !== "up" || conn.gateway !== "up") { conn.kernel = "up"; conn.gateway = "up"; renderConn(); } }
function gatewayUnreachable() { if (conn.gateway !== "down") { conn.gateway = "down"; renderConn(); } }
function sessionEnded() { if (conn.gateway !== "auth") { conn.gateway = "auth"; renderConn(); } }
function setStream(state) { conn.source = state; renderConn(); }
async function probe() {
  let stats;
  try { stats = await rpc("stats", {}, { timeout: 1500 }); }
  catch (error) {
    // A slow answer is not a stopped gateway (a loaded machine); two in a row are.
    if (error.timedOut && ++conn.timeouts >= 2) gatewayUnreachable();
    return;
  }
  conn.timeouts = 0;
  kernelAnswered();
  ensureEvents();
  lastStats = stats;
  renderCounts(stats);
  if (route.view === "workers") renderWorkers();
  sampleStats(stats);
  if (route.view === "types") renderTypes();
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
      if (route.view === "jobs" && listState.after.length === 0 && matches(data.job, listState.filters)) reloadSoon();
      break;
    case "job.status": {
      apply(data.job);
      noteEnded(data.job, data.to);
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
let events = null;
function connectEvents() {
  // EventSource resumes by itself with Last-Event-ID; the gateway replays what was missed. A
  // stream that gave up (a 401 from a restarted gateway) is opened anew from the last seq seen.
  if (events) events.close();
  const source = new EventSource(streamState.lastSeq === null ? "/events" : `/events?since=${streamState.lastSeq}`);
  events = source;
  source.addEventListener("open", () => { if (events === source) setStream("open"); });
  source.addEventListener("subscribed", (e) => {
    if (events !== source) return;
    kernelAnswered();
    setStream("open");
    const seq = JSON.parse(e.data).seq;
    if (streamState.lastSeq === null) { streamState.lastSeq = Number(e.lastEventId || seq); document.body.dataset.lastSeq = String(streamState.lastSeq); $("#last-seq").textContent = String(streamState.lastSeq); }
  });
  source.addEventListener("message", (e) => { if (events !== source) return; try { onEvent(JSON.parse(e.data)); } catch (error) { console.error(error); } });
  source.addEventListener("reset", () => {
    if (events !== source) return;
    // The kernel no longer has the events after our seq (a new database, or trimmed): start over.
    streamState.lastSeq = null;
    notice("The kernel's event log restarted; the page reloaded its data.");
    route.view === "job" ? openJob(route.id) : loadJobs();
  });
  source.addEventListener("error", () => {
    if (events !== source) return;
    setStream(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
    probe(); // says at once whether the gateway, the kernel or the session is what went away
  });
}
function ensureEvents() { if (!events || events.readyState === EventSource.CLOSED) connectEvents(); }

// ---- Routing -----------------------------------------------------------------------------
const route = { view: "jobs", id: null };
const VIEWS = ["jobs", "job", "types", "workers", "settings"];
function show(view) {
  for (const name of VIEWS) $(`#view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("header nav a")) {
    const target = link.getAttribute("href").slice(2) || "jobs";
    link.toggleAttribute("aria-current", target === view || (view === "job" && target === "jobs"));
    if (link.hasAttribute("aria-current")) link.setAttribute("aria-current", "page");
  }
}
// `again`: the same view is drawn anew (the kernel is back), not opened.
function navigate(again) {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = hash.split("?");
  const [view, id] = path.split("/");
  if (view !== "job") closeJobStream();
  if (view === "job" && id) { route.view = "job"; route.id = decodeURIComponent(id); show("job"); openJob(route.id); }
  else if (view === "types") { route.view = "types"; route.id = null; show("types"); openTypes(); }
  else if (view === "workers") { route.view = "workers"; route.id = null; show("workers"); openWorkers(); }
  else if (view === "settings") { route.view = "settings"; route.id = null; show("settings"); loadToggles(); }
  else {
    const state = readListURL(new URLSearchParams(query));
    if (JSON.stringify(state.filters) !== JSON.stringify(listState.filters) || state.q !== listState.q) { selected.clear(); selectedAllMatching = false; }
    Object.assign(listState, state);
    route.view = "jobs"; route.id = null; show("jobs"); fillForm(); loadJobs();
    if (again !== true) notice("");
  }
}

async function start() {
  setStream("connecting");
  connectEvents();
  await discover();
  $("#filters").addEventListener("submit", (e) => { e.preventDefault(); formToURL(); });
  $("#filters").addEventListener("reset", () => setTimeout(formToURL, 0));
  for (const select of ["#f-status", "#f-mode", "#f-limit"]) $(select).addEventListener("change", formToURL);
  // The search filters the loaded page as one types; the URL follows once typing pauses.
  let typing = null;
  $("#f-q").addEventListener("input", () => {
    listState.q = $("#f-q").value.trim(); applySearch();
    clearTimeout(typing);
    typing = setTimeout(() => history.replaceState(null, "", listURL(currentList())), 300);
  });
  $("#page-older").addEventListener("click", () => {
    if (listState.next) go(listURL({ ...currentList(), after: [...listState.after, listState.next] }));
  });
  $("#page-newer").addEventListener("click", () => go(listURL({ ...currentList(), after: listState.after.slice(0, -1) })));
  $("#select-page").addEventListener("change", (e) => selectPage(e.target.checked));
  $("#select-matching").addEventListener("click", selectAllMatching);
  $("#bulk-clear").addEventListener("click", () => selectPage(false) || (selected.clear(), renderBulk()));
  for (const action of Object.keys(BULK)) $(`#bulk-${action}`).addEventListener("click", () => bulk(action));
  $("#items-more").addEventListener("click", () => loadItems(jobPage.id, false));
  $("#pause-all").addEventListener("click", () => act("Pause", async () => { await rpc("pause", {}); await loadPaused(); renderTypes(); }));
  $("#resume-all").addEventListener("click", () => act("Resume", async () => { await rpc("resume", {}); await loadPaused(); renderTypes(); }));
  window.addEventListener("hashchange", () => navigate());
  navigate();
  probe();
  setInterval(probe, 1000);
  // Rates, ETAs, relative times and durations age; redraw them now and then.
  setInterval(() => {
    for (const job of jobs.values()) if (job.status === "running") renderJobRow(job);
    for (const time of document.querySelectorAll("time.ago")) if (time.dateTime) time.textContent = ago(time.dateTime);
  }, 1000);
  // The workers view's clocks count seconds: a lease's countdown must not lag a second behind.
  setInterval(() => { if (route.view === "workers") tickClocks(); }, 250);
}
start();
})();
