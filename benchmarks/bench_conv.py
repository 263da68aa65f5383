"""Conv2d forward + backward at batch 64, ember against PyTorch: the suite's conv section.

    python benchmarks/bench_conv.py [--quick] [--threads 1 2] [--cpu-time] [--json out.json]

is `python benchmarks/run.py --only conv ...`; see run.py for every option.
"""

import sys

from run import main

if __name__ == "__main__":
    sys.exit(main(["--only", "conv", *sys.argv[1:]]))
