"""The command line: a thin shell over the Python API.

Exit codes: 0 a plan was found (optimal, or time limit with an incumbent); 1 no plan
(infeasible, unbounded, time limit without incumbent, solver error); 2 bad input; 3 (sweep) a
journal or result file could not be written (disk full, file too large): the points journaled
so far are kept and ``--resume`` finishes the sweep; 130 interrupted by Ctrl-C (SIGINT); 143
(sweep) stopped by SIGTERM. An interrupted or stopped sweep journals no row for the points it
was solving, and leaves no partial result file.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
import traceback
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InputError
from ..model.schema import Instance, json_schema, load_instance

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Plan an AI factory: which racks to buy, which token tiers to sell (MODEL.md v1).",
)


REGRET_HELP = ("a stochastic instance's regret table, EVPI and VSS (MODEL.md section 13.3): each plan solved in each scenario, "
               "about (scenarios + 1) x scenarios solves; --no-regret skips them")


class ObjectiveChoice(str, Enum):
    revenue = "revenue"
    profit = "profit"
    tokens = "tokens"
    tokens_per_watt = "tokens_per_watt"
    min_cost = "min_cost"


def _bad_input(exc: InputError) -> None:
    """Every broken rule on its own plain line (no wrapping: tools grep these), exit code 2."""
    lines = [f"error: invalid input: {exc.source} ({len(exc.issues)} error(s))"]
    lines += [f"  {exc.source}: {issue.path or '<document>'}: {issue.rule}" for issue in exc.issues]
    sys.stderr.write("\n".join(lines) + "\n")
    raise typer.Exit(2)


def _load(path: Path) -> Instance:
    """The validated instance, or every broken rule and exit code 2."""
    try:
        return load_instance(path)
    except InputError as exc:
        _bad_input(exc)


def _require_suffix(output: Path, suffixes: tuple[str, ...], what: str, option: str = "-o") -> None:
    """Exit 2 before any work when an output file has a suffix we cannot write, or cannot be
    written where it is (a directory, a folder that does not exist or is not writable)."""
    if output.suffix.lower() not in suffixes:
        sys.stderr.write(f"error: {output}: {what} must end in {' or '.join(suffixes)}\n")
        raise typer.Exit(2)
    _writable(output, option)


def _writable(output: Path, option: str) -> None:
    """Exit 2 before any solving when ``output`` (given as ``option``) cannot be written."""
    folder = output.parent
    rule = None
    if output.is_dir():
        rule = "is a directory, not a file"
    elif not folder.exists():
        rule = f"the folder {folder} does not exist"
    elif not folder.is_dir():
        rule = f"{folder} is not a folder"
    elif not os.access(folder, os.W_OK | os.X_OK):
        rule = f"cannot write in the folder {folder} (permission denied)"
    elif output.exists() and not os.access(output, os.W_OK):
        rule = "cannot be overwritten (permission denied)"
    if rule:
        sys.stderr.write(f"error: {option} {output}: {rule}\n")
        raise typer.Exit(2)


def _interrupted(done: str = "") -> None:
    sys.stderr.write(f"interrupted: {done or 'stopped by Ctrl-C before a plan was found'}\n")
    raise typer.Exit(130)


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")]) -> None:
    """Validate an instance file: exit 0 when valid, 2 with every error otherwise."""
    inst = _load(path)
    sys.stdout.write(
        f"{path}: valid ({len(inst.hardware)} hardware, {len(inst.tiers)} tiers, "
        f"{len(inst.facility.halls)} halls, {len(inst.network.options) if inst.network else 0} network options)\n"
    )


def _marginal(asked: bool | None, inst) -> bool:
    """Marginal values unless the instance is stochastic (section 13: each limit would re-solve the
    extensive form twice; asking for them there warns that they are not computed)."""
    return asked if asked is not None else inst.uncertainty is None


@app.command()
def solve(
    path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")],
    objective: Annotated[Optional[ObjectiveChoice], typer.Option(help="override the instance's objective")] = None,
    time_limit: Annotated[Optional[float], typer.Option(min=0.0, help="seconds for the whole solve")] = None,
    mip_gap: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="relative MIP gap [default: 1e-4]")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="HiGHS threads [default: 1, the same plan on every machine]")] = None,
    tie_break_time: Annotated[Optional[float], typer.Option(min=0.0, help="seconds for the cost tie-break [default: the primary's HiGHS time, at least 1 s]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the solution as JSON on stdout, nothing else")] = False,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="also write the solution as JSON to this file")] = None,
    marginal_values: Annotated[Optional[bool], typer.Option(help="what each site limit is worth, by re-solving with it moved 1% (about 2 solves per limit) [default: on, off for a stochastic instance]", show_default=False)] = None,
    regret: Annotated[bool, typer.Option(help=REGRET_HELP)] = True,
) -> None:
    """Solve an instance and print the plan (exit 0: plan found, 1: no plan, 2: bad input)."""
    from ..outputs.report import render
    from ..solving.engine import solve as run
    from ..analysis.sweeps import interrupted, sigint_flag

    if output is not None:
        _writable(output, "-o")
    inst = _load(path)
    try:
        with sigint_flag() as stop:
            sol = run(inst, objective=objective.value if objective else None, time_limit=time_limit, mip_gap=mip_gap,
                      threads=threads, tie_break_time=tie_break_time, marginal_values=_marginal(marginal_values, inst), regret=regret)
    except KeyboardInterrupt:
        _interrupted()
    except InputError as exc:  # a rule only the objective breaks (CVaR of tokens_per_watt, section 13.2)
        _bad_input(exc)
    if stop[0] or interrupted(sol.status, sol.message):  # HiGHS caught Ctrl-C: whatever it returned is not the plan
        _interrupted()
    text = sol.model_dump_json(indent=2)
    if output is not None:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"error: cannot write {output}: {exc}\n")
            raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        render(sol)
    raise typer.Exit(0 if sol.has_plan else 1)  # numerical_trouble keeps its plan for inspection: exit 1


@app.command()
def sweep(
    path: Annotated[Path, typer.Argument(help="sweep file (YAML): base instance, parameters, scenarios")],
    output: Annotated[Path, typer.Option("-o", "--output", help="results file: .parquet or .csv")],
    jobs: Annotated[Optional[int], typer.Option(min=1, help="worker processes [default: all cores]")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address, e.g. tcp://host:8786")] = None,
    resume: Annotated[bool, typer.Option(help="finish a killed sweep: solve only the points its journal lacks")] = False,
    overwrite: Annotated[bool, typer.Option(help="discard a partial sweep's journal and start again")] = False,
) -> None:
    """Solve every point of a sweep; one row per point, written as points finish."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..analysis.scenarios import load_sweep
    from ..analysis.sweeps import SweepInterrupted, SweepWriteError, run_sweep

    _require_suffix(output, (".parquet", ".csv"), "the output")
    try:
        spec, base, _ = load_sweep(path)
    except InputError as exc:
        _bad_input(exc)
    columns = [TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]} points/s"), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("sweep", total=None, rate="-")
        start = {}

        def tick(done: int, total: int) -> None:
            import time

            now = time.perf_counter()
            start.setdefault("t", (now, done))
            t0, d0 = start["t"]
            rate = (done - d0) / (now - t0) if now > t0 else 0.0
            bar.update(task, completed=done, total=total, rate=f"{rate:.1f}")

        try:
            df = run_sweep(spec, base, output, jobs=jobs, scheduler=scheduler, resume=resume, overwrite=overwrite, progress=tick)
        except InputError as exc:
            _bad_input(exc)
        except SweepInterrupted as exc:
            bar.stop()
            if exc.signum == signal.SIGTERM:
                sys.stderr.write(f"terminated: {exc.done} of {exc.total} points solved; run again with --resume\n")
                raise typer.Exit(128 + signal.SIGTERM) from None
            _interrupted(f"{exc.done} of {exc.total} points solved; run again with --resume")
        except SweepWriteError as exc:
            bar.stop()
            sys.stderr.write(f"error: {exc}\n")
            raise typer.Exit(3) from None
    counts = df["status"].value_counts().to_dict() if not df.empty else {}
    sys.stdout.write(f"{output}: {len(df)} points ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})\n")


