"""The planner's web page in a real browser (Debian's Chromium, driven by Playwright): a real
`optimizer serve`, the page's own clicks and uploads, and every figure it shows compared with
the library's own solve or the server's JSON. What the tests read is the page's DOM contract:
element ids (#instance-select, #editor, #errors, #headline [data-metric], #variants-table, ...)
and what each shows; docs/web.md describes the screens.

Any console error, uncaught page error, dialog or request to another origin fails the test it
happens in. With WEB_SCREENSHOTS=1 the screens are saved to docs/img/web-*.png (else to the
test's tmp_path, so a CI run leaves the tree clean)."""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
import yaml
from test_service import GTC, ROOT, Server

import optimizer
from benchmarks.generate import SIZES, synthetic
from optimizer.model.schema import read_document
from optimizer.outputs.report import money

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture says so (a skip, or a failure on CI)
    sync_playwright = expect = None

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--disable-quic"]
SHOTS = ROOT / "docs" / "img"
SOLVE_S = 30_000  # ms a solve of a shipped instance may take on a loaded CI machine (about 2.5 s alone, marginal values included)
GRID = "facility.grid_power_mw"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # a cap below the page's own default once was (60 s) fails every solve that sends that default
    srv = Server(tmp_path_factory.mktemp("web") / "data", "--host", "127.0.0.1", "--max-solves", "2", "--max-time-limit", "30")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the module. Without it (or without Playwright) the module is skipped,
    except on CI, where a missing browser must not pass as a green run."""
    missing = "playwright is not installed" if sync_playwright is None else \
        None if CHROMIUM.exists() else f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"no browser for the web page's tests: {missing}")
    expect.set_options(timeout=15_000)  # its default, 5 s, is short for a validation on a loaded CI machine
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def problems():
    """What went wrong in the page during the test, beyond its assertions."""
    return []


@pytest.fixture
def page(browser, server, problems):
    """A fresh page at the server's /, 1400x900. A console error, an uncaught error, a dialog
    (an injected script) or a request off the server's origin fails the test."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    pg = ctx.new_page()

    def console(msg):
        if msg.type == "error":
            problems.append(f"console error: {msg.text} at {msg.location}")

    def dialog(d):
        problems.append(f"a {d.type} dialog opened: {d.message!r}")
        d.dismiss()

    def request(req):
        u = urlsplit(req.url)
        if u.scheme not in ("data", "blob") and f"{u.scheme}://{u.netloc}" != server.url:
            problems.append(f"request off the server's origin: {req.method} {req.url}")

    pg.on("console", console)
    pg.on("pageerror", lambda err: problems.append(f"uncaught page error: {err}"))
    pg.on("dialog", dialog)
    pg.on("request", request)
    pg.goto(server.url + "/")
    pg.wait_for_load_state("networkidle")  # what the page does on its own at load (listing, opening) is over
    yield pg
    ctx.close()
    assert not problems, "the page misbehaved:\n" + "\n".join(problems)


