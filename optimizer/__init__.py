"""Planning optimizer for power-limited AI factories (MODEL.md v1).

Python API::

    import optimizer
    inst = optimizer.load_instance("instances/gtc2026-1gw.yaml")
    sol = optimizer.solve(inst, objective="revenue", time_limit=60)
    print(sol.model_dump_json(indent=2))
"""

from .errors import InputError, Issue
from .results import Solution
from .schema import Instance, json_schema, load_instance
from .engine import solve

__all__ = ["Instance", "InputError", "Issue", "Solution", "json_schema", "load_instance", "solve"]
__version__ = "0.1.0"