class Axis(str, Enum):
    revenue = "revenue"
    tokens_per_joule = "tokens_per_joule"
    profit = "profit"
    tokens = "tokens"


@app.command()
def pareto(
    path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")],
    x: Annotated[Axis, typer.Option("--x", help="axis with a linear floor: revenue or tokens_per_joule")] = Axis.tokens_per_joule,
    y: Annotated[Axis, typer.Option("--y", help="axis to maximise")] = Axis.revenue,
    points: Annotated[int, typer.Option(min=2, max=200, help="frontier points")] = 10,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="frontier as .csv or .parquet")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="frontier picture, .png or .svg")] = None,
) -> None:
    """Trace the frontier between two objectives by the epsilon-constraint method."""
    from rich.console import Console
    from rich.table import Table

    from ..analysis.frontier import pareto as trace
    from ..outputs.plots import plot_pareto
    from ..outputs.report import num

    if output is not None:
        _require_suffix(output, (".csv", ".parquet"), "the frontier file")
    if plot is not None:
        _require_suffix(plot, (".png", ".svg"), "the picture", "--plot")
    try:
        front = trace(path, x=x.value, y=y.value, points=points)
    except InputError as exc:
        _bad_input(exc)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1 if str(exc).startswith("no plan") else 2) from None
    xs, ys = front.attrs["x"], front.attrs["y"]
    table = Table(title=f"Pareto frontier: {ys} against {xs}")
    racks = sorted(c for c in front.columns if c.startswith("racks["))
    heads = [f"{xs} ({front.attrs['x_unit']})", f"{ys} ({front.attrs['y_unit']})", "facility MW", *[f"{c[6:-1]} racks" for c in racks]]
    for head in heads:
        table.add_column(head, justify="right")
    for _, r in front.iterrows():
        table.add_row(*[num(float(r[c])) for c in (xs, ys, "facility_power_mw", *racks)])
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    console.print(table)
    if output is not None:
        (front.to_csv(output, index=False) if output.suffix.lower() == ".csv" else front.to_parquet(output, index=False))
    if plot is not None:
        plot_pareto(front, plot)


