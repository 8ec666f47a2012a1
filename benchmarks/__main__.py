"""python -m benchmarks: solve scaling per size, sweep throughput, slice scaling, then scenario scaling, in one run."""

import sys

from benchmarks import scenario_scaling, slice_scaling, solve_scaling, sweep_throughput

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.argv = [sys.argv[0], *argv]
    solve_scaling.main()
    sys.argv = [sys.argv[0], "--points", "200"]
    sweep_throughput.main()
    sys.argv = [sys.argv[0]]
    slice_scaling.main()
    sys.argv = [sys.argv[0], "--scenarios", "1", "2", "5", "10", "--slices", "1"]  # the series HiGHS solves (about 15 minutes)
    scenario_scaling.main()
