// The YAML editor (CodeMirror 6) and the mapping from a schema error's field path to the line
// of the YAML text it names, through the `yaml` parser's source ranges.

import { EditorView, basicSetup } from "codemirror";
import { yaml as yamlLanguage } from "@codemirror/lang-yaml";
import { lintGutter, setDiagnostics } from "@codemirror/lint";
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument } from "yaml";

export function createEditor(parent, onChange) {
  const view = new EditorView({
    parent,
    extensions: [
      basicSetup,
      yamlLanguage(),
      lintGutter(),
      EditorView.lineWrapping,
      EditorView.updateListener.of((u) => { if (u.docChanged) onChange(u.state.doc.toString()); }),
    ],
  });
  return view;
}

export function setText(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

export function replaceRange(view, from, to, text) {
  view.dispatch({ changes: { from, to, insert: text } });
}

// Bring a position into the middle of the editor's own scroll box (without moving the focus).
// Only that box: EditorView.scrollIntoView also scrolls the page, which moved the Solve button
// from under a click that had just left a form field (the click then landed elsewhere).
export function reveal(view, pos) {
  const block = view.lineBlockAt(Math.min(pos, view.state.doc.length));
  view.scrollDOM.scrollTop = Math.max(0, block.top - view.scrollDOM.clientHeight / 2);
}

// Marks each error on its line: [{from, to, message}]
export function mark(view, errors) {
  const size = view.state.doc.length;
  const diagnostics = errors.map((e) => {
    const from = Math.min(Math.max(e.from ?? 0, 0), size);
    const to = Math.min(Math.max(e.to ?? from, from + 1), size);
    return { from, to: Math.max(to, from), severity: "error", message: e.message };
  });
  view.dispatch(setDiagnostics(view.state, diagnostics));
}

// YAML (or JSON, which is YAML) text -> {doc, lines, data, errors}. YAML 1.2 numbers, as the
// optimizer's own loader reads them (2.0e8 is a number).
export function parse(text) {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true, maxAliasCount: 1000 });
  const errors = doc.errors.map((e) => ({
    line: e.linePos?.[0]?.line ?? 1,
    from: e.pos?.[0] ?? 0,
    to: e.pos?.[1] ?? 0,
    message: `YAML: ${e.message.split("\n")[0]}`,
  }));
  if (errors.length) return { doc, lines, data: null, errors, source: text };
  let data;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return { doc, lines, data: null, errors: [{ line: 1, from: 0, to: 0, message: `YAML: ${err.message}` }], source: text };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { doc, lines, data: null, errors: [{ line: 1, from: 0, to: 0, message: "the document must be a mapping of fields (name, facility, hardware, ...)" }], source: text };
  }
  return { doc, lines, data, errors: [], source: text };
}

// "tiers[2] (pro).price_usd_per_mtok" -> "tiers[2].price_usd_per_mtok": the service names list
// elements by position and, in brackets, by name; the page addresses them by position.
export function plainPath(path) {
  return path.replace(/^instance(\.|$)/, "").replace(/\] \((?:[^()]|\([^()]*\))*\)(?=\.|\[|$)/g, "]");
}

export function steps(path) {
  const out = [];
  for (const m of plainPath(path).matchAll(/([^.[\]]+)|\[([^\]]+)\]/g)) {
    if (m[1] !== undefined) out.push(m[1]);
    else out.push(/^\d+$/.test(m[2]) ? Number(m[2]) : m[2]);
  }
  return out;
}

function keyOf(pair) {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

// The deepest node of `doc` along `path`: {from, to, line, exact}. A missing field points at
// its parent's line; a field's error points at its key ("grid_power_mw:"), where one reads it.
export function locate(parsed, path) {
  let node = parsed.doc.contents;
  let at = node?.range ? [node.range[0], node.range[1]] : [0, 0];
  let exact = true;
  for (const step of steps(path)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyOf(p) === String(step));
      if (!pair) { exact = false; break; }
      const start = pair.key?.range?.[0] ?? at[0];
      const end = pair.value?.range?.[1] ?? pair.key?.range?.[1] ?? start;
      at = [start, end];
      node = pair.value;
    } else if (isSeq(node) && typeof step === "number" && step < node.items.length) {
      node = node.items[step];
      if (node?.range) at = [node.range[0], node.range[1]];
    } else {
      exact = false;
      break;
    }
  }
  return { from: at[0], to: at[1], line: parsed.lines.linePos(at[0]).line, exact };
}

// Where to write a field the file leaves out, as one new text: {at, text}, or null when its parent
// mapping is not in the file either. In a block mapping the line goes after the first key whose
// value fits on its line, at that key's indent; in a flow mapping ({a: 1}) before the brace.
export function insertion(parsed, pathSteps, literal) {
  const key = String(pathSteps[pathSteps.length - 1]);
  const parent = pathSteps.length > 1 ? parsed.doc.getIn(pathSteps.slice(0, -1), true) : parsed.doc.contents;
  if (!isMap(parent) || !parent.range) return null;
  const source = parsed.source;
  if (parent.flow) {
    const close = source.lastIndexOf("}", parent.range[1]);
    if (close < parent.range[0]) return null;
    const empty = !parent.items.length;
    return { at: close, text: `${empty ? "" : ", "}${key}: ${literal}` };
  }
  const line = (offset) => parsed.lines.linePos(offset).line;
  const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.range && isScalar(p.value) && p.value.range
    && line(p.value.range[1]) === line(p.key.range[0]));  // a one-line value: its line ends the pair
  if (!pair) return null;
  const column = parsed.lines.linePos(pair.key.range[0]).col - 1;
  const eol = source.indexOf("\n", pair.value.range[1]);
  const at = eol === -1 ? source.length : eol;
  return { at, text: `\n${" ".repeat(column)}${key}: ${literal}` };
}

// The scalar's source range at `path`, to rewrite just its text (comments and layout kept).
export function scalarRange(parsed, pathSteps) {
  const node = parsed.doc.getIn(pathSteps, true);
  if (isScalar(node) && node.range) return [node.range[0], node.range[1]];
  return null;
}
