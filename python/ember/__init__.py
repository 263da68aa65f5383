"""ember: a small, fast deep-learning library with PyTorch's habits."""

from ember import _C
from ember._runtime import build_info, get_num_threads, set_num_threads

__version__ = build_info()["version"]

__all__ = ["build_info", "get_num_threads", "set_num_threads", "__version__"]
