"""ember's benchmark suite: ember against numpy and PyTorch, measured in the same run.

    python benchmarks/run.py [--quick] [--threads 1,2] [--only gemm,conv,...] [--json out.json]
                             [--markdown out.md] [--openblas-coretype NAME] [--repeats N]

Sections: gemm, conv, kernels (memory-bound ops, large and tiny), overhead (autograd per op,
import time), training (seconds per MNIST epoch, peak RSS). Full mode takes several minutes on
2 cores; --quick (fewer sizes and repeats, a subset of the epoch) well under one.

Every row times the libraries in interleaved blocks after warm-up and reports medians (see
suite/timing.py); × numpy and × PyTorch are peer time / ember time, so above 1 means ember is
faster. numpy and torch columns appear when they are importable; threadpoolctl (a benchmark-only
requirement: pip install threadpoolctl) limits numpy's BLAS threads. Compare two JSON files with
benchmarks/compare.py.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time

from suite import env

SECTIONS = ("gemm", "conv", "kernels", "overhead", "training")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer sizes and repeats (< 1 minute)")
    p.add_argument("--threads", nargs="+", default=["1,2"], help="thread counts: 1,2 or 1 2")
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    p.add_argument("--json", help="write the header and rows here")
    p.add_argument("--markdown", help="write the rows here as Markdown tables")
    p.add_argument("--repeats", type=int, help="timed samples per block instead of a budget")
    p.add_argument("--openblas-coretype", help="force this OpenBLAS kernel for numpy (Haswell...)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="GEMM dtype")
    p.add_argument(
        "--peak-mhz",
        type=float,
        help="take %% of peak against a nominal FMA peak at this clock (AVX2 lanes) instead of "
        "the measured one",
    )
    p.add_argument(
        "--omp-wait-policy",
        choices=("active", "passive"),
        help="OMP_WAIT_POLICY for this process and its subprocesses (default: each library's)",
    )
    p.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with process CPU time: steadier on a busy machine, 1 thread only",
    )
    args = p.parse_args(argv)
    args.threads = [int(t) for item in args.threads for t in item.split(",") if t]
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown or not args.threads or min(args.threads) < 1:
        p.error(f"sections are {', '.join(SECTIONS)}; threads positive ints")
    return args


def header_lines(ctx, unset: list[str], args) -> list[str]:
    import numpy as np

    import ember

    mode = "quick" if args.quick else "full"
    when = datetime.datetime.now().isoformat(timespec="seconds")
    load = env.load_average()
    lines = [
        f"ember benchmark suite, {mode} mode, {when}, commit {env.git_revision()}",
        f"ember.build_info(): {ember.build_info()}",
        f"CPU: {env.cpu_model()}; {env.usable_cores()} usable cores; threads measured: "
        + ", ".join(map(str, ctx.threads)),
        "load average (1, 5, 15 min) at start: "
        + (" ".join(f"{x:.2f}" for x in load) if load else "unknown"),
        f"python {platform.python_version()}, numpy {np.__version__}, "
        + (
            f"torch {ctx.torch.__version__} (CPU capability "
            f"{ctx.torch.backends.cpu.get_cpu_capability()})"
            if ctx.torch
            else "torch not installed: no PyTorch column"
        ),
    ]
    if ctx.threadpoolctl is None:
        lines.append("threadpoolctl not installed: numpy's BLAS threads NOT limited")
    else:
        for info in ctx.threadpoolctl.threadpool_info():
            if info.get("user_api") == "blas":
                lines.append(
                    f"numpy BLAS: {info.get('internal_api')} {info.get('version')}, kernel "
                    f"{info.get('architecture')}, {info.get('threading_layer')} threads"
                )
    lines.append(f"OpenMP wait policy: {env.omp_wait_policy()}")
    lines.append(env.openblas_thread_timeout())
    if unset:
        lines.append(f"unset for this process (numpy baseline): {', '.join(unset)}")
    if args.openblas_coretype:
        lines.append(f"OPENBLAS_CORETYPE forced to {args.openblas_coretype}")
    lines += ctx.peaks.describe()
    lines.append(
        "x peer = peer time / ember time (above 1: ember faster); medians over interleaved "
        "blocks after warm-up; numpy's element-wise ufuncs always use one thread"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    unset = env.prepare_openblas(args.openblas_coretype)
    if args.omp_wait_policy:
        env.set_for_every_process("OMP_WAIT_POLICY", args.omp_wait_policy)

    # NumPy, ember and torch load only now, after the OpenBLAS environment is settled.
    from suite import conv, gemm, kernels, overhead, peaks, training
    from suite.context import Context, optional_import
    from suite.table import markdown, text_header, text_line, write_json
    from suite.timing import Plan

    plan = Plan(budget_s=0.05, rounds=3) if args.quick else Plan(budget_s=0.3, rounds=5)
    plan.samples = args.repeats
    if args.cpu_time:
        plan.clock = time.process_time
    ctx = Context(
        quick=args.quick,
        threads=args.threads,
        plan=plan,
        torch=optional_import("torch"),
        threadpoolctl=optional_import("threadpoolctl"),
        gemm_dtype=args.dtype,
    )
    ctx.peaks = peaks.nominal(env.usable_cores(), args.peak_mhz)
    if {"gemm", "conv"} & set(args.only):
        peaks.measure_fma(ctx, ctx.peaks)
    large_elements = 1 << (22 if args.quick else 24)
    if "kernels" in args.only:
        peaks.measure_stream(ctx, ctx.peaks, large_elements)
    for line in header_lines(ctx, unset, args):
        print("# " + line, flush=True)

    rows = []
    current = [None]

    def emit(row) -> None:
        if row.section != current[0]:
            current[0] = row.section
            print(f"\n## {row.section}\n{text_header()}", flush=True)
        rows.append(row)
        print(text_line(row.cells()), flush=True)

    started = time.perf_counter()
    runs = {
        "gemm": lambda: gemm.run(ctx, emit),
        "conv": lambda: conv.run(ctx, emit),
        "kernels": lambda: kernels.run(ctx, emit, large_elements),
        "overhead": lambda: overhead.run(ctx, emit),
        "training": lambda: training.run(ctx, emit),
    }
    for section in SECTIONS:
        if section in args.only:
            section_start = time.perf_counter()
            runs[section]()
            print(f"# {section}: {time.perf_counter() - section_start:.0f} s", flush=True)
    elapsed = time.perf_counter() - started

    behind = [r for r in rows if min(x for x in (r.ratio(r.numpy_ms), r.ratio(r.torch_ms), 9e9)
                                     if x is not None) < 0.9]  # fmt: skip
    print(f"\n# {len(behind)} of {len(rows)} rows where ember is more than 10% behind a peer:")
    for r in behind:
        ratios = ", ".join(
            f"x {peer} {x:.2f}"
            for peer, x in (("numpy", r.ratio(r.numpy_ms)), ("torch", r.ratio(r.torch_ms)))
            if x is not None
        )
        print(f"#   {r.op} {r.shape} @{r.threads}: {ratios}")
    for note in ctx.notes:
        print(f"# {note}")
    load = env.load_average()
    load_text = " ".join(f"{x:.2f}" for x in load) if load else "unknown"
    print(f"# load average at the end: {load_text}; suite took {elapsed:.0f} s")

    meta = {
        "header": header_lines(ctx, unset, args),
        "build_info": __import__("ember").build_info(),
        "cpu": env.cpu_model(),
        "cores": env.usable_cores(),
        "threads": ctx.threads,
        "mode": "quick" if args.quick else "full",
        "commit": env.git_revision(),
        "load_end": load,
        "seconds": elapsed,
        "notes": ctx.notes,
        "fma_peak_gflops_per_core_nominal": ctx.peaks.fma_gflops_per_core,
        "fma_peak_gflops_measured": ctx.peaks.fma_measured,
        "stream_gbs": ctx.peaks.stream_gbs,
    }
    if args.json:
        write_json(args.json, meta, rows)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
