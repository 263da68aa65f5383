"""ember.save / ember.load: checkpoints in the safetensors file layout.

File layout (https://github.com/huggingface/safetensors):

    [8 bytes]  N, the header length, unsigned little-endian
    [N bytes]  JSON header, space-padded so the data starts 8-byte aligned:
               {"__metadata__": {str: str},
                "<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
    [rest]     raw little-endian tensor bytes, C order; offsets are relative to this section

Why this format and not .npz or pickle: loading a checkpoint runs no code at all (there is no
pickle path, not even an allow_pickle switch to get wrong); the data is one contiguous, aligned
block that can be memory-mapped; and it is the ecosystem's standard, so a file written here opens
with the `safetensors` package in PyTorch, JAX or NumPy, and ember reads theirs. The reader and
writer below are a few dozen lines of NumPy, so ember does not depend on that package.

What ember adds: a checkpoint is usually nested ({"model": ..., "optimizer": ..., "epoch": 3}), and
safetensors stores only flat name -> tensor maps. Tensors are stored under their path in the nested
object, levels joined by "/" (a flat state_dict keeps its own names, "fc1.weight"; the optimizer's
first moment of parameter 0 becomes "optimizer/state/0/exp_avg"). The nested structure itself goes,
as JSON, into the metadata entry "ember.structure", in which every container is a one-key object:

    {"dict": [[key, node], ...]}   keys are strings or integers; order is kept
    {"list": [node, ...]}          {"tuple": [node, ...]}
    {"tensor": name}               {"ndarray": name}        a stored block, loaded as Tensor/ndarray
    {"float": "nan" | "inf" | "-inf"}
    null, true/false, numbers and strings stand for themselves.

A tensor that appears twice (tied weights) is stored once and loads as one shared Tensor. A file
without "ember.structure" (written by another program) loads as a flat {name: Tensor} dict.

save() is atomic: it writes a temporary file in the target's directory, flushes and fsyncs it, then
renames it over the target, so a crash at any point leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import sys
from typing import Any

import numpy as np

from ember._tensor import Tensor, _wrap

_DTYPE_CODES = {
    np.dtype(np.float64): "F64",
    np.dtype(np.float32): "F32",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
}
_DTYPES = {code: dtype for dtype, code in _DTYPE_CODES.items()}
# The file is little-endian; blocks are read into arrays of the canonical native dtype objects
# (ember's kernels test dtype identity), and swapped afterwards on a big-endian host.
_SWAP = sys.byteorder == "big"
_STRUCTURE_KEY = "ember.structure"
_RESERVED = "__metadata__"
# safetensors refuses headers above 100 MB; so do we, so that a corrupt length cannot make us
# allocate gigabytes before the JSON fails to parse.
_MAX_HEADER = 100_000_000


# ---------------------------------------------------------------------------------------- save


def save(obj: dict, path: str | os.PathLike) -> None:
    """Write obj (a state_dict, or a nested dict of state_dicts, numbers, strings and lists) to
    path in the safetensors layout; see the module docstring. Replaces path atomically."""
    if not isinstance(obj, dict):
        raise TypeError(f"ember.save expects a dict (e.g. a state_dict), got {type(obj).__name__}")
    blocks: dict[str, np.ndarray] = {}
    structure = _encode(obj, (), blocks, {})
    header, ordered = _header(blocks, {_STRUCTURE_KEY: json.dumps(structure, allow_nan=False)})
    _write_atomic(os.fspath(path), header, ordered)


def _encode(obj: Any, where: tuple, blocks: dict, seen: dict) -> Any:
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"float": repr(obj)}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), where, blocks, seen)
    if isinstance(obj, (Tensor, np.ndarray)):
        kind = "ndarray" if isinstance(obj, np.ndarray) else "tensor"
        if id(obj) not in seen:
            array = obj if kind == "ndarray" else obj.detach().cpu().numpy()
            name = _block_name(where)
            if array.dtype.newbyteorder("=") not in _DTYPE_CODES:
                raise TypeError(
                    f"ember.save: '{name}' has dtype {array.dtype}; supported: "
                    + ", ".join(str(d) for d in _DTYPE_CODES)
                )
            if name in blocks:
                raise ValueError(f"ember.save: two entries are both stored under the name '{name}'")
            blocks[name] = array
            seen[id(obj)] = (obj, name)  # keep obj alive so its id is not reused meanwhile
        return {kind: seen[id(obj)][1]}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"ember.save: dict keys must be str or int, got {key!r} at '{_block_name(where)}'"
                )
            items.append([key, _encode(value, (*where, str(key)), blocks, seen)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "tuple" if isinstance(obj, tuple) else "list"
        return {kind: [_encode(v, (*where, str(i)), blocks, seen) for i, v in enumerate(obj)]}
    raise TypeError(
        f"ember.save: cannot store a {type(obj).__name__} at '{_block_name(where)}'; supported: "
        "Tensor, ndarray, dict, list, tuple, str, int, float, bool, None"
    )


def _block_name(where: tuple) -> str:
    name = "/".join(where)
    if name == _RESERVED:
        raise ValueError(f"ember.save: '{_RESERVED}' is reserved by the file format")
    return name


def _header(blocks: dict[str, np.ndarray], metadata: dict[str, str]) -> tuple[bytes, list]:
    # Widest items first (then by name, as safetensors does): every block then starts aligned to
    # its own item size, so a reader can map the file and view the blocks in place.
    names = sorted(blocks, key=lambda n: (-blocks[n].dtype.itemsize, n))
    entries: dict[str, Any] = {_RESERVED: metadata}
    ordered, offset = [], 0
    for name in names:
        # (not ascontiguousarray, which turns 0-d arrays into 1-d ones)
        array = np.asarray(blocks[name], dtype=blocks[name].dtype.newbyteorder("<"), order="C")
        entries[name] = {
            "dtype": _DTYPE_CODES[array.dtype.newbyteorder("=")],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
        ordered.append(array)
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    return len(text).to_bytes(8, "little") + text, ordered


def _write_atomic(path: str, header: bytes, arrays: list[np.ndarray]) -> None:
    directory, base = os.path.split(os.path.abspath(path))
    temp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never write through a file someone else created; mode 0o666 lets the umask decide
    # the final permissions, as a plain open() would.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            for array in arrays:
                f.write(array.reshape(-1).view(np.uint8))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------- load


def load(path: str | os.PathLike) -> Any:
    """Read a file written by ember.save (returning the same nested structure, with CPU Tensors)
    or any safetensors file of supported dtypes (returning a flat {name: Tensor} dict).
    Raises ValueError naming the file when it is truncated, corrupt or not safetensors."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        entries, metadata, data_start = _read_header(f, size, path)
        blocks = {name: _read_block(f, data_start, entry) for name, entry in entries.items()}
    if _STRUCTURE_KEY not in metadata:
        return {name: _wrap(array) for name, array in blocks.items()}
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: corrupt '{_STRUCTURE_KEY}' metadata ({e})") from None
    tensors: dict[str, Any] = {}
    return _decode(structure, blocks, tensors, path)


