"""(2) Conv2d forward + backward (dx, dW and db together) at batch 64, ember against torch.

One training step of one layer: y = conv2d(x, w, b), then the gradients of x, w and b for a
fixed upstream gradient. ember calls its two kernels directly; torch runs F.conv2d and
torch.autograd.grad (its autograd adds some microseconds, nothing at these sizes). GFLOP/s
counts the three products of a direct convolution, 3 x 2*N*O*OH*OW*C*KH*KW, whatever algorithm
ran (im2col+GEMM, Winograd), so it compares across layers and libraries. No numpy peer.
"""

from __future__ import annotations

import numpy as np

from ember import _C
from suite.table import Row

TITLE = "Conv2d forward + backward (dx, dW, db), batch 64, float32"
BATCH = 64
# name, (C, H, W), (O, KH, KW), padding; LeNet-5 as ember's example trains it pads conv1 by 2
LAYERS = [
    ("lenet conv1 1->6 5x5 pad 2", (1, 28, 28), (6, 5, 5), 2),
    ("lenet conv1 1->6 5x5", (1, 28, 28), (6, 5, 5), 0),
    ("lenet conv2 6->16 5x5", (6, 14, 14), (16, 5, 5), 0),
    ("cifar conv1 3->6 5x5", (3, 32, 32), (6, 5, 5), 0),
    ("64->64 3x3 pad 1", (64, 32, 32), (64, 3, 3), 1),
]
QUICK_SKIPS = {"lenet conv1 1->6 5x5"}


def bench_layer(ctx, layer, threads: int) -> Row:
    name, (C, H, W), (O, KH, KW), pad = layer
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((O, C, KH, KW)) / np.sqrt(C * KH * KW)).astype(np.float32)
    b = rng.standard_normal(O).astype(np.float32)
    OH, OW = H + 2 * pad - KH + 1, W + 2 * pad - KW + 1
    dout = rng.standard_normal((BATCH, O, OH, OW)).astype(np.float32)

    def ember_step():
        _C.conv2d_forward(x, w, b, padding=(pad, pad))
        _C.conv2d_backward(dout, x, w, padding=(pad, pad))

    runners = {"ember": ember_step}
    torch = ctx.torch
    if torch is not None:
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        tdout = torch.from_numpy(dout)

        def torch_step():
            y = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
            torch.autograd.grad(y, (tx, tw, tb), tdout)

        runners["torch"] = torch_step
    ms = ctx.time(runners, threads)
    gflops = 3 * 2 * BATCH * O * OH * OW * C * KH * KW / ms["ember"] / 1e6
    peak = ctx.flops_peak(threads)
    return Row(
        section=TITLE,
        op=name,
        shape=f"{BATCH}x{C}x{H}x{W} * {O}x{C}x{KH}x{KW}",
        threads=threads,
        ember_ms=ms["ember"],
        torch_ms=ms.get("torch"),
        rate=gflops,
        unit="GFLOP/s",
        peak_pct=100 * gflops / peak if peak else None,
    )


def run(ctx, emit) -> None:
    for threads in ctx.threads:
        with ctx.thread_count(threads):
            for layer in LAYERS:
                if ctx.quick and layer[0] in QUICK_SKIPS:
                    continue
                emit(bench_layer(ctx, layer, threads))
