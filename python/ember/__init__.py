"""ember: a small, fast deep-learning library with PyTorch's habits."""

import os as _os


def _load_native() -> None:
    """Load ember._C with a short, bounded OpenMP spin unless the user chose a wait policy.

    Between parallel regions GNU OpenMP's workers spin ~300,000 rounds (milliseconds) before they
    sleep. Where other processes compete for the cores those spinning workers steal the time the
    others need and get descheduled, and 2-thread training ran 5-10x slower than 1 thread. Sleeping
    at once (OMP_WAIT_POLICY=passive) avoids that, but waking a sleeping worker costs ~75 us on
    a VM, more than most layers of a small model take: 2-thread training was slower than 1-thread.
    ember spins GOMP_SPINCOUNT=10000 rounds (~0.1 ms here: enough to bridge the gaps between the
    kernels of one training step) and then sleeps; LLVM's runtime gets KMP_BLOCKTIME=1 (ms).
    Measured on 2 idle cores, 2-thread MNIST epochs (MLP / LeNet-5): 3000 rounds (~35 us, shorter
    than the Python between a step's kernels) 0.59-0.62 / 1.94 s, 10000 rounds 0.50-0.51 /
    1.71-1.74 s. Beside a process hogging one core, 2 threads lose to 1 whatever the spin (MLP:
    1 thread 0.73 s; 2 threads 1.32 s at 3000 rounds, 1.88 s at 10000; beside a half-busy one
    1.08-1.18 s at either): on a busy machine use 1 thread or OMP_WAIT_POLICY=passive. libgomp
    reads these once, when it loads, so they are set only around that moment and the environment
    other libraries see is left as it was. Setting OMP_WAIT_POLICY (or
    GOMP_SPINCOUNT / KMP_BLOCKTIME) yourself keeps your choice.
    """
    if "OMP_WAIT_POLICY" in _os.environ:
        defaults = {}
    else:
        defaults = {"GOMP_SPINCOUNT": "10000", "KMP_BLOCKTIME": "1"}
        defaults = {k: v for k, v in defaults.items() if k not in _os.environ}
    _os.environ.update(defaults)
    try:
        from ember import _C  # noqa: F401
    finally:
        for name in defaults:
            del _os.environ[name]


_load_native()

from ember import (
    _dtype,
    _factory,
    _ops_elementwise,
    _ops_linalg,
    _ops_reduce,
    _ops_shape,
    autograd,
    random,
)
from ember._device import device
from ember._dtype import (
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
)
from ember._runtime import build_info, get_num_threads, set_num_threads
from ember._tensor import Tensor
from ember.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ember.random import Generator, initial_seed, manual_seed, seed

__version__ = build_info()["version"]

# Ops as functions: ember.exp(t), ember.cat([...]), ember.zeros(2, 3), ...
globals().update(_factory.FUNCTIONS)
globals().update(_ops_elementwise.FUNCTIONS)
globals().update(_ops_reduce.FUNCTIONS)
globals().update(_ops_shape.FUNCTIONS)
globals().update(_ops_linalg.FUNCTIONS)
# torch's short dtype names; they shadow builtins only as attributes of this package.
globals().update(_dtype.ALIASES)

# Subpackages and their headline functions load on first use, so `import ember` stays fast.
_LAZY_MODULES = (
    "nn",
    "optim",
    "data",
    "datasets",
    "training",
    "metrics",
    "serialization",
    "utils",
    "cuda",
    "cpu",
)
_LAZY_NAMES = {
    "save": "ember.serialization",
    "load": "ember.serialization",
    "fit": "ember.training",
    "evaluate": "ember.training",
    "predict": "ember.training",
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"ember.{name}")
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ember' has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_NAMES))


__all__ = [
    "Generator",
    "Tensor",
    "__version__",
    "autograd",
    "build_info",
    "device",
    "enable_grad",
    "float16",
    "float32",
    "float64",
    "get_num_threads",
    "initial_seed",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_grad_enabled",
    "manual_seed",
    "no_grad",
    "random",
    "seed",
    "set_grad_enabled",
    "set_num_threads",
    "uint8",
]
for _table in (
    _factory.FUNCTIONS,
    _ops_elementwise.FUNCTIONS,
    _ops_reduce.FUNCTIONS,
    _ops_shape.FUNCTIONS,
    _ops_linalg.FUNCTIONS,
    _dtype.ALIASES,
    _LAZY_NAMES,
):
    __all__ += list(_table)
__all__ += list(_LAZY_MODULES)
del _table