def _read_header(f, size: int, path: str) -> tuple[dict, dict, int]:
    def bad(why: str) -> ValueError:
        return ValueError(f"{path}: not a valid safetensors file: {why}")

    if size < 8:
        raise bad(f"{size} bytes is too short for the 8-byte header length")
    n = int.from_bytes(f.read(8), "little")
    if n > size - 8:
        raise bad(f"header length {n} exceeds the {size - 8} bytes after it")
    if n > _MAX_HEADER:
        raise bad(f"header length {n} is above the format's {_MAX_HEADER}-byte limit")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad(f"header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop(_RESERVED, {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise bad(f"'{_RESERVED}' must map strings to strings")
    data_size = size - 8 - n
    for name, entry in header.items():
        _check_entry(name, entry, data_size, bad)
    return header, metadata, 8 + n


def _check_entry(name: str, entry: Any, data_size: int, bad) -> None:
    if not isinstance(entry, dict) or {"dtype", "shape", "data_offsets"} - entry.keys():
        raise bad(f"entry '{name}' needs dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        raise bad(f"'{name}' has unsupported dtype {dtype!r} (supported: {', '.join(_DTYPES)})")
    if not isinstance(shape, list) or not all(_is_index(d) and d >= 0 for d in shape):
        raise bad(f"'{name}' has invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_index, offsets))):
        raise bad(f"'{name}' has invalid data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise bad(
            f"'{name}' data_offsets [{begin}, {end}] fall outside the {data_size} data bytes"
            " (truncated file?)"
        )
    expected = math.prod(shape) * _DTYPES[dtype].itemsize
    if end - begin != expected:
        raise bad(f"'{name}' spans {end - begin} bytes, but {dtype} {shape} needs {expected}")


def _is_index(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _read_block(f, data_start: int, entry: dict) -> np.ndarray:
    # A fresh, aligned, writable array per block: loaded tensors own their memory and can be
    # updated in place (optimizer state) without keeping the rest of the file alive.
    array = np.empty(entry["shape"], dtype=_DTYPES[entry["dtype"]])
    if array.nbytes:
        f.seek(data_start + entry["data_offsets"][0])
        f.readinto(array.reshape(-1).view(np.uint8))
    if _SWAP:
        array.byteswap(inplace=True)
    return array


def _decode(node: Any, blocks: dict, tensors: dict, path: str) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) == 1:
        ((kind, value),) = node.items()
        if kind == "dict" and isinstance(value, list) and all(_is_pair(i) for i in value):
            return {_key(k, path): _decode(v, blocks, tensors, path) for k, v in value}
        if kind in ("list", "tuple") and isinstance(value, list):
            items = [_decode(v, blocks, tensors, path) for v in value]
            return items if kind == "list" else tuple(items)
        if kind in ("tensor", "ndarray") and isinstance(value, str):
            if value not in blocks:
                raise ValueError(f"{path}: structure refers to '{value}', which is not stored")
            if kind == "ndarray":
                return blocks[value]
            if value not in tensors:
                tensors[value] = _wrap(blocks[value])
            return tensors[value]
        if kind == "float" and value in ("nan", "inf", "-inf"):
            return float(value)
    raise ValueError(f"{path}: corrupt '{_STRUCTURE_KEY}' metadata near {str(node)[:80]}")


def _is_pair(item: Any) -> bool:
    return isinstance(item, list) and len(item) == 2


def _key(key: Any, path: str) -> str | int:
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise ValueError(f"{path}: corrupt '{_STRUCTURE_KEY}' metadata: dict key {key!r}")
    return key
