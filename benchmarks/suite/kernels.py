"""(3) Memory-bound kernels: element-wise, softmax / cross-entropy, pooling, dropout, SGD.

Large tensors (64 MiB each; 16 MiB with --quick): GB/s from the bytes the kernel must move
(suite.kernel_cases) and, as "% of peak", that rate over the STREAM-triad bandwidth measured at
the same array size and thread count. All three libraries allocate their outputs, so first
touching fresh pages is part of every figure, as in real use.

Tiny tensors (the MNIST networks' activations): ember on 1 and 2 threads timed in the same
interleaved run, so the note can say whether 2 threads made a small op slower (a thread team
woken for a few microseconds of work costs more than it saves).
"""

from __future__ import annotations

import numpy as np

from ember import _C
from suite import kernel_cases as k
from suite.table import Row

TITLE_LARGE = "Memory-bound kernels, large tensors (float32; % of peak = share of STREAM)"
TITLE_TINY = "Memory-bound kernels, tiny tensors: 1 vs 2 threads (float32)"

LARGE = [
    ("relu fwd", k.relu_forward, "flat"),
    ("relu bwd", k.relu_backward, "flat"),
    ("sigmoid fwd", k.sigmoid_forward, "flat"),
    ("add (Tensor a + b)", k.tensor_add, "flat"),
    ("softmax fwd (rows)", k.softmax_forward, "rows"),
    ("cross-entropy fwd+bwd", k.cross_entropy, "rows"),
    ("max_pool2d 2x2 fwd", k.max_pool_forward, "image"),
    ("max_pool2d 2x2 bwd", k.max_pool_backward, "image"),
    ("dropout p=0.5 fwd", k.dropout_forward, "flat"),
    ("dropout p=0.5 bwd", k.dropout_backward, "flat"),
    ("sgd momentum step (in place)", k.sgd_momentum_step, "flat"),
    ("adam step (in place)", k.adam_step, "flat"),
]

TINY = [
    ("relu fwd", k.relu_forward, [(64, 10), (64, 256), (64, 784), (64, 6, 28, 28)]),
    ("relu bwd", k.relu_backward, [(64, 256), (64, 784), (64, 6, 28, 28)]),
    ("softmax fwd (rows)", k.softmax_forward, [(64, 10)]),
    ("cross-entropy fwd+bwd", k.cross_entropy, [(64, 10)]),
    ("dropout p=0.5 fwd", k.dropout_forward, [(64, 256)]),
    ("max_pool2d 2x2 fwd", k.max_pool_forward, [(64, 6, 28, 28)]),
    ("max_pool2d 2x2 bwd", k.max_pool_backward, [(64, 6, 28, 28)]),
    ("sgd momentum step (in place)", k.sgd_momentum_step, [(128, 256), (256, 784)]),
    ("adam step (in place)", k.adam_step, [(128, 256), (256, 784)]),
]


def large_shape(layout: str, elements: int) -> tuple:
    if layout == "rows":  # 1024 classes per row
        return (elements // 1024, 1024)
    if layout == "image":
        return (elements // 64**3, 64, 64, 64)
    return (elements // 1024, 1024)


def shape_text(shape: tuple) -> str:
    return "x".join(map(str, shape))


def run_large(ctx, emit, elements: int) -> None:
    for threads in ctx.threads:
        with ctx.thread_count(threads):
            for name, build, layout in LARGE:
                shape = large_shape(layout, elements)
                nbytes, runners = build(shape, np.random.default_rng(0), ctx.torch)
                ms = ctx.time(runners, threads)
                gbs = nbytes / ms["ember"] / 1e6
                stream = ctx.stream_gbs(threads)
                emit(
                    Row(
                        section=TITLE_LARGE,
                        op=name,
                        shape=shape_text(shape),
                        threads=threads,
                        ember_ms=ms["ember"],
                        numpy_ms=ms.get("numpy"),
                        torch_ms=ms.get("torch"),
                        rate=gbs,
                        unit="GB/s",
                        peak_pct=100 * gbs / stream if stream else None,
                        note=f"{nbytes / 2**20:.0f} MiB moved",
                        extra={"bytes": nbytes, "stream_gbs": stream},
                    )
                )


def with_threads(fn, n: int, setter):
    def call():
        setter(n)
        return fn()

    return call


def run_tiny(ctx, emit) -> None:
    """Each library's runner sets its own thread count before every call (a fraction of a
    microsecond), so 1 and 2 threads interleave in one timing run."""
    counts = sorted(set(ctx.threads))
    torch = ctx.torch
    for name, build, shapes in TINY:
        for shape in shapes:
            nbytes, base = build(shape, np.random.default_rng(0), torch)
            runners = {}
            for t in counts:
                runners[f"ember@{t}"] = with_threads(base["ember"], t, _C.set_num_threads)
                if torch is not None and "torch" in base:
                    runners[f"torch@{t}"] = with_threads(base["torch"], t, torch.set_num_threads)
            if "numpy" in base:
                runners["numpy"] = base["numpy"]
            ms = ctx.time(runners, threads=1)
            one = ms[f"ember@{counts[0]}"]
            for t in counts:
                ember_ms = ms[f"ember@{t}"]
                note = "" if t == counts[0] else f"{t}T/{counts[0]}T = {ember_ms / one:.2f}"
                emit(
                    Row(
                        section=TITLE_TINY,
                        op=name,
                        shape=shape_text(shape),
                        threads=t,
                        ember_ms=ember_ms,
                        numpy_ms=ms.get("numpy"),
                        torch_ms=ms.get(f"torch@{t}"),
                        rate=nbytes / ember_ms / 1e6,
                        unit="GB/s",
                        note=note,
                        extra={"bytes": nbytes},
                    )
                )
    ember_threads = max(counts)
    _C.set_num_threads(ember_threads)
    if torch is not None:
        torch.set_num_threads(ember_threads)


def run(ctx, emit, elements: int) -> None:
    run_large(ctx, emit, elements)
    run_tiny(ctx, emit)