@pytest.fixture
def shot(tmp_path):
    """``shot(page, "plan")`` saves a full-page PNG as web-plan.png."""
    folder = SHOTS if os.environ.get("WEB_SCREENSHOTS") == "1" else tmp_path

    def save(pg, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"web-{name}.png"
        pg.screenshot(path=str(out), full_page=True)
        return out

    return save


# --------------------------------------------------------------------------- helpers

EDITOR_TEXT = """() => {
  const el = document.querySelector('#editor .cm-content');
  const tile = el && (el.cmTile || el.cmView);  // CodeMirror >= 6.39 keeps its view on a tile, older ones on cmView
  const view = tile && ((tile.root && tile.root.view) || tile.view || (tile.rootView && tile.rootView.view));
  return view ? view.state.doc.toString() : null;
}"""

TABLE = """el => [...el.querySelectorAll('tr')].map(tr => [...tr.children].map(c => c.textContent.trim()))"""
LABELLED = """el => [...el.querySelectorAll('tr')].map(tr => ({cls: tr.className,
  cells: [...tr.children].map(c => c.textContent.trim())}))"""

CHART = """el => {
  const c = window.Chart && window.Chart.getChart(el);
  return c ? {type: c.config.type, labels: c.data.labels || [],
              datasets: c.data.datasets.map(d => ({label: d.label, data: d.data}))} : null;
}"""

SPILLS = """() => [...document.querySelectorAll('table')].filter(t => t.offsetParent !== null).filter(t => {
  const box = t.closest('section') || document.body;
  for (let e = t.parentElement; e && e !== box; e = e.parentElement) {
    const o = getComputedStyle(e).overflowX;
    if (o === 'auto' || o === 'scroll') return false;  // it scrolls: all of it can be read
  }
  return t.getBoundingClientRect().right > box.getBoundingClientRect().right + 1;
}).map(t => '#' + t.id)"""

SCALE = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


def editor_text(pg) -> str:
    text = pg.evaluate(EDITOR_TEXT)
    assert text is not None, "no CodeMirror view reachable from #editor .cm-content"
    return text


def checked(pg, action) -> None:
    """Do ``action`` and wait for the page's validation of the text it leaves: until then a
    stale "valid" may still show."""
    with pg.expect_response(lambda r: urlsplit(r.url).path == "/v1/validate"):
        action()


def set_editor(pg, text: str, parses: bool = True) -> None:
    """Replace the editor's text (text that does not parse is never sent for validation)."""
    box = pg.locator("#editor .cm-content")
    if parses:
        checked(pg, lambda: box.fill(text))
    else:
        box.fill(text)
    assert editor_text(pg) == text


def upload(pg, path: Path) -> None:
    checked(pg, lambda: pg.set_input_files("#upload", str(path)))


def load(pg, name: str = "gtc2026-1gw") -> None:
    pg.select_option("#instance-select", name)
    checked(pg, lambda: pg.click("#open-btn"))
    expect(pg.locator("#instance-name")).to_have_text(read_document(ROOT / "instances" / f"{name}.yaml")["name"])
    expect(pg.locator("#validity")).to_have_text("valid")


def solve(pg, status: str = "optimal") -> None:
    """Click Solve and wait for this solve's answer. The page shows "solving" before it sends the
    request, so once the request is seen no earlier status can pass for this one."""
    with pg.expect_request(lambda r: urlsplit(r.url).path == "/v1/solve"):
        pg.click("#solve-btn")
    expect(pg.locator("#solve-status")).to_have_text(re.compile(rf"^\s*{status}\b"), timeout=SOLVE_S)


def field(pg, path: str):
    return pg.locator(f'#form [data-path="{path}"]')


def set_field(pg, path: str, value) -> None:
    """Type a value into the form and leave the field (its change event), as a planner does."""
    box = field(pg, path)
    box.fill(str(value))
    checked(pg, box.blur)


def rows(pg, selector: str) -> list[list[str]]:
    return pg.locator(selector).evaluate(TABLE)


def chart(pg, selector: str) -> dict:
    data = pg.locator(selector).evaluate(CHART)
    assert data is not None, f"no Chart.js chart on {selector} (window.Chart.getChart gave nothing)"
    return data


def shown(text: str) -> tuple[float, float]:
    """The number a label shows ("$211.34B/yr", "1,230", "0.999 tokens/J") and half its last
    digit: how far the true value may be from it at that rounding."""
    m = re.search(r"(-?)\$?\s*(-?[\d,]*\.?\d+(?:[eE][-+]?\d+)?)\s*([kKMBGT]?)", text.replace("\u2212", "-"))
    assert m, f"no number in {text!r}"
    sign, digits, unit = m.groups()
    decimals = len(digits.split(".")[1]) if "." in digits and "e" not in digits.lower() else 0
    value = float(sign + digits.replace(",", "")) * SCALE[unit]
    return value, 0.5 * 10 ** -decimals * SCALE[unit]


def numbers(data) -> list[float]:
    """Every number in a chart's data (plain numbers, {x, y} points or [a, b] bars)."""
    out = []
    for v in data:
        if isinstance(v, dict):
            out += [float(v[k]) for k in ("y", "x") if isinstance(v.get(k), (int, float))]
        elif isinstance(v, list):
            out += [float(x) for x in v if isinstance(x, (int, float))]
        elif isinstance(v, (int, float)):
            out.append(float(v))
    return out


def contains(values: list[float], x: float, rel: float = 1e-6) -> bool:
    return any(math.isclose(v, x, rel_tol=rel, abs_tol=1e-9) for v in values)


def yaml_line(text: str, path: str) -> int:
    """1-based line of a field in YAML text, from an error path such as
    ``hardware[1] (vr-nvl72).rack_power_kw`` (PyYAML's own node marks, not the page's parser)."""
    node = yaml.compose(text)
    plain = re.sub(r" \([^)]*\)", "", path)
    line = None
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", plain):
        if index:
            node = node.value[int(index)]
            line = node.start_mark.line
        else:
            k, node = next((k, v) for k, v in node.value if k.value == key)
            line = k.start_mark.line
    return line + 1


def validate(server, doc: dict) -> list[dict]:
    return httpx.post(server.url + "/v1/validate", json=doc, timeout=30).json()["errors"]


def download(pg, selector: str, folder: Path) -> Path:
    with pg.expect_download() as info:
        pg.click(selector)
    out = folder / info.value.suggested_filename
    info.value.save_as(out)
    assert info.value.failure() is None
    return out


def document(text: str, folder: Path) -> dict:
    """YAML text as the optimizer's own loader reads it (YAML 1.2 numbers: 2.0e8 is a number)."""
    path = folder / "edited.yaml"
    path.write_text(text)
    return read_document(path)


def write_yaml(doc: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


# --------------------------------------------------------------------------- tests


def test_a_shipped_instance_opens_with_its_text_and_fields(page, server, shot):
    """The select offers the server's list by name; Open puts the file's exact text in the editor."""
    listed = httpx.get(server.url + "/v1/instances").json()
    expect(page.locator('#instance-select option[value="gtc2026-1gw"]')).to_be_attached()  # filled after the page loads
    options = page.locator("#instance-select option").evaluate_all("os => os.map(o => o.value)")
    assert [i["name"] for i in listed] == [o for o in options if o], "the select offers the server's list"
    assert "gtc2026-1gw" in options and not any("/" in o for o in options)  # names, never paths
    load(page)
    text = GTC.read_text()
    assert httpx.get(server.url + "/v1/instances/gtc2026-1gw").json()["text"] == text
    assert editor_text(page) == text
    doc = read_document(GTC)
    assert float(field(page, GRID).input_value()) == doc["facility"]["grid_power_mw"]
    assert field(page, "objective").input_value() == doc["objective"]
    expect(page.locator("#errors li")).to_have_count(0)
    assert set(page.locator("#upload").get_attribute("accept").split(",")) == {".yaml", ".yml", ".json"}
    shot(page, "instance")


def test_a_form_edit_shows_the_error_at_its_field_and_yaml_line(page, server, shot, tmp_path):
    """The server's rule beside the field, in the list and on the YAML line PyYAML finds for it."""
    load(page)
    set_field(page, GRID, -5)
    doc = read_document(GTC)
    doc["facility"]["grid_power_mw"] = -5
    expected = validate(server, doc)
    assert [e["path"] for e in expected] == [GRID]
    rule = expected[0]["rule"]
    expect(page.locator(f'[data-error-for="{GRID}"]')).to_have_text(rule)
    item = page.locator(f'#errors li.error[data-path="{GRID}"]')
    expect(item).to_have_count(1)
    line = yaml_line(editor_text(page), GRID)  # the form wrote the value into the editor's text
    assert document(editor_text(page), tmp_path) == doc  # that one value changed, nothing else
    assert editor_text(page) == GTC.read_text().replace("grid_power_mw: 1000 ", "grid_power_mw: -5 ", 1)  # comments, layout kept
    assert item.get_attribute("data-line") == str(line)
    expect(item).to_have_text(f"line {line} · {GRID}: {rule}")
    expect(page.locator("#errors li")).to_have_count(1)
    expect(page.locator("#validity")).to_have_text(re.compile(r"^1 errors?$"))
    expect(page.locator("#editor .cm-lintRange-error, #editor .cm-lint-marker-error").first).to_be_attached()
    shot(page, "validation")
    set_field(page, GRID, 1000)
    expect(page.locator("#validity")).to_have_text("valid")
    expect(page.locator("#errors li")).to_have_count(0)
    expect(page.locator(f'[data-error-for="{GRID}"]')).to_have_text("")


def test_a_form_edit_of_a_field_the_file_leaves_out_adds_it_and_nothing_else(page, tmp_path):
    """hardware[0].max_racks (a block mapping) and the free tier's cap (a flow mapping) are not in
    the file: the form writes each in, and every other line stays as it was (comments, flow
    mappings, 2.0e8-style numbers)."""
    load(page)
    set_field(page, "hardware[0].max_racks", 10)
    set_field(page, "tiers[0].max_tokens_per_s", 3e8)
    expect(page.locator("#validity")).to_have_text("valid")
    before, after = GTC.read_text().splitlines(), editor_text(page).splitlines()
    changed = [(op, before[i1:i2], after[j1:j2]) for op, i1, i2, j1, j2 in
               difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes() if op != "equal"]
    free = next(ln for ln in before if "{name: free," in ln)
    assert sorted((op, len(a), len(b)) for op, a, b in changed) == [("insert", 0, 1), ("replace", 1, 1)], changed[:5]
    assert next(a for op, a, b in changed if op == "replace") == [free]
    doc = read_document(GTC)
    doc["hardware"][0]["max_racks"] = 10
    doc["tiers"][0]["max_tokens_per_s"] = 3e8
    assert document(editor_text(page), tmp_path) == doc


def test_a_yaml_edit_shows_its_error_line_and_a_syntax_error(page, server, tmp_path):
    """A bad value typed in the YAML names its list item by position (the form's spelling)."""
    load(page)
    text = GTC.read_text()
    assert text.count("rack_power_kw: 200 ") == 1
    bad = text.replace("rack_power_kw: 200 ", "rack_power_kw: -200 ")
    set_editor(page, bad)
    expected = validate(server, document(bad, tmp_path))
    assert len(expected) == 1
    path, rule = expected[0]["path"], expected[0]["rule"]
    item = page.locator("#errors li.error")
    expect(item).to_have_count(1)
    plain = re.sub(r" \([^)]*\)", "", path)  # the form's own spelling: list items by position
    assert item.get_attribute("data-path") == plain
    expect(page.locator(f'[data-error-for="{plain}"]')).to_have_text(rule)
    line = yaml_line(bad, path)
    assert bad.splitlines()[line - 1].strip().startswith("rack_power_kw: -200")
    assert item.get_attribute("data-line") == str(line)
    expect(item).to_have_text(f"line {line} · {path}: {rule}")
    expect(page.locator("#validity")).to_have_text(re.compile(r"^1 errors?$"))
    set_editor(page, text.replace("name: gtc2026-1gw\n", "name: [gtc2026-1gw\n"), parses=False)  # an unclosed flow sequence
    expect(page.locator("#validity")).to_have_text(re.compile(r"^YAML: \S"))
    set_editor(page, text)
    expect(page.locator("#validity")).to_have_text("valid")
    expect(page.locator("#errors li")).to_have_count(0)


def test_solve_right_after_a_form_edit_solves_the_edited_value(page):
    """A planner types a value and clicks Solve: leaving the field validates it, and that click
    must still solve (the edited value), not be swallowed by the validation it set off."""
    load(page)
    sent = []
    page.on("request", lambda r: urlsplit(r.url).path == "/v1/solve" and sent.append(r.post_data_json))
    field(page, GRID).fill("500")
    page.click("#solve-btn")
    for _ in range(150):  # the page first waits for the edit's check: seconds on a loaded CI machine
        if sent:
            break
        page.wait_for_timeout(100)
    assert [b["instance"]["facility"]["grid_power_mw"] for b in sent] == [500], "the click on Solve started no solve"
    expect(page.locator("#solve-status")).to_have_text(re.compile(r"^\s*optimal"), timeout=SOLVE_S)


def test_solve_right_after_a_yaml_edit_solves_the_edited_text(page):
    """Solve clicked at once after a YAML edit (before the page's debounced validation) must
    solve the editor's text, never the text before the edit."""
    load(page)
    sent = []
    page.on("request", lambda r: urlsplit(r.url).path == "/v1/solve" and sent.append(r.post_data_json))
    text = GTC.read_text()
    assert text.count("grid_power_mw: 1000 ") == 1
    with page.expect_response(lambda r: urlsplit(r.url).path == "/v1/solve", timeout=SOLVE_S):
        page.locator("#editor .cm-content").fill(text.replace("grid_power_mw: 1000 ", "grid_power_mw: 500 "))
        page.click("#solve-btn")
    assert [b["instance"]["facility"]["grid_power_mw"] for b in sent] == [500]
    base = read_document(GTC)
    half = {**base, "facility": {**base["facility"], "grid_power_mw": 500}}
    expect(page.locator("#solve-status")).to_have_text(re.compile(r"^\s*optimal"))
    assert float(page.locator('#headline [data-metric="revenue"]').get_attribute("data-value")) == pytest.approx(
        optimizer.solve(half).metrics.revenue_usd_per_year, rel=1e-6)


def test_a_solved_plan_shows_the_library_figures(page, server, shot, tmp_path):
    """Every figure of the plan against optimizer.solve of the same file, text at its rounding."""
    load(page)
    solve(page)
    want = optimizer.solve(read_document(GTC))
    m = want.metrics
    headline = {"revenue": m.revenue_usd_per_year, "profit": m.profit_usd_per_year, "tokens_per_joule": m.tokens_per_joule,
                "objective": want.objective.value}
    for metric, value in headline.items():
        cell = page.locator(f'#headline [data-metric="{metric}"]')
        assert float(cell.get_attribute("data-value")) == pytest.approx(value, rel=1e-6), metric
        text_value, half = shown(cell.inner_text())
        assert abs(text_value - value) <= half * 1.0001 + 1e-9 * abs(value), (metric, cell.inner_text(), value)

    got = json.loads(download(page, "#download-json", tmp_path).read_text())  # the plan the page holds
    assert got["metrics"]["revenue_usd_per_year"] == pytest.approx(m.revenue_usd_per_year, rel=1e-6)
    power = next(v for v in got["marginal_values"] if v["limit"] == "facility_power")
    marginal = float(page.locator('#headline [data-metric="marginal_mw"]').get_attribute("data-value"))
    assert any(math.isclose(marginal, power[k], rel_tol=1e-9) for k in ("value_up", "value_down")) or \
        math.isclose(marginal, (power["value_up"] - power["value_down"]) / 2, rel_tol=1e-9), (marginal, power)

    table = rows(page, "#racks-table")
    halls = [h["name"] for h in read_document(GTC)["facility"]["halls"]]
    head = table[0]
    by_hall = {h: head.index(h) for h in halls if h in head}
    assert by_hall, f"no hall column in the racks table's header {head}"
    counts = {}
    for row in table[1:]:
        for hall, col in by_hall.items():
            if col < len(row) and row[0] and re.fullmatch(r"[\d,]+", row[col]):
                counts[(row[0], hall)] = int(row[col].replace(",", ""))
    assert {k: v for k, v in counts.items() if v} == {(r.hardware, r.hall): r.count for r in want.racks}
    tiers = rows(page, "#tiers-table")
    assert sorted(r[0] for r in tiers[1:] if r and r[0] in {t.tier for t in want.tiers}) == sorted(t.tier for t in want.tiers)

    power_chart = chart(page, "#power-chart")
    values = [v for d in power_chart["datasets"] for v in numbers(d["data"])]
    assert values and contains(values, want.power.it_mw), (values, want.power)
    heat = [v for d in chart(page, "#heat-chart")["datasets"] for v in numbers(d["data"])]
    liquid = next(h for h in want.heat if h.loop == "liquid")
    assert contains(heat, liquid.load_mw) and contains(heat, liquid.capacity_mw), (heat, want.heat)

    binding = page.locator("#binding-table").inner_text()
    assert want.binding and all(b.constraint in binding for b in want.binding), binding
    expect(page.locator("#fabric")).to_contain_text(want.fabric.option)
    expect(page.locator("#infeasible")).to_be_hidden()
    expect(page.locator("#unchosen-status")).not_to_have_text(re.compile("working"), timeout=SOLVE_S)
    left_out = {h["name"] for h in read_document(GTC)["hardware"]} - {r.hardware for r in want.racks}
    assert left_out, "every system is in the plan: nothing to see in the table"
    unchosen = [r[0] for r in rows(page, "#unchosen-table")[1:]]
    assert sorted(unchosen) == sorted(left_out)

    assert page.evaluate(SPILLS) == [], "tables wider than their section, cut off at its edge"
    report = download(page, "#download-report", tmp_path).read_text()
    assert report.lstrip().lower().startswith("<!doctype html") or "<html" in report[:500].lower()
    assert f"{money(m.revenue_usd_per_year)}/yr" in report
    shot(page, "plan")


def test_a_plan_with_slices_of_the_year_plots_each_slice(page):
    """gtc2026-1gw-year: one bar per slice in #slices-chart, each part the slice's own power."""
    year = ROOT / "instances" / "gtc2026-1gw-year.yaml"
    load(page, "gtc2026-1gw-year")
    solve(page)
    want = optimizer.solve(read_document(year))
    assert want.slices
    revenue = float(page.locator('#headline [data-metric="revenue"]').get_attribute("data-value"))
    assert revenue == pytest.approx(want.metrics.revenue_usd_per_year, rel=1e-6)
    plot = chart(page, "#slices-chart")
    assert len(plot["labels"]) == len(want.slices)
    assert all(s.name in label for s, label in zip(want.slices, plot["labels"])), plot["labels"]
    it = next(d for d in plot["datasets"] if d["label"].lower().startswith("it"))
    assert numbers(it["data"]) == pytest.approx([s.power.it_mw for s in want.slices], rel=1e-6)


def test_a_running_solve_is_cancelled_and_the_server_goes_on(page, server, tmp_path):
    """The slow instance (the medium benchmark: about 20 s) is cancelled after 1 s: the page
    aborts its request, the server stops the solve (its log says so) and answers the next."""
    slow = {**synthetic(*SIZES["medium"]), "name": "slow-medium"}
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(slow))
    log = Path(server.log.name)
    stopped = log.read_text().count("a running solve was stopped")
    upload(page, path)
    expect(page.locator("#instance-name")).to_have_text("slow-medium")
    expect(page.locator("#validity")).to_have_text("valid")
    expect(page.locator("#cancel-btn")).to_be_disabled()
    if page.locator("#time-limit").count():  # should the solve outlive its cancel, it ends in 10 s
        page.fill("#time-limit", "10")
    page.click("#solve-btn")
    expect(page.locator("#cancel-btn")).to_be_enabled()
    expect(page.locator("#solve-progress")).to_be_visible()
    page.wait_for_timeout(1000)
    assert float(page.locator("#solve-elapsed").inner_text()) >= 0.5
    page.click("#cancel-btn")
    expect(page.locator("#solve-status")).to_have_text(re.compile(r"^\s*cancelled"), timeout=5000)
    expect(page.locator("#cancel-btn")).to_be_disabled()
    expect(page.locator("#solve-progress")).to_be_hidden()
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    for _ in range(40):
        if log.read_text().count("a running solve was stopped") > stopped:
            break
        page.wait_for_timeout(250)
    assert log.read_text().count("a running solve was stopped") == stopped + 1, "the server never saw the page leave"
    load(page)
    solve(page)
    assert float(page.locator('#headline [data-metric="revenue"]').get_attribute("data-value")) == pytest.approx(
        optimizer.solve(read_document(GTC)).metrics.revenue_usd_per_year, rel=1e-6)


def test_two_kept_variants_are_compared_column_by_column(page, shot):
    """Base and half the grid: revenue differs and is marked, an equal rack count is not."""
    base = read_document(GTC)
    half = {**base, "facility": {**base["facility"], "grid_power_mw": base["facility"]["grid_power_mw"] / 2}}
    a, b = optimizer.solve(base), optimizer.solve(half)
    load(page)
    solve(page)
    default = page.locator("#variant-name").input_value()
    assert base["name"] in default and base["objective"] in default, f"the default variant name {default!r}"
    page.fill("#variant-name", "base")
    page.click("#keep-btn")
    set_field(page, GRID, half["facility"]["grid_power_mw"])
    expect(page.locator("#validity")).to_have_text("valid")
    solve(page)
    page.fill("#variant-name", "half-grid")
    page.click("#keep-btn")

    expect(page.locator("#variants-table th[data-variant]")).to_have_count(2)
    expect(page.locator('#variants-table th[data-variant="base"]')).to_contain_text("base")
    expect(page.locator('#variants-table th[data-variant="half-grid"]')).to_contain_text("half-grid")
    table = page.locator("#variants-table").evaluate(LABELLED)

    def row(label: str) -> dict:
        found = [r for r in table if r["cells"] and re.search(label, r["cells"][0], re.IGNORECASE)]
        assert found, f"no row {label!r} in the variants table: {[r['cells'][:1] for r in table]}"
        return found[0]

    revenue = row(r"^revenue")
    assert "differs" in revenue["cls"].split(), revenue
    cells = revenue["cells"][-2:]
    for text, want in zip(cells, (a.metrics.revenue_usd_per_year, b.metrics.revenue_usd_per_year)):
        value, half_digit = shown(text)
        assert abs(value - want) <= half_digit * 1.0001, (text, want)

    def racks(sol):
        return {h["name"]: sum(r.count for r in sol.racks if r.hardware == h["name"]) for h in base["hardware"]}

    same = [h for h in racks(a) if racks(a)[h] == racks(b)[h] and racks(a)[h] > 0]
    assert same, "the instance's two variants share no rack count to check an equal row with"
    equal = row(re.escape(same[0]))
    assert "differs" not in equal["cls"].split(), equal
    assert page.evaluate(SPILLS) == [], "tables wider than their section, cut off at its edge"
    shot(page, "compare")
    page.click('[data-remove="half-grid"]')
    expect(page.locator("#variants-table th[data-variant]")).to_have_count(1)


def test_a_sweep_runs_and_plots_the_server_results(page, server, shot, tmp_path):
    """Three grid powers: the plotted points are the CSV's rows, the middle one the library's."""
    load(page)
    if page.locator("#sweep-params .sweep-path").count() == 0:
        page.click("#sweep-add")
    path = page.locator("#sweep-params .sweep-path").first
    listed = path.evaluate("el => el.list ? [...el.list.options].map(o => o.value) : []")
    assert GRID in listed, "the datalist offers the instance's numeric paths"
    path.fill(GRID)
    page.locator("#sweep-params .sweep-start").first.fill("500")
    page.locator("#sweep-params .sweep-stop").first.fill("1000")
    page.locator("#sweep-params .sweep-steps").first.fill("3")
    page.click("#sweep-run")
    expect(page.locator("#sweep-state")).to_have_text("done", timeout=60_000)
    progress = page.locator("#sweep-progress")
    assert progress.get_attribute("max") == "3" and float(progress.evaluate("el => el.value")) == 3

    href = page.locator("#sweep-csv").get_attribute("href")
    job = re.fullmatch(r"/v1/sweeps/([^/?]+)/results\?format=csv", href)
    assert job, href
    assert page.locator("#sweep-parquet").get_attribute("href") == f"/v1/sweeps/{job[1]}/results?format=parquet"
    text = httpx.get(f"{server.url}/v1/sweeps/{job[1]}/results", params={"format": "csv"}).text
    table = sorted(csv.DictReader(io.StringIO(text)), key=lambda r: float(r[GRID]))
    assert [float(r[GRID]) for r in table] == [500, 750, 1000]
    metric = page.locator("#sweep-metric").input_value()
    assert metric in table[0], (metric, list(table[0]))
    plot = chart(page, "#sweep-chart")
    data = plot["datasets"][0]["data"]
    ys = [float(p["y"]) if isinstance(p, dict) else float(p) for p in data]
    xs = [float(p["x"]) for p in data] if data and isinstance(data[0], dict) else [float(x) for x in plot["labels"]]
    assert sorted(xs) == [float(r[GRID]) for r in table]
    assert [y for _, y in sorted(zip(xs, ys))] == pytest.approx([float(r[metric]) for r in table], rel=1e-9)
    middle = {**read_document(GTC)}
    middle["facility"] = {**middle["facility"], "grid_power_mw": 750}
    assert float(table[1]["objective_value"]) == pytest.approx(optimizer.solve(middle).objective.value, rel=1e-6)
    mix = chart(page, "#sweep-mix-chart")
    for series in mix["datasets"]:  # racks per hardware at each point, as the CSV has them
        assert numbers(series["data"]) == [float(r[f"racks[{series['label']}]"] or 0) for r in table], series
    page.select_option("#sweep-metric", "revenue_usd_per_year")
    replot = [float(p["y"]) for p in chart(page, "#sweep-chart")["datasets"][0]["data"]]
    assert replot == pytest.approx([float(r["revenue_usd_per_year"]) for r in table], rel=1e-9)

    assert download(page, "#sweep-csv", tmp_path).read_text() == text
    parquet = download(page, "#sweep-parquet", tmp_path).read_bytes()
    assert parquet[:4] == b"PAR1" and parquet[-4:] == b"PAR1"
    import pyarrow.parquet as pq

    assert pq.read_table(io.BytesIO(parquet)).num_rows == 3
    shot(page, "sweep")

    page.locator("#sweep-params .sweep-steps").first.fill("60")  # long enough to cancel while it runs
    page.click("#sweep-run")
    expect(page.locator("#sweep-state")).to_have_text(re.compile(r"^(queued|running \d+/60)$"))
    with page.expect_request(lambda r: r.method == "DELETE" and urlsplit(r.url).path.startswith("/v1/sweeps/")):
        page.click("#sweep-cancel")
    expect(page.locator("#sweep-state")).to_have_text("cancelled", timeout=SOLVE_S)


def test_an_infeasible_instance_shows_why_and_no_plan(page, shot, tmp_path):
    """A free-tier floor of 2e12 tokens/s: the diagnosis sentence, and the previous plan gone."""
    load(page)
    solve(page)  # a plan first: the infeasible answer must clear it
    text = GTC.read_text()
    assert text.count("min_tokens_per_s: 2.0e8") == 1
    bad = text.replace("min_tokens_per_s: 2.0e8", "min_tokens_per_s: 2.0e12")  # the free tier's floor: far beyond 1 GW
    set_editor(page, bad)
    expect(page.locator("#validity")).to_have_text("valid")
    solve(page, "infeasible")
    want = optimizer.solve(document(bad, tmp_path))
    assert want.status == "infeasible"
    expect(page.locator("#infeasible")).to_be_visible()
    expect(page.locator("#infeasible")).to_contain_text(want.diagnosis.sentence)
    if page.locator("#racks-table").is_visible():
        data_rows = [r for r in rows(page, "#racks-table")[1:] if any(re.search(r"\d", c) for c in r)]
        assert not data_rows, f"the racks table still shows a plan: {data_rows}"
    revenue = page.locator('#headline [data-metric="revenue"]')
    stale = revenue.is_visible() and (revenue.get_attribute("data-value") or "")
    assert not stale, f"the headline still shows a plan: {revenue.inner_text()} ({stale})"
    shot(page, "infeasible")


def test_hostile_names_are_shown_as_text(page, problems, tmp_path):
    """Names are markup only to a page that inserts them as HTML: here they stay characters."""
    doc = read_document(GTC)
    doc["name"] = "<script>alert(1)</script>"
    doc["hardware"][2]["name"] = '<img src=x onerror="alert(2)">'  # lpx: in the plan
    doc["tiers"][4]["name"] = "<b>ultra</b>"
    scripts = page.locator("script").count()
    upload(page, write_yaml(doc, tmp_path / "hostile.yaml"))
    expect(page.locator("#instance-name")).to_have_text(doc["name"])
    expect(page.locator("#validity")).to_have_text("valid")
    solve(page)
    expect(page.locator("#racks-table")).to_contain_text(doc["hardware"][2]["name"])
    expect(page.locator("#tiers-table")).to_contain_text(doc["tiers"][4]["name"])
    page.click("#keep-btn")  # the default variant name holds the instance's name
    expect(page.locator("#variants-table th[data-variant]")).to_contain_text(doc["name"])
    set_field(page, "hardware[2].capex_usd", -1)  # an error whose path names the hardware
    expect(page.locator("#errors li")).to_contain_text(f"hardware[2] ({doc['hardware'][2]['name']}).capex_usd")
    assert page.locator("script").count() == scripts
    assert page.locator("[onerror], #racks-table b, #tiers-table b, #variants-table b, #instance-name *").count() == 0
    assert not problems


def test_the_page_and_its_assets_stay_on_their_own_origin(server):
    """The shipped index.html and assets name no other host in a tag, an import or a CSS url();
    the page sets its policy (every request the page makes is checked by the page fixture)."""
    index = httpx.get(server.url + "/")
    assert index.status_code == 200 and "default-src 'self'" in index.headers["content-security-policy"]

    class Refs(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found: list[tuple[str, str]] = []

        def handle_starttag(self, tag, attrs):
            for key, value in attrs:
                if key in ("src", "href") and value:
                    self.found.append((tag, value))

    refs = Refs()
    refs.feed(index.text)
    assets = [v for t, v in refs.found if t in ("script", "link", "img") and not v.startswith("data:")]
    assert assets, "index.html loads no asset"
    external = re.compile(r"""(?:\bimport\s*\(?\s*|\bfrom\s*|\bfetch\s*\(\s*|url\(\s*|@import\s+)["']?(https?:)?//""")
    for tag, ref in refs.found:
        u = urlsplit(urljoin(server.url + "/", ref))
        if u.scheme == "data":
            continue  # inline (the favicon "data:,"): no request at all
        assert f"{u.scheme}://{u.netloc}" == server.url, f"<{tag}> loads {ref}"
    for ref in assets:
        r = httpx.get(urljoin(server.url + "/", ref))
        assert r.status_code == 200, ref
        hit = external.search(r.text)
        assert not hit, f"{ref} reaches another host: {r.text[max(0, hit.start() - 80):hit.end() + 80]}"


SHAPES = sorted(p.stem for p in (ROOT / "instances").glob("*.yaml"))


@pytest.mark.parametrize("name", SHAPES)
def test_every_shipped_instance_is_solved_and_shown(page, name, tmp_path):
    """Every shipped shape (one period, slices, lots, an installed fleet, a horizon, futures, a
    horizon with futures) solves from the page and shows its plan: the objective is the
    server's answer, the racks table and the power chart are filled, and nothing errs in the page
    (the fixture fails the test on a console or page error). The regret table is left out (its
    (futures + 1) x futures solves are the service's, tested there)."""
    load(page, name)
    page.uncheck("#regret")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/v1/solve", timeout=SOLVE_S) as answer:
        solve(page)
    want = answer.value.json()  # the server's solution (the library's own figures are checked above, per shape)
    assert want["status"] == "optimal"
    assert want["uncertainty"] is None or not want["uncertainty"]["regret"]  # the box unchecked: no regret solves
    objective = float(page.locator('#headline [data-metric="objective"]').get_attribute("data-value"))
    assert objective == want["objective"]["value"]
    assert page.locator("#racks-table tbody tr").count() >= 1
    plot = chart(page, "#power-chart")
    assert any(numbers(d["data"]) for d in plot["datasets"])
    if want["uncertainty"] is not None:
        futures = rows(page, "#futures-table")[1:]
        assert [r[0] for r in futures] == [s["name"] for s in want["uncertainty"]["scenarios"]]
    saved = download(page, "#download-json", tmp_path)
    assert json.loads(saved.read_text()) == want  # the server's solution as it came, whatever the page shows of it
    expect(page.locator("#unchosen-status")).not_to_have_text("working out why…", timeout=SOLVE_S)


def test_an_edited_text_and_the_variants_survive_a_reload(page, tmp_path):
    """A reload (or a crash) loses nothing: the edited text comes back as a draft, which says so,
    with the kept variants; dropping the draft opens the shipped file again."""
    load(page)
    set_field(page, GRID, 700)
    solve(page)
    page.fill("#variant-name", "seven hundred")
    page.click("#keep-btn")
    expect(page.locator('#variants-table th[data-variant="seven hundred"]')).to_have_count(1)
    page.wait_for_timeout(800)  # the draft is saved half a second after the last edit
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#draft-note")).to_be_visible()
    expect(page.locator("#validity")).to_have_text("valid")
    assert document(editor_text(page), tmp_path)["facility"]["grid_power_mw"] == 700
    assert field(page, GRID).input_value() == "700"
    expect(page.locator('#variants-table th[data-variant="seven hundred"]')).to_have_count(1)
    checked(page, lambda: page.click("#discard-draft"))
    expect(page.locator("#draft-note")).to_be_hidden()
    assert editor_text(page) == GTC.read_text()
    page.wait_for_timeout(800)
    page.reload()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#draft-note")).to_be_hidden()  # the unedited file is no draft
    assert editor_text(page) == GTC.read_text()
