"""(1) GEMM: ember._C.gemm against numpy.matmul (OpenBLAS) and torch.matmul, all writing into
preallocated outputs.

Square sizes in all four transpose combinations, and the GEMMs of the MNIST MLP
(784-256-128-10): forward x @ W.T (NT), backward dx = dy @ W (NN) and dW = dy.T @ x (TN).
Each result is checked against numpy's; a disagreement is flagged in the row's note.
"""

from __future__ import annotations

import numpy as np

from ember import _C
from suite.table import Row

TITLE = "GEMM (float32 unless --dtype; out = op(A) @ op(B))"


def square_cases(quick: bool) -> list[tuple]:
    sizes = (512,) if quick else (256, 512, 1024, 2048)
    combos = ((False, False), (False, True), (True, False), (True, True))
    return [(f"gemm square {n}", n, n, n, ta, tb) for n in sizes for ta, tb in combos]


def mlp_cases(batch: int) -> list[tuple]:
    rows = []
    for n_in, n_out in ((784, 256), (256, 128), (128, 10)):
        rows.append((f"mlp b{batch} fwd {n_in}->{n_out}", batch, n_out, n_in, False, True))
        if n_in != 784:  # the input layer needs no dx
            rows.append((f"mlp b{batch} dx {n_out}->{n_in}", batch, n_in, n_out, False, False))
        rows.append((f"mlp b{batch} dW {n_out}x{n_in}", n_out, n_in, batch, True, False))
    return rows


def cases(quick: bool) -> list[tuple]:
    batches = (128,) if quick else (64, 128)
    return square_cases(quick) + [c for b in batches for c in mlp_cases(b)]


def bench_case(ctx, case: tuple, threads: int) -> Row:
    name, M, N, K, ta, tb = case
    dtype = np.dtype(ctx.gemm_dtype)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    op_a, op_b = (a.T if ta else a), (b.T if tb else b)
    out, numpy_out = np.empty((M, N), dtype), np.empty((M, N), dtype)
    runners = {
        "ember": lambda: _C.gemm(a, b, trans_a=ta, trans_b=tb, out=out),
        "numpy": lambda: np.matmul(op_a, op_b, out=numpy_out),
    }
    torch = ctx.torch
    if torch is not None:
        top_a, top_b = torch.from_numpy(op_a), torch.from_numpy(op_b)
        torch_out = torch.empty((M, N), dtype=top_a.dtype)
        runners["torch"] = lambda: torch.matmul(top_a, top_b, out=torch_out)
    ms = ctx.time(runners, threads)
    flops = 2.0 * M * N * K
    gflops = flops / ms["ember"] / 1e6
    peak = ctx.flops_peak(threads)
    error = np.abs(out - numpy_out).max() / max(1.0, float(np.abs(numpy_out).max()))
    best_peer = max((flops / v / 1e6 for k, v in ms.items() if k != "ember"), default=None)
    note = f"best peer {best_peer:.0f} GFLOP/s" if best_peer else ""
    if not error < (1e-3 if dtype == np.float32 else 1e-10):
        note = f"MISMATCH vs numpy ({error:.2g}); " + note
    return Row(
        section=TITLE,
        op=name,
        shape=f"{M}x{N}x{K} {'T' if ta else 'N'}{'T' if tb else 'N'}",
        threads=threads,
        ember_ms=ms["ember"],
        numpy_ms=ms["numpy"],
        torch_ms=ms.get("torch"),
        rate=gflops,
        unit="GFLOP/s",
        peak_pct=100 * gflops / peak if peak and dtype == np.float32 else None,
        note=note,
        extra={"M": M, "N": N, "K": K, "dtype": dtype.name, "max_rel_error": float(error)},
    )


def run(ctx, emit) -> None:
    for threads in ctx.threads:
        with ctx.thread_count(threads):
            for case in cases(ctx.quick):
                emit(bench_case(ctx, case, threads))
