"""Planning optimizer for power-limited AI factories (MODEL.md v1).

Python API::

    import optimizer
    inst = optimizer.load_instance("instances/gtc2026-1gw.yaml")
    sol = optimizer.solve(inst, objective="revenue", time_limit=60)
    print(sol.model_dump_json(indent=2))
"""

from .errors import InputError, Issue
from .solving.results import Solution
from .model.schema import Instance, json_schema, load_instance
from .solving.engine import solve


def sweep(spec, output=None, **kw):
    """Run a sweep file; returns a pandas DataFrame (see optimizer.analysis.sweeps.sweep)."""
    from .analysis.sweeps import sweep as run

    return run(spec, output, **kw)


def pareto(instance, x="tokens_per_joule", y="revenue", points=10, **kw):
    """Trace a Pareto frontier; returns a pandas DataFrame (see optimizer.analysis.frontier.pareto)."""
    from .analysis.frontier import pareto as trace

    return trace(instance, x=x, y=y, points=points, **kw)


def sensitivity(instance, ranges=None, **kw):
    """Rank inputs by how far their low and high ends move the objective (a tornado); returns a
    SensitivityResult (see optimizer.analysis.sensitivity.sensitivity)."""
    from .analysis.sensitivity import sensitivity as run

    return run(instance, ranges, **kw)


__all__ = ["Instance", "InputError", "Issue", "Solution", "json_schema", "load_instance", "pareto", "sensitivity", "solve", "sweep"]
__version__ = "0.1.0"