@app.command()
def plot(
    results: Annotated[Path, typer.Argument(help="sweep results (.parquet or .csv)")],
    x: Annotated[str, typer.Option("--x", help="swept parameter, e.g. facility.grid_power_mw")],
    y: Annotated[str, typer.Option("--y", help="metric column, e.g. revenue_usd_per_year")],
    output: Annotated[Path, typer.Option("-o", "--output", help=".png or .svg")],
) -> None:
    """Plot a metric against a swept parameter, with the hardware mix stacked beneath."""
    import pandas as pd

    from ..outputs.plots import plot_sweep

    if not results.exists():
        sys.stderr.write(f"error: {results}: file not found\n")
        raise typer.Exit(2)
    _writable(output, "-o")
    df = pd.read_csv(results) if results.suffix.lower() == ".csv" else pd.read_parquet(results)
    unit = "USD/yr" if y.endswith("_usd_per_year") else ("tokens/s" if y.startswith("tokens_per_s") else "")
    try:
        plot_sweep(df, x, y, output, unit=unit)
    except (KeyError, ValueError) as exc:
        sys.stderr.write(f"error: {results}: {str(exc).strip(chr(39))}\n")
        raise typer.Exit(2) from None
    sys.stdout.write(f"{output}\n")


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="report file: .html or .md")],
    objective: Annotated[Optional[ObjectiveChoice], typer.Option(help="override the instance's objective")] = None,
    time_limit: Annotated[Optional[float], typer.Option(min=0.0, help="seconds for the main solve")] = None,
    entry: Annotated[bool, typer.Option(help="find what would bring each unchosen system in (re-solves)")] = True,
    marginal_values: Annotated[Optional[bool], typer.Option(help="what each site limit is worth, by re-solving with it moved 1% [default: on, off for a stochastic instance]", show_default=False)] = None,
    regret: Annotated[bool, typer.Option(help=REGRET_HELP)] = True,
) -> None:
    """Write a self-contained report a planner can forward (exit 0: plan, 1: no plan, 2: bad input)."""
    from ..outputs.document import assumptions, to_html, to_markdown
    from ..solving.engine import solve as run
    from ..analysis.explain import for_report

    _require_suffix(output, (".html", ".md"), "the report")
    inst = _load(path)
    try:
        sol = run(inst, objective=objective.value if objective else None, time_limit=time_limit,
                  marginal_values=_marginal(marginal_values, inst), regret=regret)
    except InputError as exc:
        _bad_input(exc)
    exp = for_report(inst, sol, entry)
    notes = assumptions(path)
    text = to_html(inst, sol, exp, notes) if output.suffix.lower() == ".html" else to_markdown(inst, sol, exp, notes)
    output.write_text(text, encoding="utf-8")
    sys.stdout.write(f"{output}: {sol.status}\n")
    raise typer.Exit(0 if sol.has_plan else 1)


