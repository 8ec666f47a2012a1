"""Layer 2, solving: the HiGHS adapter (``highs``), the solve path with its stages (``engine``),
the solution and its extraction (``results``), the plan verifier (``verify``) and the diagnosis
of an infeasible instance (``diagnose``). Imports the model layer only."""
