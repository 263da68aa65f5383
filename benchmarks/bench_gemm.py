"""GEMM, ember against numpy (OpenBLAS) and PyTorch: the suite's gemm section.

    python benchmarks/bench_gemm.py [--quick] [--threads 1 2] [--openblas-coretype Haswell]
                                    [--dtype float64] [--json out.json]

is `python benchmarks/run.py --only gemm ...`; see run.py for every option.
"""

import sys

from run import main

if __name__ == "__main__":
    sys.exit(main(["--only", "gemm", *sys.argv[1:]]))