@app.command()
def sensitivity(
    path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")],
    ranges: Annotated[Optional[Path], typer.Option("--ranges", help="ranges file (YAML or JSON: sensitivity: [...]) instead of the instance's sensitivity block")] = None,
    objective: Annotated[Optional[ObjectiveChoice], typer.Option(help="override the instance's objective")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON on stdout, nothing else")] = False,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="also write the result: .md, .html or .json")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="the tornado picture, .png or .svg")] = None,
    jobs: Annotated[Optional[int], typer.Option(min=1, help="solves at once [default: all cores]")] = None,
    time_limit: Annotated[Optional[float], typer.Option(help="seconds for each solve (above 0)")] = None,
    mip_gap: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="relative MIP gap of each solve [default: 1e-4]")] = None,
) -> None:
    """Solve the base case (the instance without its uncertainty block) and each input at its low
    and high end, one at a time; rank the inputs by how far they move the objective (a tornado).
    Exit 0: done (an end without a plan is reported, ranked last); 1: the base case has no plan;
    2: bad input."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..analysis.sensitivity import ranges_for
    from ..analysis.sensitivity import sensitivity as run
    from ..analysis.sweeps import SweepInterrupted
    from ..outputs.sensitivity import plot_tornado, render, to_html, to_markdown

    if output is not None:
        _require_suffix(output, (".md", ".html", ".json"), "the output")
    if plot is not None:
        _require_suffix(plot, (".png", ".svg"), "the picture", "--plot")
    if time_limit is not None and time_limit <= 0:
        sys.stderr.write("error: --time-limit must be above 0 seconds (each solve's own limit)\n")
        raise typer.Exit(2)
    inst = _load(path)
    try:  # before any solving: the ranges file's (or the instance's block's) every broken rule, named
        chosen = ranges_for(inst, ranges, str(path))
    except InputError as exc:
        _bad_input(exc)
    columns = [TextColumn("sensitivity"), BarColumn(), MofNCompleteColumn(), TextColumn("solves"), TimeElapsedColumn()]
    try:
        with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
            task = bar.add_task("sensitivity", total=None)
            try:
                res = run(inst, chosen, objective=objective.value if objective else None, mip_gap=mip_gap,
                          time_limit=time_limit, jobs=jobs, progress=lambda done, total: bar.update(task, completed=done, total=total))
            except SweepInterrupted as exc:
                bar.stop()
                if exc.signum == signal.SIGTERM:
                    sys.stderr.write(f"terminated: {exc.done} of {exc.total} solves done; nothing written\n")
                    raise typer.Exit(128 + signal.SIGTERM) from None
                _interrupted(f"{exc.done} of {exc.total} solves done; nothing written")
    except InputError as exc:  # not expected once the ranges are checked; still never a traceback
        _bad_input(exc)
    text = res.model_dump_json(indent=2)
    try:
        if output is not None:
            suffix = output.suffix.lower()
            output.write_text(text + "\n" if suffix == ".json" else to_html(res) if suffix == ".html" else to_markdown(res),
                              encoding="utf-8")
        if plot is not None:
            plot_tornado(res, plot)
    except OSError as exc:
        sys.stderr.write(f"error: cannot write {exc.filename or output}: {exc.strerror or exc}\n")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(text + "\n")
    else:
        render(res)
    raise typer.Exit(0 if res.base.has_plan else 1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of instance files."""
    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command()
