// jobwatch status page: polls jobs.json (the `jobwatch diagnose -o json` contract) and redraws.
// Every value from the cluster goes in through textContent, never as markup.
"use strict";

const POLL_MS = Number(document.documentElement.dataset.poll || 2000);
const FILTERS = ["namespace", "state", "job", "cronjob"];
const TROUBLE_LABEL = {
  cannot_start: "cannot start",
  failed: "failed",
  last_attempt: "last attempt",
  stalled: "stalled",
  hidden_failures: "hidden failures",
};
const view = { offset: 0, limit: 100, filters: {} };

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "data") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
  }
  return `${seconds}s`;
}

function readLocation() {
  const params = new URLSearchParams(window.location.search);
  for (const key of FILTERS) view.filters[key] = params.get(key) || "";
  view.offset = Math.max(Number(params.get("offset")) || 0, 0);
}

function query() {
  const params = new URLSearchParams();
  for (const key of FILTERS) if (view.filters[key]) params.set(key, view.filters[key]);
  if (view.offset) params.set("offset", String(view.offset));
  return params;
}

function jobRow(job) {
  const kind = job.trouble || job.state;
  const a = job.attempts;
  const e = job.last_exit;
  const s = job.stall;
  const commands = el("details", { class: "commands" }, el("summary", {}, "kubectl"));
  for (const command of job.commands) commands.append(el("code", {}, command));
  return el(
    "tr",
    { class: `job ${kind}`, data: { namespace: job.namespace, name: job.name, state: job.state } },
    el("td", { class: "name" }, `${job.namespace}/${job.name}`,
      job.cronjob ? el("small", {}, `CronJob ${job.cronjob}`) : null),
    el("td", { class: "state" }, el("span", { class: `badge ${kind}` }, TROUBLE_LABEL[job.trouble] || job.state),
      job.reason ? el("small", {}, job.reason) : null),
    el("td", { class: "attempts" }, a ? `${a.used} / ${a.limit} · ${a.remaining} left` : "–"),
    el("td", { class: "exit" }, e ? `${e.meaning}` : "–",
      e ? el("small", {}, `${e.reason || "no reason"} in ${e.pod}/${e.container}`) : null),
    el("td", { class: "stall" }, s ? s.reason : "–", s && s.age_seconds !== null ? el("small", {}, `for ${age(s.age_seconds)}`) : null),
    el("td", { class: "advice" }, job.advice, commands),
  );
}

function cronRow(cron) {
  const last = cron.last_run;
  return el(
    "tr",
    { class: `cronjob ${cron.healthy ? "healthy" : "failing"}`, data: { namespace: cron.namespace, name: cron.name } },
    el("td", {}, `${cron.namespace}/${cron.name}`),
    el("td", {}, last ? `${last.state}${last.reason ? ` (${last.reason})` : ""}` : "–"),
    el("td", {}, cron.last_success_age_seconds === null
      ? `never (watched ${age(cron.watched_seconds)})`
      : `${age(cron.last_success_age_seconds)} ago`),
    el("td", { class: "streak" }, String(cron.consecutive_failures)),
  );
}

function fillNamespaces(namespaces) {
  const select = document.getElementById("namespace");
  const wanted = ["", ...namespaces];
  if (view.filters.namespace && !wanted.includes(view.filters.namespace)) wanted.push(view.filters.namespace);
  const have = Array.from(select.options, (o) => o.value);
  if (have.join("\n") !== wanted.join("\n")) {
    select.replaceChildren(...wanted.map((ns) => el("option", { value: ns }, ns || "all")));
  }
  select.value = view.filters.namespace;
}

function summary(doc) {
  const chips = [el("span", { class: "chip total" }, `${doc.total} Jobs`)];
  chips.push(el("span", { class: `chip ${doc.counts.in_trouble ? "trouble" : "ok"}` }, `${doc.counts.in_trouble} in trouble`));
  for (const [kind, n] of Object.entries(doc.counts.trouble)) {
    chips.push(el("span", { class: `chip ${kind}` }, `${n} ${TROUBLE_LABEL[kind] || kind}`));
  }
  document.getElementById("summary").replaceChildren(...chips);
}

function selection() {
  const parts = [];
  for (const key of ["job", "cronjob"]) {
    if (!view.filters[key]) continue;
    const clear = el("button", { type: "button", class: "clear" }, "×");
    clear.addEventListener("click", () => { view.filters[key] = ""; changed(); });
    parts.push(el("span", { class: "chip" }, `${key} ${view.filters[key]} `, clear));
  }
  document.getElementById("selection").replaceChildren(...parts);
}

// What the exporter cannot see (a refused or misconfigured resource) or still waits for: the
// page must not look complete when it is not.
function problems(exporter) {
  const section = document.getElementById("problems");
  const lines = [];
  for (const what of (exporter && exporter.unavailable) || []) lines.push(el("p", {}, `not exported: ${what}`));
  for (const what of (exporter && exporter.pending) || []) lines.push(el("p", {}, `waiting for the first list of ${what}`));
  section.replaceChildren(...lines);
  section.hidden = lines.length === 0;
}

function draw(doc) {
  problems(doc.exporter);
  summary(doc);
  fillNamespaces(doc.namespaces);
  document.getElementById("state").value = view.filters.state;
  selection();
  const rows = doc.jobs.map(jobRow);
  if (!rows.length) rows.push(el("tr", { class: "empty" }, el("td", { colspan: "6" }, "no Jobs match")));
  document.querySelector("#jobs tbody").replaceChildren(...rows);
  const first = doc.matched ? doc.offset + 1 : 0;
  document.getElementById("shown").textContent =
    `${first}–${doc.offset + doc.jobs.length} of ${doc.matched} matching (${doc.total} in all)`;
  document.getElementById("prev").disabled = doc.offset === 0;
  document.getElementById("next").disabled = doc.offset + doc.jobs.length >= doc.matched;
  view.limit = doc.jobs.length || view.limit;
  const crons = doc.cronjobs.map(cronRow);
  if (!crons.length) crons.push(el("tr", { class: "empty" }, el("td", { colspan: "4" }, "no CronJobs")));
  document.querySelector("#cronjobs tbody").replaceChildren(...crons);
}

let inflight = null;
async function refresh() {
  if (inflight) inflight.abort();
  const controller = new AbortController();
  inflight = controller;
  const live = document.getElementById("live");
  try {
    const response = await fetch(`jobs.json?${query()}`, { signal: controller.signal, headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${response.status} ${(await response.text()).trim()}`);
    const doc = await response.json();
    draw(doc);
    live.textContent = `live · updated ${doc.generated_at}`;
    live.className = "live ok";
  } catch (error) {
    if (error.name === "AbortError") return;
    live.textContent = `cannot reach the exporter: ${error.message}`;
    live.className = "live down";
  } finally {
    if (inflight === controller) inflight = null;
  }
}

function changed() {
  view.offset = 0;
  const params = query();
  window.history.replaceState(null, "", params.toString() ? `?${params}` : window.location.pathname);
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  readLocation();
  for (const key of ["namespace", "state"]) {
    document.getElementById(key).addEventListener("change", (event) => {
      view.filters[key] = event.target.value;
      changed();
    });
  }
  document.getElementById("prev").addEventListener("click", () => {
    view.offset = Math.max(view.offset - view.limit, 0);
    refresh();
  });
  document.getElementById("next").addEventListener("click", () => {
    view.offset += view.limit;
    refresh();
  });
  refresh();
  window.setInterval(refresh, POLL_MS);
});
