// The planner's page: open or upload an instance, edit it (a form for the common fields and the
// raw YAML, validated as one types), solve it, keep variants side by side, and sweep.
// Everything from an instance or a solution is inserted as text (textContent), never as HTML.

import "./style.css";
import Papa from "papaparse";
import { api, ApiError } from "./api.js";
import { createEditor, insertion, locate, mark, parse, plainPath, replaceRange, reveal, scalarRange, setText, steps } from "./editor.js";
import { clear, heatChart, mixChart, powerChart, sweepChart } from "./charts.js";
import { count, el, fillTable, money, num, percent } from "./format.js";

const $ = (id) => document.getElementById(id);

const state = {
  parsed: null,        // the editor's text, parsed (editor.parse)
  valid: false,        // the server found no error in it
  source: "",          // where the text came from (a shipped name or an uploaded file)
  loaded: "",          // the text as it was opened (an edited text is saved as a draft)
  solving: null,       // AbortController of the solve in flight
  explaining: null,    // AbortController of the explanation in flight
  plan: null,          // {instance, solution} of the last solve
  variants: [],        // [{name, instance, solution}]
  sweep: null,         // {id, parameters} of the sweep being followed
  sweepRows: null,     // the finished sweep's rows (CSV, parsed)
  validation: 0,       // sequence number: a late answer for old text is dropped
  checked: null,       // the text the last finished validation was of (valid says how it went)
  pending: null,       // {text, promise} of the validation under way
};

// --------------------------------------------------------------------------- instance and editor

const editor = createEditor($("editor"), () => { scheduleValidation(); scheduleSave(); });

// The editor's text and the kept variants live in this browser's storage too, so a reload or a
// crash loses nothing; a draft is restored at the next visit, with a way to drop it.
const DRAFT = "optimizer.draft";
const VARIANTS = "optimizer.variants";
let saveTimer = null;
function scheduleSave() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => {
    const text = editor.state.doc.toString();
    if (text !== state.loaded) store(DRAFT, { text, source: state.source, loaded: state.loaded, saved: Date.now() });
    else try { localStorage.removeItem(DRAFT); } catch { /* storage disabled */ }
  }, 500);
}

function store(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;  // full or disabled: the page works on without it
  }
}

