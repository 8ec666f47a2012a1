"""Small instance builders shared by the hand-worked tests."""

from __future__ import annotations


def tiny(**facility) -> dict:
    """One hall, one model, one chat workload; hardware and tiers added by each test."""
    fac = {
        "grid_power_mw": 1.0,
        "liquid_cooling_mw": 10.0,
        "air_cooling_mw": 10.0,
        "discount_rate": 0.0,
        "halls": [{"name": "a", "rack_slots": 100, "max_rack_kw": 300, "liquid_cooling": True}],
    }
    fac.update(facility)
    return {
        "name": "tiny",
        "facility": fac,
        "models": [{"name": "m"}],
        "workloads": [{"name": "chat", "model": "m", "input_tokens_per_output_token": 1.0}],
        "tiers": [],
        "hardware": [],
    }


def gpu(name="g", kw=100.0, capex=1e6, curve=((10, 10000), (100, 2000), (200, 100)), **extra) -> dict:
    h = {
        "name": name,
        "kind": "gpu",
        "rack_power_kw": kw,
        "liquid_cooled_fraction": 1.0,
        "capex_usd": capex,
        "lifetime_years": 5,
        "performance": {"chat": {"aggregated": [list(p) for p in curve]}},
    }
    h.update(extra)
    return h


def tier(name, interactivity, price, workload="chat", **extra) -> dict:
    t = {"name": name, "workload": workload, "min_interactivity": interactivity, "price_usd_per_mtok": price}
    t.update(extra)
    return t


YEAR_MTOK = 31.536  # USD/yr from 1 token/s at 1 USD/Mtok: 31,536,000 s / 1e6


def solve_and_verify(seeds, make, check) -> None:
    """Solve ``make(seed)`` for every seed; a plan must pass ``check(instance, solution_dict)``,
    no plan must be a clean infeasibility. Failures name the seed and objective."""
    import optimizer

    for seed in seeds:
        data = make(seed)
        inst = optimizer.load_instance(data)
        sol = optimizer.solve(inst)
        assert sol.status in ("optimal", "infeasible"), (seed, sol.status, sol.message)
        if sol.has_plan:
            try:
                check(inst, sol.model_dump(mode="json"))
            except AssertionError as exc:
                raise AssertionError(f"seed {seed} ({data['objective']}): {exc}") from None
        else:
            assert sol.metrics is None and sol.racks == [] and sol.periods == [] and sol.objective.value is None


def hand_worked(*modules) -> list[tuple[str, object]]:
    """(name, function) of every hand-worked test of ``modules`` that takes no arguments (the
    parametrized ones are run over their own twins elsewhere)."""
    import inspect

    return [
        (f"{mod.__name__}.{name}", fn)
        for mod in modules
        for name, fn in vars(mod).items()
        if name.startswith("test_") and callable(fn) and not inspect.signature(fn).parameters
    ]


def rerun_with_twin(test, monkeypatch, twin, compare) -> None:
    """Run a hand-worked ``test`` with ``optimizer.solve`` replaced by one that also solves
    ``twin(instance)`` (an equivalent instance; None: no twin for this one) and checks
    ``compare(solution, twin_solution, solve_kwargs)``; the test must have solved something."""
    import optimizer
    from optimizer.model.schema import Instance
    from optimizer.solving import engine

    real = engine.solve
    compared = []

    def both(instance, objective=None, **kw):
        sol = real(instance, objective, **kw)
        inst = instance if isinstance(instance, Instance) else optimizer.load_instance(instance)
        other = twin(inst)
        if other is not None:
            compare(sol, real(other, objective, **kw), kw)
            compared.append(inst.name)
        return sol

    monkeypatch.setattr(optimizer, "solve", both)
    test()
    assert compared, "the test solved nothing"


def tail_mean(values: list[float], probs: list[float], alpha: float, maximise: bool = True) -> float:
    """CVaR_alpha by its definition: the mean of the worst (1 - alpha) of the probability, the
    outcomes sorted worst first (for a maximum the lowest), the last one taken in part."""
    left, total = 1.0 - alpha, 0.0
    for z, p in sorted(zip(values, probs), key=lambda zp: zp[0], reverse=not maximise):
        take = min(p, left)
        total += take * z
        left -= take
        if left <= 1e-15:
            break
    return total / (1.0 - alpha)


def deterministic_roadmap() -> dict:
    """instances/roadmap-2026-2030.yaml as one future: the document without its ``uncertainty``
    block (the as-assumed future; its ``sensitivity`` block, which no solve reads, goes too), for
    the tests that use the roadmap as a deterministic multi-year instance."""
    from pathlib import Path

    from optimizer.model.schema import read_document

    doc = read_document(Path(__file__).resolve().parents[1] / "instances" / "roadmap-2026-2030.yaml")
    doc.pop("uncertainty")
    doc.pop("sensitivity", None)
    return doc
