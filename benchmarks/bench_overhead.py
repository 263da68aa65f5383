"""Per-op Python overhead of ember's Tensor/autograd layer and import time, against PyTorch:
the suite's overhead section.

    python benchmarks/bench_overhead.py [--repeats 30] [--json out.json]

is `python benchmarks/run.py --only overhead --threads 1 ...`; see run.py for every option.
"""

import sys

from run import main

if __name__ == "__main__":
    sys.exit(main(["--only", "overhead", "--threads", "1", *sys.argv[1:]]))