function stored(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function saveVariants() {
  const ok = store(VARIANTS, state.variants);
  $("variants-note").textContent = ok ? "" : "(too large to keep in this browser's storage: they go with the tab)";
}

async function loadShipped() {
  const select = $("instance-select");
  try {
    const list = await api.instances();
    select.replaceChildren(...list.map((x) => el("option", { value: x.name, title: x.title, text: x.name })));
    if (!list.length) select.append(el("option", { value: "", text: "(none shipped with this installation)" }));
    const preferred = list.find((x) => x.name === "gtc2026-1gw");
    if (preferred) select.value = preferred.name;
  } catch (err) {
    select.replaceChildren(el("option", { value: "", text: "(cannot list instances)" }));
    showStatus(`cannot list the shipped instances: ${err.message}`, "error");
  }
}

async function openShipped() {
  const name = $("instance-select").value;
  if (!name) return;
  try {
    const got = await api.instance(name);
    loadText(got.text, `shipped: instances/${got.name}.yaml`);
  } catch (err) {
    showStatus(`cannot open ${name}: ${err.message}`, "error");
  }
}

function loadText(text, source, loaded = text) {
  state.source = source;
  state.loaded = loaded;  // the text as opened: an edited text is a draft
  $("draft-note").hidden = true;
  $("instance-source").textContent = `(${source})`;
  setText(editor, text);
  validateNow();
}

$("open-btn").addEventListener("click", openShipped);
$("upload").addEventListener("change", async (ev) => {
  const file = ev.target.files?.[0];
  if (!file) return;
  if (file.size > MAX_FILE_BYTES) {  // the server's own body limit (413) is stated when the text is checked
    showStatus(`${file.name} is ${(file.size / 1e6).toFixed(1)} MB: more than an instance file may be (50 MB)`, "error");
    return;
  }
  loadText(await file.text(), `uploaded: ${file.name}`);
  ev.target.value = "";
});

const MAX_FILE_BYTES = 50_000_000;  // as the optimizer's loader (schema.MAX_FILE_BYTES)
let validationTimer = null;
function scheduleValidation() {
  clearTimeout(validationTimer);
  validationTimer = setTimeout(validateNow, 250);
}

// Check the editor's text now; a check of this same text already under way is waited for, not
// repeated (Solve clicked as a field is left would otherwise wait for two).
function validateNow() {
  clearTimeout(validationTimer);
  const text = editor.state.doc.toString();
  if (state.pending?.text === text) return state.pending.promise;
  const promise = runValidation(text);
  state.pending = { text, promise };
  promise.finally(() => { if (state.pending?.promise === promise) state.pending = null; });
  return promise;
}

async function runValidation(text) {
  const seq = ++state.validation;
  const parsed = parse(text);
  state.parsed = parsed;
  state.valid = false;
  updateButtons();
  $("instance-name").textContent = parsed.data && typeof parsed.data.name === "string" ? parsed.data.name : "(no name)";
  if (parsed.data) {
    buildForm(parsed);
    $("sweep-paths").replaceChildren(...numericPaths(parsed.data).map((p) => el("option", { value: p })));  // what a sweep may vary
  }
  if (parsed.errors.length) {
    showErrors(parsed.errors.map((e) => ({ ...e, path: "" })), `YAML: ${parsed.errors[0].message.replace(/^YAML: /, "")}`);
    return;
  }
  $("validity").textContent = "checking…";
  let answer;
  try {
    answer = await api.validate(parsed.data);
  } catch (err) {
    if (seq !== state.validation) return;
    const errors = (err.errors || []).map((e) => located(parsed, e));
    showErrors(errors.length ? errors : [{ line: 1, from: 0, to: 0, path: "", message: err.message }], err.message);
    return;
  }
  if (seq !== state.validation) return;  // the text changed meanwhile
  const errors = answer.errors.map((e) => located(parsed, e));
  state.valid = answer.valid;
  state.checked = text;
  showErrors(errors, answer.valid ? "valid" : `${errors.length} error${errors.length === 1 ? "" : "s"}`);
  updateButtons();
}

function located(parsed, e) {
  const at = locate(parsed, e.path);
  return { path: plainPath(e.path), rule: e.rule, line: at.line, from: at.from, to: at.to, message: e.path ? `${e.path}: ${e.rule}` : e.rule };
}

function showErrors(errors, summary) {
  const validity = $("validity");
  validity.textContent = summary;
  validity.className = `validity ${errors.length ? "bad" : "good"}`;
  $("errors").replaceChildren(...errors.map((e) => el("li", {
    class: "error", "data-path": e.path, "data-line": e.line, text: `line ${e.line} · ${e.message}`,
    onclick: () => jumpTo(e.from),
  })));
  mark(editor, errors);
  for (const slot of document.querySelectorAll("[data-error-for]")) {
    const path = slot.getAttribute("data-error-for");
    const mine = errors.filter((e) => e.path === path || e.path.startsWith(`${path}.`) || e.path.startsWith(`${path}[`));
    slot.textContent = mine.map((e) => e.rule).join("; ");
    slot.closest(".field")?.classList.toggle("invalid", mine.length > 0);
  }
}

function jumpTo(pos) {
  editor.dispatch({ selection: { anchor: Math.min(pos, editor.state.doc.length) }, scrollIntoView: true });
  editor.focus();
}

// --------------------------------------------------------------------------- the form

// The fields a planner changes most; each edit rewrites only that value's text in the YAML.
function formFields(data) {
  const f = [
    { group: "Site", path: ["name"], label: "name", text: true },
    { group: "Site", path: ["objective"], label: "objective", choices: ["revenue", "profit", "tokens", "tokens_per_watt", "min_cost"] },
    { group: "Site", path: ["facility", "grid_power_mw"], label: "grid power", unit: "MW" },
    { group: "Site", path: ["facility", "electricity_usd_per_mwh"], label: "electricity", unit: "USD/MWh" },
    { group: "Site", path: ["facility", "liquid_cooling_mw"], label: "liquid cooling", unit: "MW heat" },
    { group: "Site", path: ["facility", "air_cooling_mw"], label: "air cooling", unit: "MW heat" },
    { group: "Site", path: ["facility", "capex_budget_usd"], label: "capex budget", unit: "USD (empty: none)", nullable: true },
    { group: "Site", path: ["facility", "discount_rate"], label: "discount rate", unit: "per year" },
  ];
  (data.facility?.halls || []).forEach((h, i) => {
    const g = `Hall ${h?.name ?? i}`;
    f.push({ group: g, path: ["facility", "halls", i, "rack_slots"], label: "rack slots", unit: "racks" });
    f.push({ group: g, path: ["facility", "halls", i, "max_rack_kw"], label: "max rack power", unit: "kW" });
  });
  (data.hardware || []).forEach((h, i) => {
    const g = `Hardware ${h?.name ?? i}`;
    f.push({ group: g, path: ["hardware", i, "capex_usd"], label: "capex", unit: "USD/rack" });
    f.push({ group: g, path: ["hardware", i, "rack_power_kw"], label: "rack power", unit: "kW" });
    f.push({ group: g, path: ["hardware", i, "max_racks"], label: "max racks", unit: "racks (empty: no cap)", nullable: true });
  });
  (data.tiers || []).forEach((t, i) => {
    const g = `Tier ${t?.name ?? i}`;
    f.push({ group: g, path: ["tiers", i, "price_usd_per_mtok"], label: "price", unit: "USD/Mtok out" });
    f.push({ group: g, path: ["tiers", i, "min_tokens_per_s"], label: "floor", unit: "tokens/s" });
    f.push({ group: g, path: ["tiers", i, "max_tokens_per_s"], label: "cap", unit: "tokens/s (empty: none)", nullable: true });
  });
  return f;
}

function pathText(p) {
  return p.reduce((s, step) => (typeof step === "number" ? `${s}[${step}]` : s ? `${s}.${step}` : step), "");
}

function valueAt(data, p) {
  return p.reduce((node, step) => (node === null || node === undefined ? undefined : node[step]), data);
}

let formShape = "";
function buildForm(parsed) {
  const fields = formFields(parsed.data).filter((f) => valueAt(parsed.data, f.path) !== undefined || f.nullable);
  const shape = JSON.stringify(fields.map((f) => [f.group, pathText(f.path)]));
  const form = $("form");
  if (shape !== formShape) {
    formShape = shape;
    const groups = new Map();
    for (const f of fields) {
      if (!groups.has(f.group)) groups.set(f.group, []);
      groups.get(f.group).push(f);
    }
    form.replaceChildren(...[...groups].map(([group, items]) => el("fieldset", {},
      el("legend", { text: group }), ...items.map(fieldRow))));
  }
  for (const input of form.querySelectorAll("[data-path]")) {
    if (input === document.activeElement) continue;
    const value = valueAt(parsed.data, steps(input.getAttribute("data-path")));
    const varies = value !== null && typeof value === "object";
    input.disabled = varies;
    input.title = varies ? "varies by year or slice: edit it in the YAML" : "";
    input.value = varies ? "(varies: edit in YAML)" : value === null || value === undefined ? "" : String(value);
  }
}

function fieldRow(f) {
  const path = pathText(f.path);
  const id = `field-${path.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const input = f.choices
    ? el("select", { id, "data-path": path }, ...f.choices.map((c) => el("option", { value: c, text: c })))
    : el("input", { id, "data-path": path, type: "text", inputmode: f.text ? undefined : "decimal", spellcheck: "false", autocomplete: "off" });
  input.addEventListener("change", () => editField(f, input.value));
  return el("div", { class: "field" },
    el("label", { for: id, text: f.label }),
    input,
    el("span", { class: "unit", text: f.unit || "" }),
    el("span", { class: "field-error", "data-error-for": path, role: "alert" }));
}

// The new value as YAML text: a number or null as typed, anything else as a quoted string (so the
// schema, not the YAML parser, says what is wrong with it).
function literal(f, raw) {
  const text = raw.trim();
  if (text === "" && f.nullable) return "null";
  if (!f.text && !f.choices && text !== "" && Number.isFinite(Number(text))) return text;
  return JSON.stringify(raw);
}

function editField(f, raw) {
  const parsed = state.parsed;
  if (!parsed || !parsed.data) return;
  const lit = literal(f, raw);
  const range = scalarRange(parsed, f.path);
  if (!range && lit === "null") return;  // left out is already none
  const added = range ? null : insertion(parsed, f.path, lit);
  if (range) {
    replaceRange(editor, range[0], range[1], lit);
  } else if (added) {  // a field the file leaves to its default: its line written in, nothing else changed
    replaceRange(editor, added.at, added.at, added.text);
  } else {  // not even its parent mapping is in the file: the document written out again
    parsed.doc.setIn(f.path, lit === "null" ? null : lit === raw.trim() ? Number(lit) : raw);
    setText(editor, parsed.doc.toString({ lineWidth: 0 }));
  }
  validateNow();
  const at = locate(state.parsed, pathText(f.path));  // show the edited line in the YAML
  if (at.exact) reveal(editor, at.from);
}

// --------------------------------------------------------------------------- solving

// Solve and Run stay enabled while an edit is being checked (a click then waits for the check
// and uses the edited text); they are off only for text known to be invalid.
function knownInvalid() {
  return !state.parsed?.data || (state.checked === editor.state.doc.toString() && !state.valid);
}

// The editor's text, checked: validates it first when the last check was of other text (an edit
// whose debounced check has not run, or is still running). null when it is invalid.
async function checkedInstance() {
  if (state.checked !== editor.state.doc.toString() || !state.valid) await validateNow();
  return state.valid && state.checked === editor.state.doc.toString() ? state.parsed.data : null;
}

function updateButtons() {
  const solving = !!state.solving;
  $("solve-btn").disabled = solving || knownInvalid();
  $("cancel-btn").disabled = !solving;
  $("keep-btn").disabled = !state.plan || !hasPlan(state.plan.solution);
  $("sweep-run").disabled = knownInvalid() || !!state.sweep;
  $("sweep-cancel").disabled = !state.sweep;
}

function showStatus(text, kind = "") {
  const s = $("solve-status");
  s.textContent = text;
  s.className = kind;
}

function hasPlan(sol) {
  return sol.metrics !== null && sol.metrics !== undefined && (sol.status === "optimal" || sol.status === "time_limit");
}

$("solve-btn").addEventListener("click", solve);
$("cancel-btn").addEventListener("click", () => state.solving?.abort());

async function solve() {
  if (state.solving) return;
  const instance = await checkedInstance();
  if (!instance) {
    showStatus("the instance has errors: fix them first (listed under the editor)", "error");
    return;
  }
  if (state.solving) return;  // a second click while the first one's check ran
  const body = { instance, regret: $("regret").checked };
  if (!$("marginal").checked || instance.uncertainty) body.marginal_values = $("marginal").checked && !instance.uncertainty;
  const objective = $("objective").value;
  if (objective) body.objective = objective;
  const limit = Number($("time-limit").value);  // empty: the server's cap
  if ($("time-limit").value !== "" && Number.isFinite(limit) && limit > 0) body.time_limit = limit;
  state.explaining?.abort();
  const ctrl = new AbortController();
  state.solving = ctrl;
  updateButtons();
  showStatus("solving…");
  const progress = $("solve-progress");
  progress.hidden = false;
  const started = performance.now();
  const tick = setInterval(() => { $("solve-elapsed").textContent = ((performance.now() - started) / 1000).toFixed(1); }, 100);
  try {
    const solution = await api.solve(body, ctrl.signal);
    state.plan = { instance, solution };
    renderPlan(instance, solution);
    if (!$("variant-name").value || $("variant-name").dataset.auto === "1") {
      $("variant-name").value = `${instance.name ?? "plan"} · ${solution.objective?.name ?? ""}`;
      $("variant-name").dataset.auto = "1";
    }
  } catch (err) {
    if (err.name === "AbortError") showStatus("cancelled (the server stopped the solve)", "warn");
    else showStatus(err instanceof ApiError ? `error ${err.status}: ${err.message}${err.errors.length ? ` (${err.errors.map((e) => `${e.path}: ${e.rule}`).join("; ")})` : ""}` : String(err), "error");
  } finally {
    clearInterval(tick);
    progress.hidden = true;
    state.solving = null;
    updateButtons();
  }
}

function statusText(sol) {
  if (sol.status === "time_limit") {
    return hasPlan(sol) ? `time_limit: the best plan found, within ${percent(sol.mip_gap, 3)} of the optimum` : "time_limit: no plan found in time";
  }
  if (sol.diagnosis || sol.status === sol.message || !sol.message) return sol.status;  // the diagnosis says why, below
  return `${sol.status} (${sol.message})`;
}

function metric(key, label, value, text, unit) {
  return el("div", { class: "metric", "data-metric": key, "data-value": Number.isFinite(value) ? value : "", "data-unit": unit },
    el("span", { class: "label", text: label }), el("span", { class: "value", text }), el("span", { class: "unit", text: unit }));
}

function renderPlan(inst, sol) {
  showStatus(statusText(sol), sol.status === "optimal" ? "good" : hasPlan(sol) ? "warn" : "error");
  const bad = $("infeasible");
  bad.hidden = !sol.diagnosis;
  bad.textContent = sol.diagnosis ? `Infeasible: ${sol.diagnosis.sentence}${sol.diagnosis.complete ? "" : " (the time limit cut the diagnosis short)"}.` : "";
  if (!hasPlan(sol)) {
    $("plan").hidden = true;
    if (!sol.diagnosis) bad.hidden = true;
    return;
  }
  $("plan").hidden = false;
  renderFutures(sol);
  renderDownloads(inst, sol);  // the server's solution as it came
  explainPlan(inst, sol);
  const shown = planOf(sol);
  renderHeadline(shown);
  renderRacks(inst, shown);
  renderTiers(shown);
  renderPower(shown);
  renderLimits(shown);
  renderWarnings(shown);
}

// A stochastic plan (MODEL.md 13.3) has its capacity at the top and each future's operation in
// uncertainty.scenarios[]; the racks, periods and fabric are the plan's own (the first stage), the
// same in every future, so the first future's solution shows them. Its power is per future.
function planOf(sol) {
  const futures = sol.uncertainty?.scenarios || [];
  if (!futures.length) return sol;
  const first = futures[0].solution;
  return {
    ...sol,
    racks: sol.racks?.length ? sol.racks : first.racks,
    periods: sol.periods?.length ? sol.periods : first.periods,
    tiers: sol.tiers?.length ? sol.tiers : first.tiers,
    fabric: sol.fabric || first.fabric,
    halls: sol.halls?.length ? sol.halls : first.halls,
    heat: sol.heat?.length ? sol.heat : first.heat,
    futures,
  };
}

function renderFutures(sol) {
  const u = sol.uncertainty;
  $("futures-block").hidden = !u;
  if (!u) return;
  const show = (x) => (x === null || x === undefined ? "–" : u.unit.startsWith("USD") ? money(x) : num(x));
  fillTable($("futures-table"), ["future", "probability", `objective (${u.unit})`],
    u.scenarios.map((s) => [s.name, num(s.probability), { text: show(s.value), value: s.value }]));
  $("futures-summary").textContent = `expected ${show(u.expected)}; CVaR at ${u.alpha}: ${show(u.cvar)}; worst: ${u.worst_scenario} at ${show(u.worst)}`
    + (u.evpi === null || u.evpi === undefined ? "" : `; EVPI ${show(u.evpi)} (what perfect foresight would be worth)`)
    + (u.vss === null || u.vss === undefined ? "" : `; VSS ${show(u.vss)} (what planning for uncertainty earns over the first future's own plan)`);
}

function renderHeadline(sol) {
  const m = sol.metrics || {};
  const items = [];
  items.push(metric("objective", `objective (${sol.objective.name}, ${sol.objective.sense})`, sol.objective.value,
    sol.objective.unit.startsWith("USD") ? money(sol.objective.value) : num(sol.objective.value), sol.objective.unit));
  const revenue = m.revenue_usd_per_year ?? m.discounted_revenue_usd;
  const revUnit = m.revenue_usd_per_year !== undefined ? "USD/yr" : "USD (discounted)";
  items.push(metric("revenue", "revenue", revenue, money(revenue), revUnit));
  const profit = m.profit_usd_per_year ?? m.npv_usd;
  items.push(metric("profit", m.profit_usd_per_year !== undefined ? "profit" : "net present value", profit, money(profit),
    m.profit_usd_per_year !== undefined ? "USD/yr" : "USD"));
  const tpj = m.tokens_per_joule ?? m.mean_tokens_per_joule;
  items.push(metric("tokens_per_joule", "tokens per joule", tpj, num(tpj, 4), "tokens/J"));
  const mw = (sol.marginal_values || []).find((v) => v.limit === "facility_power");
  items.push(metric("marginal_mw", "one more MW of grid is worth", mw ? mw.value_up : NaN,
    mw ? (mw.objective_unit.startsWith("USD") ? money(mw.value_up) : num(mw.value_up)) : "not computed", mw ? mw.objective_unit : ""));
  if (m.racks !== undefined) items.push(metric("racks", "racks", m.racks, count(m.racks), "racks"));
  if (m.facility_power_mw !== undefined) items.push(metric("facility_mw", "facility power", m.facility_power_mw, num(m.facility_power_mw, 5), "MW"));
  $("headline").replaceChildren(...items);
}

function renderRacks(inst, sol) {
  if (sol.periods?.length) {  // a horizon: racks alive per year
    const names = [...new Set(sol.periods.flatMap((p) => p.racks.map((r) => r.hardware)))];
    const rows = names.map((h) => [h, ...sol.periods.map((p) => count(p.racks.filter((r) => r.hardware === h).reduce((s, r) => s + r.alive, 0)))]);
    fillTable($("racks-table"), ["hardware (racks alive)", ...sol.periods.map((p) => String(p.year))], rows);
    return;
  }
  const halls = (inst.facility?.halls || []).map((h) => h.name);
  const hw = [...new Set(sol.racks.map((r) => r.hardware))];
  const at = (h, z) => sol.racks.filter((r) => r.hardware === h && r.hall === z).reduce((s, r) => s + r.count, 0);
  const rows = hw.map((h) => [h, ...halls.map((z) => ({ text: count(at(h, z)), value: at(h, z) })),
    { text: count(halls.reduce((s, z) => s + at(h, z), 0)), value: halls.reduce((s, z) => s + at(h, z), 0), class: "total" }]);
  const slots = sol.halls?.length ? ["hall use", ...halls.map((z) => {
    const row = sol.halls.find((x) => x.hall === z);
    return row ? `${count(row.racks)} of ${count(row.slots)} slots` : "–";
  }), ""] : null;
  fillTable($("racks-table"), ["hardware", ...halls, "total"], slots ? [...rows, slots] : rows, "no racks");
}

function renderTiers(sol) {
  const tiers = sol.tiers?.length ? sol.tiers : sol.periods?.[0]?.tiers || [];
  fillTable($("tiers-table"), ["tier", "workload", "price (USD/Mtok out)", "floor (tok/s/user)", "tokens/s", "revenue (USD/yr)"],
    tiers.map((t) => [t.tier, t.workload ?? "", num(t.price_usd_per_mtok), num(t.min_interactivity),
      { text: num(t.tokens_per_s), value: t.tokens_per_s }, { text: money(t.revenue_usd_per_year), value: t.revenue_usd_per_year }]),
    "no tiers");
}

function renderPower(sol) {
  if (sol.periods?.length) {
    const label = sol.futures ? `facility power per period (future ${sol.futures[0].name})` : "facility power per period";
    powerChart($("power-chart"), sol.periods.map((p) => String(p.year)), sol.periods.map((p) => p.power), label);
    heatChart($("heat-chart"), sol.periods[0].heat);
  } else if (sol.futures) {
    powerChart($("power-chart"), sol.futures.map((s) => `future ${s.name}`), sol.futures.map((s) => s.solution.power), "facility power per future");
    heatChart($("heat-chart"), sol.heat || []);
  } else {
    powerChart($("power-chart"), ["site draw"], [sol.power], "");
    heatChart($("heat-chart"), sol.heat || []);
  }
  const first = sol.periods?.[0];
  const slices = sol.slices?.length ? sol.slices : first?.slices || [];
  $("slices-block").hidden = !slices.length;
  if (slices.length) {
    powerChart($("slices-chart"), slices.map((s) => `${s.name} (${count(s.hours)} h)`), slices.map((s) => s.power),
      sol.slices?.length ? "" : `the first period, ${first.year}`);
  }
  else clear($("slices-chart"));
  const fab = sol.fabric || sol.periods?.[0]?.fabric;
  $("fabric").replaceChildren(fab
    ? el("p", { text: `${fab.option} (${fab.technology}), ${fab.switch_tiers} switch tiers, ${count(fab.endpoint_ports)} endpoint ports, ${num(fab.power_mw)} MW, ${money(fab.capex_usd)} capex` })
    : el("p", { class: "muted", text: "no fabric in this plan" }));
}

function renderLimits(sol) {
  const binding = sol.binding?.length ? sol.binding : [];
  fillTable($("binding-table"), ["limit", "use", "limit value", "unit"],
    binding.map((b) => [b.constraint, num(b.usage, 6), num(b.limit, 6), b.unit]), "no limit binds");
  fillTable($("marginal-table"), ["limit", "value", "step", "+ step is worth", "− step costs", "unit"],
    (sol.marginal_values || []).map((v) => [v.limit, `${num(v.value)} ${v.unit}`, num(v.delta),
      num(v.value_up), num(-v.value_down), v.objective_unit]), "not computed for this plan");
}

function renderWarnings(sol) {
  const list = [...(sol.warnings || []), ...(sol.hints || []).map((h) => (typeof h === "string" ? h : JSON.stringify(h)))];
  $("warnings").replaceChildren(...(list.length ? [el("h3", { text: "Warnings" }), el("ul", {}, ...list.map((w) => el("li", { text: w })))] : []));
}

async function explainPlan(inst, sol) {
  const status = $("unchosen-status");
  const table = $("unchosen-table");
  table.replaceChildren();
  if (sol.periods?.length || inst.horizon) {
    status.textContent = "(a multi-year plan: see its periods in the report)";
    return;
  }
  if (inst.uncertainty) {
    status.textContent = "(a stochastic plan: see its futures above)";
    return;
  }
  status.textContent = "working out why…";
  const ctrl = new AbortController();
  state.explaining = ctrl;
  try {
    const exp = await api.explain({ instance: inst, solution: sol }, ctrl.signal);
    fillTable(table, ["system", "why not", "forcing one replica in costs", "capex cut needed (USD/rack)", "speed-up needed"],
      exp.not_chosen.map((e) => [e.hardware, e.no_hall || (e.forced_loss === null ? "cannot be forced in" : "it earns less than what it displaces"),
        e.forced_loss === null || e.forced_loss === undefined ? "–" : `${e.unit.startsWith("USD") ? money(e.forced_loss) : num(e.forced_loss)} ${e.unit}`,
        e.capex_cut_usd_per_rack === null || e.capex_cut_usd_per_rack === undefined ? "–" : money(e.capex_cut_usd_per_rack),
        e.speedup_needed ? `${num(e.speedup_needed, 3)}×` : "–"]), "every system is in the plan");
    status.textContent = "";
  } catch (err) {
    status.textContent = err.name === "AbortError" ? "(stopped)" : `(${err.message})`;
  } finally {
    if (state.explaining === ctrl) state.explaining = null;
  }
}

function renderDownloads(inst, sol) {
  const a = $("download-json");
  if (a.href.startsWith("blob:")) URL.revokeObjectURL(a.href);
  a.href = URL.createObjectURL(new Blob([JSON.stringify(sol, null, 2)], { type: "application/json" }));
  a.download = `${fileName(inst.name)}-solution.json`;
}

function fileName(name) {
  return String(name ?? "plan").replace(/[^a-zA-Z0-9_.-]/g, "_").slice(0, 80) || "plan";
}

$("download-report").addEventListener("click", async () => {
  if (!state.plan) return;
  const { instance, solution } = state.plan;
  const status = $("report-status");
  status.textContent = "writing the report…";
  try {
    const html = await api.report({ instance, solution });
    const link = el("a", { href: URL.createObjectURL(new Blob([html], { type: "text/html" })), download: `${fileName(instance.name)}-report.html` });
    document.body.append(link);
    link.click();
    link.remove();
    status.textContent = "";
  } catch (err) {
    status.textContent = `report failed: ${err.message}`;
  }
});

// --------------------------------------------------------------------------- variants

$("variant-name").addEventListener("input", () => { $("variant-name").dataset.auto = "0"; });
$("keep-btn").addEventListener("click", () => {
  if (!state.plan) return;
  let name = $("variant-name").value.trim() || `variant ${state.variants.length + 1}`;
  const taken = new Set(state.variants.map((v) => v.name));
  for (let i = 2; taken.has(name); i++) name = `${name.replace(/ \(\d+\)$/, "")} (${i})`;
  state.variants.push({ name, instance: state.plan.instance, solution: state.plan.solution });
  saveVariants();
  $("variant-name").dataset.auto = "1";  // the next plan gets a name of its own
  renderVariants();
});

function variantRows(variants) {
  const rackNames = [...new Set(variants.flatMap((v) => v.solution.racks.map((r) => r.hardware)))];
  const racks = (v, h) => v.solution.racks.filter((r) => r.hardware === h).reduce((s, r) => s + r.count, 0);
  const m = (v, k) => v.solution.metrics?.[k];
  const rows = [
    ["instance", (v) => String(v.instance.name ?? ""), String],
    ["objective", (v) => `${v.solution.objective.name} = ${num(v.solution.objective.value, 6)} ${v.solution.objective.unit}`, String],
    ["revenue (USD/yr)", (v) => m(v, "revenue_usd_per_year"), money],
    ["profit (USD/yr)", (v) => m(v, "profit_usd_per_year"), money],
    ["cost (USD/yr)", (v) => m(v, "cost_usd_per_year"), money],
    ["tokens/s", (v) => m(v, "tokens_per_s"), num],
    ["tokens per joule", (v) => m(v, "tokens_per_joule"), (x) => num(x, 4)],
    ["facility power (MW)", (v) => m(v, "facility_power_mw"), (x) => num(x, 6)],
    ["grid (MW)", (v) => v.solution.power?.grid_mw, num],
    ...rackNames.map((h) => [`racks: ${h}`, (v) => racks(v, h), count]),
    ["binding limits", (v) => (v.solution.binding || []).map((b) => b.constraint).sort().join(", ") || "none", String],
  ];
  return rows;
}

function renderVariants() {
  const table = $("variants-table");
  table.replaceChildren();
  const vs = state.variants;
  if (!vs.length) {
    table.append(el("caption", { class: "muted", text: "no variants kept yet: solve, then keep the plan" }));
    return;
  }
  table.append(el("thead", {}, el("tr", {}, el("th", { text: "" }), ...vs.map((v) => el("th", { "data-variant": v.name },
    el("span", { text: v.name }), " ", el("button", { type: "button", class: "small", "data-remove": v.name, title: "remove this variant", text: "×",
      onclick: () => { state.variants = state.variants.filter((x) => x !== v); saveVariants(); renderVariants(); } }))))));
  const body = el("tbody");
  for (const [label, get, show] of variantRows(vs)) {
    const values = vs.map(get);
    const keys = values.map((x) => (typeof x === "number" ? x.toPrecision(9) : String(x)));
    const differs = new Set(keys).size > 1;
    body.append(el("tr", { class: differs ? "differs" : "" }, el("th", { text: label }),
      ...values.map((x) => el("td", { "data-value": typeof x === "number" ? x : undefined, text: x === undefined || x === null ? "–" : show(x) }))));
  }
  table.append(body);
}

// --------------------------------------------------------------------------- sweeps

function numericPaths(data) {
  const out = [];
  const walk = (node, path) => {
    if (typeof node === "number") out.push(path);
    else if (Array.isArray(node)) node.forEach((x, i) => walk(x, `${path}[${x && typeof x === "object" && typeof x.name === "string" ? x.name : i}]`));
    else if (node && typeof node === "object") for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
  };
  walk(data, "");
  return out.filter((p) => !/\.(aggregated|decode)\[/.test(p)).slice(0, 500);
}

function addParamRow(path = "", start = "", stop = "", count = 3) {
  const row = el("div", { class: "sweep-row" },
    el("label", {}, "path ", el("input", { class: "sweep-path", type: "text", list: "sweep-paths", value: path, size: 40, spellcheck: "false" })),
    el("label", {}, "from ", el("input", { class: "sweep-start", type: "text", inputmode: "decimal", value: start, size: 10 })),
    el("label", {}, "to ", el("input", { class: "sweep-stop", type: "text", inputmode: "decimal", value: stop, size: 10 })),
    el("label", {}, "points ", el("input", { class: "sweep-steps", type: "number", min: 1, value: count, size: 4 })),
    el("button", { type: "button", class: "small", title: "remove this parameter", text: "×", onclick: () => row.remove() }));
  $("sweep-params").append(row);
  return row;
}

$("sweep-add").addEventListener("click", () => addParamRow());
$("sweep-run").addEventListener("click", runSweep);
$("sweep-cancel").addEventListener("click", async () => {
  if (!state.sweep) return;
  try { await api.sweepCancel(state.sweep.id); } catch (err) { $("sweep-state").textContent = `cancel failed: ${err.message}`; }
});
$("sweep-metric").addEventListener("change", plotSweep);

function sweepParameters() {
  const params = [];
  for (const row of document.querySelectorAll("#sweep-params .sweep-row")) {
    const path = row.querySelector(".sweep-path").value.trim();
    if (!path) continue;
    params.push({ path, range: { start: Number(row.querySelector(".sweep-start").value), stop: Number(row.querySelector(".sweep-stop").value),
      count: Number(row.querySelector(".sweep-steps").value) } });
  }
  return params;
}

async function runSweep() {
  if (state.sweep) return;
  const parameters = sweepParameters();
  const stateText = $("sweep-state");
  if (!parameters.length) { stateText.textContent = "add a parameter: a path and its range"; return; }
  const instance = await checkedInstance();
  if (!instance) { stateText.textContent = "the instance has errors: fix them first (listed under the editor)"; return; }
  if (state.sweep) return;
  const body = { instance, parameters };
  if ($("objective").value) body.objective = $("objective").value;
  let job;
  try {
    job = await api.sweep(body);
  } catch (err) {
    stateText.textContent = `not started: ${err.message}${err.errors?.length ? ` (${err.errors.map((e) => `${e.path}: ${e.rule}`).join("; ")})` : ""}`;
    return;
  }
  state.sweep = { id: job.id, parameters };
  state.sweepRows = null;
  for (const id of ["sweep-csv", "sweep-parquet"]) $(id).hidden = true;
  clear($("sweep-chart"));
  clear($("sweep-mix-chart"));
  $("sweep-charts").hidden = true;
  updateButtons();
  showSweep(job);
  pollSweep();
}

function showSweep(job) {
  const bar = $("sweep-progress");
  bar.max = Math.max(job.points, 1);
  bar.value = job.done;
  const s = job.state === "running" ? `running ${job.done}/${job.points}` : job.state === "failed" ? `failed: ${job.message}`
    : job.state === "done" ? "done: reading the results…" : job.state;
  $("sweep-state").textContent = s;
}

async function pollSweep() {
  const sweep = state.sweep;
  if (!sweep) return;
  let job;
  try {
    job = await api.sweepStatus(sweep.id);
  } catch (err) {
    $("sweep-state").textContent = `lost the sweep: ${err.message}`;
    state.sweep = null;
    updateButtons();
    return;
  }
  showSweep(job);
  if (job.state === "queued" || job.state === "running") {
    setTimeout(pollSweep, 400);
    return;
  }
  state.sweep = null;
  updateButtons();
  if (job.state !== "done") return;
  const base = `/v1/sweeps/${encodeURIComponent(job.id)}/results`;
  $("sweep-csv").href = `${base}?format=csv`;
  $("sweep-csv").download = `sweep-${job.id}.csv`;
  $("sweep-parquet").href = `${base}?format=parquet`;
  $("sweep-parquet").download = `sweep-${job.id}.parquet`;
  $("sweep-csv").hidden = $("sweep-parquet").hidden = false;
  try {
    const text = await api.sweepCsv(job.id);
    const rows = Papa.parse(text.trim(), { header: true, dynamicTyping: true, skipEmptyLines: true }).data;
    state.sweepRows = { rows, parameters: sweep.parameters };
    const metrics = Object.keys(rows[0] || {}).filter((k) => !k.startsWith("racks[") && !sweep.parameters.some((p) => p.path === k)
      && rows.some((r) => typeof r[k] === "number") && k !== "point");
    const select = $("sweep-metric");
    const keep = select.value;
    select.replaceChildren(...metrics.map((k) => el("option", { value: k, text: k })));
    select.value = metrics.includes(keep) ? keep : metrics.includes("objective_value") ? "objective_value" : metrics[0];
    plotSweep();
    $("sweep-state").textContent = "done";
  } catch (err) {
    $("sweep-state").textContent = `done, but its results could not be read: ${err.message}`;
  }
}

function plotSweep() {
  const got = state.sweepRows;
  if (!got || !got.rows.length) return;
  $("sweep-charts").hidden = false;
  const xKey = got.parameters[0].path;
  const yKey = $("sweep-metric").value;
  const rows = [...got.rows].sort((a, b) => a[xKey] - b[xKey]);
  // one line per combination of the other parameters' values
  const others = got.parameters.slice(1).map((p) => p.path);
  const lines = new Map();
  for (const r of rows) {
    if (typeof r[yKey] !== "number") continue;  // a point without a plan: a gap
    const key = others.map((k) => `${k} = ${r[k]}`).join(", ") || yKey;
    if (!lines.has(key)) lines.set(key, []);
    lines.get(key).push({ x: r[xKey], y: r[yKey] });
  }
  sweepChart($("sweep-chart"), xKey, yKey, [...lines].map(([label, points]) => ({ label, points })));
  const rackKeys = Object.keys(rows[0]).filter((k) => /^racks\[[^\]]+\]$/.test(k));
  mixChart($("sweep-mix-chart"), xKey, rows.map((r) => r[xKey]),
    rackKeys.map((k) => ({ label: k.slice(6, -1), data: rows.map((r) => (typeof r[k] === "number" ? r[k] : 0)) })));
}

// --------------------------------------------------------------------------- start

const kept = stored(VARIANTS);
if (Array.isArray(kept)) state.variants = kept.filter((v) => v && typeof v.name === "string" && v.solution && v.instance);
renderVariants();
addParamRow("facility.grid_power_mw", "500", "1000", 3);
$("discard-draft").addEventListener("click", async () => {
  try { localStorage.removeItem(DRAFT); } catch { /* storage disabled */ }
  $("draft-note").hidden = true;
  await openShipped();
});
(async () => {
  await loadShipped();
  const draft = stored(DRAFT);
  if (draft && typeof draft.text === "string" && draft.text.trim()) {
    loadText(draft.text, draft.source || "a draft", typeof draft.loaded === "string" ? draft.loaded : "");
    $("draft-when").textContent = new Date(draft.saved).toLocaleString();
    $("draft-note").hidden = false;
  } else if ($("instance-select").value) {
    await openShipped();
  }
})();
