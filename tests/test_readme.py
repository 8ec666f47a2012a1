"""The README's Quick start is what CI runs, and every code example in the README runs as written.

The examples are read from README.md by section heading and fence language, never copied here,
so a changed example is tested as changed. They run in subprocesses, from a temporary directory
laid out like the repository root for their relative paths (``instances`` is a symlink to the
repository's), so nothing they write lands in the repository.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from optimizer.model.schema import _Loader, read_document  # the YAML the optimizer reads: 3.0e6 is a number

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent  # where this environment's `optimizer` command is

# What the examples write in the directory they run from: none of it may appear in the repository.
WRITTEN = ("plan.json", "results.parquet", "results.parquet.journal", "gtc.json", "optimizer-data")


def quick_start_commands() -> list[str]:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands():
    cmds = quick_start_commands()
    assert len(cmds) == 2
    assert "optimizer solve instances/" in cmds[0]
    assert "pytest" in cmds[1]
    assert all("pip install -c constraints.txt " in c for c in cmds)  # the tested versions, on any machine


def test_constraints_pin_every_dependency_exactly():
    """constraints.txt pins, with ==, every package the test environment needs (so a new
    release cannot change what a fresh machine installs), and each pin satisfies pyproject's
    lower bound."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[name.lower().replace("_", "-")] = Version(version)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"] + project["optional-dependencies"]["test"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name]), (name, str(req.specifier), pins[name])


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start_commands()[1] in ci


# --------------------------------------------------------------------------- reading the README


def section(heading: str) -> str:
    """The text of the README's ``## heading`` section, up to the next ``## `` heading."""
    text = README.read_text()
    marker = f"\n## {heading}\n"
    assert marker in text, f"README.md has no section '## {heading}'"
    return text.split(marker, 1)[1].split("\n## ", 1)[0]


def block(heading: str, lang: str, *needles: str) -> str:
    """The one ```lang fenced block of a section that contains every needle."""
    blocks = re.findall(rf"^```{re.escape(lang)}\n(.*?)^```[ \t]*$", section(heading), re.S | re.M)
    found = [b for b in blocks if all(n in b for n in needles)]
    assert len(found) == 1, f"README '## {heading}': {len(found)} ```{lang} blocks contain {needles}, expected 1"
    return found[0]


def synopsis() -> dict[str, list[str]]:
    """Each command of the Command line synopsis with the options shown for it."""
    commands: dict[str, list[str]] = {}
    current = None
    for line in block("Command line", "text", "optimizer solve").splitlines():
        line = line.split("#", 1)[0]  # the comments mention options in prose (--json: ...)
        m = re.match(r"\s*optimizer\s+([a-z][a-z-]*)", line)
        if m:
            current = m[1]
            commands[current] = []
        if current is not None:
            commands[current] += re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", line[m.end() if m else 0:])
    return commands


# --------------------------------------------------------------------------- running the examples


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ)
    out["PATH"] = f"{BIN}{os.pathsep}{out.get('PATH', '')}"
    out.update(extra)
    return out


def reader_dir(tmp_path: Path) -> Path:
    """A directory where the examples' relative paths resolve as at the repository root."""
    (tmp_path / "instances").symlink_to(ROOT / "instances", target_is_directory=True)
    return tmp_path


def _snapshot() -> tuple[set[str], set[str]]:
    instances = {str(p.relative_to(ROOT)) for p in (ROOT / "instances").rglob("*")}
    return instances, {name for name in WRITTEN if (ROOT / name).exists()}


@contextlib.contextmanager
def repository_untouched():
    """Fail if an example wrote into the repository (in instances/, or its outputs at the root)."""
    before = _snapshot()
    yield
    after = _snapshot()
    assert after == before, f"an example wrote into the repository: {sorted((after[0] - before[0]) | (after[1] - before[1]))}"


