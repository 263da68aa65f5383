"""ember.cuda: is a GPU there, and the few controls that go with one (as torch.cuda).

Tensors reach the GPU with `t.to("cuda")`, `t.cuda()`, `module.to("cuda")` or a factory's
`device="cuda"`. Kernels are queued on one stream per device and run asynchronously;
`.item()`, `.numpy()` and `synchronize()` wait for them. Device memory comes from a caching
allocator: freed blocks are kept for reuse (memory_reserved) until `empty_cache()`.
"""

from __future__ import annotations

from ember import _C

_native = getattr(_C, "cuda", None)


def _require(what: str):
    if _native is None:
        raise RuntimeError(f"ember.cuda.{what}: ember was built without CUDA support")
    return _native


def is_built() -> bool:
    """Whether this build of ember has the CUDA backend compiled in."""
    return _native is not None


def is_available() -> bool:
    """True when ember was built with CUDA and a CUDA device is usable. Never raises."""
    try:
        return _native is not None and _native.device_count() > 0
    except Exception:  # a broken driver must not break `import ember` code paths
        return False


def device_count() -> int:
    """Number of CUDA devices (0 without a CUDA build, driver or device)."""
    try:
        return 0 if _native is None else int(_native.device_count())
    except Exception:
        return 0


def _index(device) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from ember._device import device as _device

    d = _device(device)
    if d.type != "cuda":
        raise ValueError(f"expected a CUDA device, got {d}")
    return current_device() if d.index is None else d.index


def current_device() -> int:
    return _require("current_device").current_device()


def set_device(device) -> None:
    """Make `device` (an index, 'cuda:i' or ember.device) the default for new CUDA tensors."""
    _require("set_device").set_device(_index(device))


def synchronize(device=None) -> None:
    """Wait for every kernel queued on the device; raises the errors they reported."""
    _require("synchronize").synchronize(_index(device))


def get_device_name(device=None) -> str:
    return _require("get_device_name").device_name(_index(device))


def empty_cache() -> None:
    """Return the allocator's cached (free) blocks to the driver."""
    _require("empty_cache").empty_cache()


def memory_allocated(device=None) -> int:
    """Bytes held by live device arrays (rounded up to the allocator's size classes)."""
    return int(_require("memory_allocated").memory_allocated(_index(device)))


def memory_reserved(device=None) -> int:
    """Bytes the allocator holds: live arrays plus cached free blocks."""
    return int(_require("memory_reserved").memory_reserved(_index(device)))


def gemm_backend() -> str:
    """'cuBLAS' or 'ember': which GEMM runs matrix products."""
    return "cuBLAS" if _require("gemm_backend").use_cublas() else "ember"


def set_gemm_backend(name: str) -> None:
    """Choose 'cuBLAS' (when built with it) or 'ember' (ember's own kernels) for matrix products,
    e.g. to compare them."""
    native = _require("set_gemm_backend")
    if name not in ("cuBLAS", "ember"):
        raise ValueError(f"set_gemm_backend: expected 'cuBLAS' or 'ember', got {name!r}")
    if name == "cuBLAS" and not native.cublas_built():
        raise RuntimeError("set_gemm_backend: this build of ember has no cuBLAS")
    native.set_use_cublas(name == "cuBLAS")


__all__ = [
    "is_built",
    "is_available",
    "device_count",
    "current_device",
    "set_device",
    "synchronize",
    "get_device_name",
    "empty_cache",
    "memory_allocated",
    "memory_reserved",
    "gemm_backend",
    "set_gemm_backend",
]
