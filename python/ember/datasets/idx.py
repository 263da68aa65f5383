"""Reading the IDX format of MNIST-style datasets, gzip-compressed or not.

An IDX file is: two zero bytes, a type code, the number of dims d, then d big-endian uint32
sizes, then the values in C order (big-endian for multi-byte types).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: not a valid gzip file ({error})") from error


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (a `.gz` name is decompressed), read-only, in native
    byte order. Raises ValueError naming the file when the header or the size is wrong."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero0, zero1, type_code, ndim = raw[:4]
    if zero0 or zero1 or type_code not in _TYPES:
        raise ValueError(
            f"{path}: not an IDX file (magic number 0x{raw[:4].hex()}; expected 0x0000 "
            f"followed by a type code in {[hex(t) for t in _TYPES]} and the number of dims)"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path}: truncated header: {ndim} dims need {header_size} bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _TYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: {problem}: header says shape {shape} of {dtype.name}, which needs "
            f"{expected} bytes, but the file holds {len(raw)}"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    if not dtype.isnative:
        values = values.astype(dtype.newbyteorder("="))
        values.flags.writeable = False
    return values
