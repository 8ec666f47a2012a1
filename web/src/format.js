// Numbers as a planner reads them: money in $k/$M/$B with the unit, counts with separators.
// Every figure on the page also keeps its raw value in a data-value attribute.

const SCALES = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "k"]];

export function money(x, unit = "") {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const sign = x < 0 ? "−" : "";
  const a = Math.abs(x);
  for (const [s, suffix] of SCALES) {
    if (a >= s) return `${sign}$${(a / s).toFixed(2)}${suffix}${unit}`;
  }
  return `${sign}$${a.toFixed(2)}${unit}`;
}

export function num(x, digits = 4) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  if (x === 0) x = 0;  // no "-0"
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e15 || a < 1e-3)) return x.toExponential(3);
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  return x.toLocaleString("en-US", { maximumSignificantDigits: digits });
}

export function count(x) {
  return Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–";
}

export function percent(x, digits = 1) {
  return Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : "–";
}

// An element with text (never HTML) and optional attributes/children.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

// Fill a <table> from a header and rows of cells (a cell: text, or {text, class, value}).
export function fillTable(table, head, rows, empty = "none") {
  table.replaceChildren();
  if (!rows.length) {
    table.append(el("caption", { class: "muted", text: empty }));
    return;
  }
  const thead = el("thead");
  thead.append(el("tr", {}, ...head.map((h) => el("th", { text: h }))));
  const tbody = el("tbody");
  for (const row of rows) {
    tbody.append(el("tr", {}, ...row.map((c) => (c !== null && typeof c === "object" && !(c instanceof Node)
      ? el("td", { class: c.class, "data-value": c.value, text: c.text })
      : el("td", {}, c instanceof Node ? c : String(c))))));
  }
  table.append(thead, tbody);
}
