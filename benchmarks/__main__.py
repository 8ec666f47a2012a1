"""python -m benchmarks: solve scaling per size, sweep throughput, then slice scaling, in one run."""

import sys

from benchmarks import slice_scaling, solve_scaling, sweep_throughput

if __name__ == "__main__":
    argv = sys.argv[1:]
    sys.argv = [sys.argv[0], *argv]
    solve_scaling.main()
    sys.argv = [sys.argv[0], "--points", "200"]
    sweep_throughput.main()
    sys.argv = [sys.argv[0]]
    slice_scaling.main()
