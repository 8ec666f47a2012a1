"""The plan verifier lives in the package (``optimizer.solving.verify``): the solve path checks every
plan with it, and the tests use the same checks on their own instances."""

from optimizer.solving.verify import (  # noqa: F401
    Violation,
    annuity,
    at,
    interp,
    period_view,
    rack_energy,
    verify,
    verify_expectation,
    verify_horizon,
)