def export(path: Annotated[Path, typer.Argument(help="instance file (YAML or JSON)")]) -> None:
    """Print a validated instance as JSON (the body the service takes; exit 2 on bad input)."""
    inst = _load(path)
    sys.stdout.write(inst.model_dump_json(indent=2) + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="where sweep jobs and their results are kept (survives restarts)")] = Path("optimizer-data"),
    max_solves: Annotated[int, typer.Option(min=1, help="solves running at once")] = 2,
    max_queue: Annotated[int, typer.Option(min=0, help="solves waiting beyond those; more get 429")] = 64,
    max_time_limit: Annotated[float, typer.Option(min=0.1, help="seconds: the cap on any solve's time limit")] = 60.0,
    max_body_mb: Annotated[float, typer.Option(min=0.01, help="MB: the largest request body")] = 5.0,
    max_instance_size: Annotated[int, typer.Option(min=1, help="the largest hardware x tiers x halls")] = 200_000,
    sweep_workers: Annotated[int, typer.Option(min=1, help="worker processes per sweep job")] = 1,
    max_queued_jobs: Annotated[int, typer.Option(min=0, help="sweep jobs waiting to run; more get 429")] = 16,
    keep_jobs_days: Annotated[float, typer.Option(min=0.0, help="days an ended sweep (done, failed, cancelled) is kept, files and all")] = 30.0,
    keep_jobs: Annotated[int, typer.Option(min=0, help="ended sweeps kept at most (the most recent)")] = 1000,
    instances: Annotated[Path | None, typer.Option(help="folder of instance files the web page offers by name "
                                                   "(default: the checkout's instances/, or ./instances)")] = None,
) -> None:
    """Serve the planner's web page at / and the optimizer over HTTP (OpenAPI at /docs): validate,
    solve, explain, report, schema, sweep jobs."""
    from .service import Limits
    from .service import serve as run

    limits = Limits(max_body_bytes=int(max_body_mb * 1e6), max_instance_size=max_instance_size, max_time_limit=max_time_limit,
                    max_solves=max_solves, max_queue=max_queue, sweep_workers=sweep_workers, max_queued_jobs=max_queued_jobs,
                    keep_jobs_days=keep_jobs_days, keep_jobs=keep_jobs)
    run(host, port, data_dir, limits, instances)


def _quiet_capture_race(args) -> None:
    """``threading.excepthook`` for the command line: Ctrl-C during a solve closes the pipes of
    the output capture (Pyomo's ``capture_output``, ``highs.captured``) while its reader thread
    is still reading, and that thread's ``OSError: Bad file descriptor`` would print a traceback
    after "interrupted". That one race stays silent; every other thread error is reported."""
    frames = traceback.extract_tb(args.exc_traceback)
    if isinstance(args.exc_value, OSError) and args.exc_value.errno == errno.EBADF and any(
            f.name == "_mergedReader" for f in frames):
        return
    _thread_hook(args)


_thread_hook = threading.excepthook


def main() -> None:
    threading.excepthook = _quiet_capture_race
    app()


if __name__ == "__main__":
    main()