def sweep_points(sweep_file: Path) -> tuple[dict, int]:
    """The sweep file and its number of points, read as the README describes them: the
    parameters combined as a grid, times the named scenarios (the base alone when none)."""
    spec = read_document(sweep_file)
    assert spec.get("mode", "grid") == "grid"
    sizes = [len(p["values"]) if "values" in p else p["range"]["count"] for p in spec["parameters"]]
    return spec, math.prod(sizes) * max(1, len(spec.get("scenarios", [])))


def assert_sweep_rows(rows: pd.DataFrame, sweep_file: Path) -> None:
    spec, n = sweep_points(sweep_file)
    bad = rows[rows["status"] != "optimal"]  # a point with status error or invalid fails here
    if len(bad):
        pytest.fail(f"{len(bad)} of {len(rows)} sweep points not optimal:\n{bad[['point', 'scenario', 'status', 'message']].to_string()}")
    assert len(rows) == n
    assert sorted(rows["point"]) == list(range(n))
    assert set(rows["scenario"]) == ({s["name"] for s in spec["scenarios"]} if spec.get("scenarios") else {""})
    for p in spec["parameters"]:
        if "values" in p:
            listed = p["values"]
        else:
            r = p["range"]
            listed = [r["start"] + (r["stop"] - r["start"]) * i / (r["count"] - 1) for i in range(r["count"])]
        assert sorted(set(rows[p["path"]])) == pytest.approx(sorted(listed)), p["path"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(proc: subprocess.Popen) -> None:
    """End the process group proc leads (a shell and everything it started), TERM then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            proc.poll()  # reap the shell itself, else its zombie keeps the group alive
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


# --------------------------------------------------------------------------- the examples


def test_python_api_example_runs_as_written(tmp_path):
    """The Python API block, run as a script from the repository root's layout: it prints the
    status, objective and unit its comment shows, then the racks; it writes a plan.json that
    parses and a results.parquet with one optimal row per point of the sweep file it names."""
    code = block("Python API", "python", "optimizer.solve(")
    shown = re.search(r"^print\(sol\.status, sol\.objective\.value, sol\.objective\.unit\)\s*#\s*(\S+) (\S+) (\S+)\s*$", code, re.M)
    assert shown, "the Python API example shows what its print gives in a comment"
    sweep_call = re.search(r'optimizer\.sweep\("([^"]+)", "([^"]+)"', code)
    assert sweep_call, "the Python API example runs a sweep file"
    sweep_file = ROOT / sweep_call[1]
    assert sweep_file.is_file(), f"the Python API example's sweep file {sweep_call[1]} is not in the repository"

    cwd = reader_dir(tmp_path)
    (cwd / "readme_example.py").write_text(code)
    with repository_untouched():
        res = subprocess.run([sys.executable, "readme_example.py"], cwd=cwd, env=env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr

    first, *rack_lines = res.stdout.splitlines()
    status, value, unit = first.split()
    assert (status, unit) == (shown[1], shown[3]), first
    digits = len(re.sub(r"\D", "", shown[2].lower().split("e")[0]))  # "6.04e+11": 3 significant digits
    assert f"{float(value):.{digits - 1}e}" == shown[2], first

    plan = json.loads((cwd / "plan.json").read_text())
    assert plan["status"] == status
    assert plan["objective"]["value"] == pytest.approx(float(value))
    assert [line.split() for line in rack_lines] == [[r["hardware"], r["hall"], str(r["count"])] for r in plan["racks"]]

    assert_sweep_rows(pd.read_parquet(cwd / sweep_call[2]), sweep_file)


def test_sweep_file_example_is_shipped_and_runs(tmp_path):
    """The sweep file block is the file it names, byte for byte; `optimizer sweep` on it exits 0
    with one optimal row per point: the grid of its parameters times its named scenarios."""
    text = block("Command line", "yaml", "base:", "parameters:")
    name = re.match(r"# (\S+)", text)
    assert name, "the sweep file example names its file in its first line"
    shipped = ROOT / name[1]
    assert shipped.is_file(), f"{name[1]} is not in the repository"
    assert shipped.read_text().strip() == text.strip()

    cwd = reader_dir(tmp_path)
    with repository_untouched():
        res = subprocess.run(["optimizer", "sweep", name[1], "-o", "out.parquet", "--jobs", "2"], cwd=cwd, env=env(),
                             capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert_sweep_rows(pd.read_parquet(cwd / "out.parquet"), shipped)


def test_service_curl_example_runs_as_written(tmp_path):
    """The Service block, run with bash on a free port (its PORT defaults to 8000 for a reader):
    the server answers the curl with a solution JSON with status optimal. The server and all it
    started are ended afterwards, whatever happened."""
    script = block("Service", "bash", "curl")
    cwd = reader_dir(tmp_path)
    port = free_port()
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    with repository_untouched(), out.open("w") as fo, err.open("w") as fe:
        proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env(PORT=str(port)), stdout=fo, stderr=fe,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait(timeout=180)
        finally:
            kill_group(proc)
    stdout, stderr = out.read_text(), err.read_text()
    assert rc == 0, stdout + stderr
    assert f":{port}" in stderr, f"the server did not listen on PORT={port}:\n{stderr}"
    # The server shares the shell's stdout: its access log line comes before the response body.
    assert "{" in stdout, stdout + stderr
    sol, _ = json.JSONDecoder().raw_decode(stdout[stdout.index("{"):])
    assert sol["status"] == "optimal", sol
    assert sol["objective"]["name"] == "revenue" and sol["objective"]["value"] > 0, sol["objective"]
    assert sol["racks"], sol


def test_web_page_example_runs_as_written(tmp_path):
    """The Web page block, run with bash on a free port: the page it names answers at /, with
    its scripts, and offers the shipped instances."""
    script = block("Web page", "bash", "optimizer serve")
    cwd = reader_dir(tmp_path)
    port = free_port()
    url = re.search(r"http://127\.0\.0\.1:\$PORT/", script)
    assert url, script
    base = f"http://127.0.0.1:{port}"
    with repository_untouched(), (cwd / "log.txt").open("w") as log:
        proc = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env(PORT=str(port)), stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            page = None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    page = httpx.get(base + "/", timeout=2)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            assert page is not None and page.status_code == 200, (cwd / "log.txt").read_text()
            assert "<title>AI factory planner</title>" in page.text
            script_src = re.search(r'src="(/assets/[^"]+\.js)"', page.text).group(1)
            assert httpx.get(base + script_src).status_code == 200
            names = [x["name"] for x in httpx.get(base + "/v1/instances").json()]
            assert "gtc2026-1gw" in names
        finally:
            kill_group(proc)


@pytest.mark.parametrize("command, options", sorted(synopsis().items()))
def test_command_line_synopsis_names_real_commands(command, options):
    """Each command of the Command line block exists, with every option shown for it."""
    res = subprocess.run(["optimizer", command, "--help"], env=env(COLUMNS="200", NO_COLOR="1"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    missing = [o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", res.stdout)]
    assert not missing, f"optimizer {command} --help has no {missing}"


def test_invalid_input_example_is_what_solve_prints(tmp_path):
    """The bad-instance lines are what `optimizer solve` prints, exit 2, for the instance they
    describe: the reference instance with a chat decode table on hardware[2] whose second point
    has interactivity 40 after 60 (and less throughput, so that is the only rule it breaks)."""
    shown = block("Command line", "text", "error: invalid input").strip()
    name = re.search(r"error: invalid input: (\S+) ", shown)[1]
    doc = read_document(ROOT / "instances" / "gtc2026-1gw.yaml")
    doc["hardware"][2]["performance"]["chat"] = {"decode": [[60, 2000], [40, 1000]]}
    (tmp_path / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    res = subprocess.run(["optimizer", "solve", name], cwd=tmp_path, env=env(COLUMNS="200", NO_COLOR="1"),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stdout + res.stderr
    assert shown in res.stderr, res.stderr


def test_horizon_snippet_makes_the_reference_instance_multi_year():
    """The horizon line, and the year map shown for grid_power_mw, merged into the shipped 1 GW
    instance, validate as a multi-year instance."""
    import optimizer

    snippet = yaml.safe_load(block("Instances", "yaml", "horizon:"))
    year_map = re.search(r"`grid_power_mw: (\{[^`]*\})`", section("Instances"))
    assert year_map, "the Instances section shows a year map for grid_power_mw"
    doc = read_document(ROOT / "instances" / "gtc2026-1gw.yaml")
    doc.update(snippet)
    doc["facility"]["grid_power_mw"] = yaml.safe_load(year_map[1])
    inst = optimizer.load_instance(doc)
    assert inst.horizon is not None
    assert inst.horizon.start_year == snippet["horizon"]["start_year"]


def test_slices_snippet_makes_the_reference_instance_sliced():
    """The slices block, with the electricity map and the tier cap map the Instances section
    shows, merged into the shipped 1 GW instance (the cap on its 'pro' tier), validates and solves
    with one entry per slice, each slice's grid and caps as written."""
    import optimizer

    snippet = yaml.safe_load(block("Instances", "yaml", "slices:"))
    text = section("Instances")
    price = re.search(r"`electricity_usd_per_mwh: (\{[^`]*\})`", text)
    cap = re.search(r"`max_tokens_per_s: (\{[^`]*\})`", text)
    assert price and cap, "the Instances section shows a map by slice for a price and for a cap"
    doc = read_document(ROOT / "instances" / "gtc2026-1gw.yaml")
    doc.update(snippet)
    doc["facility"]["electricity_usd_per_mwh"] = yaml.load(price[1], Loader=_Loader)
    pro = next(t for t in doc["tiers"] if t["name"] == "pro")
    pro["max_tokens_per_s"] = yaml.load(cap[1], Loader=_Loader)
    sol = optimizer.solve(doc)
    assert sol.status == "optimal", sol.message
    assert [s.name for s in sol.slices] == [s["name"] for s in snippet["slices"]]
    for s in sol.slices:
        assert next(t for t in s.tiers if t.tier == "pro").tokens_per_s <= pro["max_tokens_per_s"][s.name] * (1 + 1e-9)


def test_the_value_of_one_more_mw_is_the_one_the_readme_gives():
    """The Instances section says what one more MW of grid is worth on the 1 GW instance; solving
    it with marginal values gives that figure (to the three digits shown)."""
    import optimizer
    from optimizer.outputs.report import marginal_headline

    said = re.search(r"one more MW of grid is worth \$(\d+(?:\.\d+)?)M/yr", section("Instances"))
    assert said, "the Instances section gives the value of one more MW"
    sol = optimizer.solve(ROOT / "instances" / "gtc2026-1gw.yaml", marginal_values=True)
    grid = next(v for v in sol.marginal_values if v.limit == "facility_power")
    decimals = len(said[1].partition(".")[2])
    assert f"{grid.value_up / 1e6:.{decimals}f}" == said[1]
    assert f"${said[1]}M/yr" in marginal_headline(sol)


def _regret_table(text: str) -> list[list[str]]:
    """The rows of the first Markdown table in ``text`` whose header starts with '| plan'."""
    lines = text[text.index("| plan |"):].splitlines()
    return [[c.strip().strip("*") for c in line.strip("|").split("|")] for line in lines[2:] if line.startswith("|")]


def _racks_text(racks: dict[str, int]) -> str:
    short = {"gb300-nvl72": "GB300", "vr-nvl72": "VR NVL72", "lpx": "LPX"}
    return " + ".join(f"{n:,} {short[h]}" for h, n in sorted(racks.items(), key=lambda kv: list(short).index(kv[0])) if n)


def test_the_uncertainty_example_is_the_shipped_instance_and_its_figures(tmp_path):
    """The 'Planning under uncertainty' section: its YAML is the shipped instance's uncertainty
    block, its command runs, and every figure of its regret table, EVPI, VSS and risk trade is
    what solving the instance gives (revenue to $0.01B, EVPI and VSS to $2M)."""
    import optimizer

    text = section("Planning under uncertainty")
    shown = yaml.load(block("Planning under uncertainty", "yaml", "uncertainty:"), Loader=_Loader)
    path = ROOT / "instances" / "gtc2026-1gw-uncertain.yaml"
    assert shown["uncertainty"] == read_document(path)["uncertainty"]
    cmd = block("Planning under uncertainty", "bash", "optimizer solve").strip()
    with repository_untouched():
        res = subprocess.run(cmd, shell=True, cwd=reader_dir(tmp_path), env=env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    slow = read_document(path)["uncertainty"]["scenarios"][1]["name"]  # the section's "slow future"
    assert slow in res.stdout

    sol = optimizer.solve(path)
    unc = sol.uncertainty
    rows = {r.plan: r for r in unc.regret}
    table = _regret_table(text)
    assert [r[0] for r in table] == ["stochastic"] + [f"{w}'s own" for w in [o.name for o in unc.scenarios]]
    for cells in table:
        row = rows[cells[0].removesuffix("'s own")]
        assert cells[1] == _racks_text(row.racks), cells
        for shown_value, cell in zip(cells[2:-1], row.cells):
            assert abs(float(shown_value) - cell.value / 1e9) <= 0.006, (cells[0], cell.scenario)
        assert abs(float(cells[-1]) - row.expected / 1e9) <= 0.006, cells[0]
    evpi = re.search(r"Perfect foresight is worth \$([\d,]+)M/yr", text)
    vss = re.search(r"Planning for the base case costs \$([\d,]+)M/yr", text)
    ws = re.search(r"each future's own optimum, \$([\d.]+)B", text)
    assert abs(unc.evpi / 1e6 - int(evpi[1].replace(",", ""))) <= 2 and abs(unc.vss / 1e6 - int(vss[1].replace(",", ""))) <= 2
    assert abs(unc.wait_and_see / 1e9 - float(ws[1])) <= 0.006

    trade = re.search(r"At weight 0\.5\s+it buys (?:([\d,]+) GB300,\s+)?([\d,]+) VR NVL72 and ([\d,]+) LPX racks: the worst 25% rises\s+by "
                      r"\$([\d.]+)B/yr to \$([\d.]+)B, and the\s+expectation falls by \$([\d.]+)B/yr to \$([\d.]+)B", text)
    assert trade, "the section states the trade at weight 0.5"
    doc = read_document(path)
    doc["uncertainty"]["risk"] = {"alpha": 0.75, "weight": 0.5}
    half = optimizer.solve(doc, regret=False)
    racks = _racks_of(half)
    count = [int(g.replace(",", "")) if g else 0 for g in trade.groups()[:3]]
    assert (racks.get("gb300-nvl72", 0), racks.get("vr-nvl72"), racks.get("lpx")) == tuple(count)
    base = rows["stochastic"]
    assert abs(half.uncertainty.cvar / 1e9 - float(trade[5])) <= 0.006
    assert abs((half.uncertainty.cvar - base.cvar) / 1e9 - float(trade[4])) <= 0.006
    assert abs(half.uncertainty.expected / 1e9 - float(trade[7])) <= 0.006
    assert abs((base.expected - half.uncertainty.expected) / 1e9 - float(trade[6])) <= 0.006
    doc["uncertainty"]["risk"] = {"alpha": 0.75, "weight": 1.0}
    whole = optimizer.solve(doc, regret=False)
    assert "At weight 1 it buys the slow future's own plan" in " ".join(text.split())
    assert _racks_of(whole) == rows[slow].racks


def _racks_of(sol) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in sol.racks:
        out[r.hardware] = out.get(r.hardware, 0) + r.count
    return out



def test_the_year_section_is_what_the_year_instance_gives():
    """'A year of demand at public prices': its plan, profit, revenue, peak power and every cell
    of its per-slice table are what solving the shipped instance gives, to the digits shown."""
    import optimizer

    text = " ".join(section("A year of demand at public prices").split())
    sol = optimizer.solve(ROOT / "instances" / "gtc2026-1gw-year.yaml", marginal_values=False)
    racks = _racks_of(sol)
    said = re.search(r"It buys ([\d,]+) Vera Rubin NVL72 and ([\d,]+) LPX racks and earns a profit of \$([\d.]+)B/yr on "
                     r"\$([\d.]+)B/yr of revenue", text)
    assert said, "the section states the plan and its money"
    assert (racks.get("vr-nvl72"), racks.get("lpx")) == (int(said[1].replace(",", "")), int(said[2].replace(",", "")))
    # to the digits shown, with room for HiGHS's default gap (1e-4 of ~$70B is $7M) on other releases
    assert abs(sol.metrics.profit_usd_per_year / 1e9 - float(said[3])) <= 0.006 + 1e-4 * float(said[3])
    assert abs(sol.metrics.revenue_usd_per_year / 1e9 - float(said[4])) <= 0.006 + 1e-4 * float(said[4])
    peak = re.search(r"at the weekday peak it draws ([\d,]+) of its 1,000 MW", text)
    assert f"{max(s.power.total_mw for s in sol.slices):,.0f}" == peak[1]
    rows = _regret_table(section("A year of demand at public prices").replace("| slice |", "| plan |"))
    assert [r[0] for r in rows] == [s.name for s in sol.slices]
    for cells, s in zip(rows, sol.slices):
        busy = {u.hardware: u.utilisation for u in s.utilisation}
        assert cells[1:] == [f"{s.hours:,.0f}", f"{s.tokens_per_s / 1e6:,.0f}", f"{s.revenue_usd_per_year / 1e9:.2f}",
                             f"{100 * busy['vr-nvl72']:.0f}%", f"{100 * busy['lpx']:.0f}%", f"{s.power.total_mw:,.0f}"], s.name
    money = re.search(r"The plan earns \$([\d,]+) per rack-hour and spends \$([\d.]+) per million output tokens", text)
    assert f"{sol.metrics.revenue_usd_per_rack_hour:,.0f}" == money[1]
    assert f"{sol.metrics.cost_usd_per_mtok:.2f}" == money[2]


def test_the_sensitivity_section_names_the_top_three_inputs():
    """'What moves the decision': the three inputs it names are the top of the year instance's
    ranking, with the changes it gives, and the picture it shows is shipped."""
    import optimizer

    text = " ".join(section("What moves the decision").split())
    result = optimizer.sensitivity(ROOT / "instances" / "gtc2026-1gw-year.yaml", jobs=2)
    top = sorted(result.ranges, key=lambda r: r.rank)[:3]
    for r, (name, phrase) in zip(top, [("standard-price", "the standard tier's price"), ("premium-demand", "the premium tier's demand"),
                                       ("cache-hit-rate", "the prefix-cache hit rate")]):
        assert r.name == name
        i = text.index(phrase)
        shown = re.findall(r"([+\u2212-])\$([\d.]+)B", text[i:i + 200])[:2]
        changes = [r.low.change, r.high.change]
        for (sign, value), change in zip(shown, changes):
            # each end and the base are solved at the default gap: 1e-4 of ~$70B either side
            assert (sign == "+") == (change > 0) and abs(abs(change) / 1e9 - float(value)) <= 0.02, (name, shown, changes)
    assert (ROOT / "docs" / "img" / "tornado-year.png").is_file()
