"""The native row gather behind every array dataset's batches (ember.data._gather.take_rows):
it must return exactly what NumPy's fancy index returns, for every dtype and shape it takes,
on one thread and on a team, and leave the cases it does not take to NumPy."""

import numpy as np
import pytest

import ember
from ember import _C
from ember.data import DataLoader, TensorDataset
from ember.data._gather import take_rows

DTYPES = [np.float32, np.float64, np.uint8, np.int8, np.int16, np.int64, np.bool_,
          np.complex128, np.dtype(">f4"), np.dtype([("a", np.int32), ("b", np.float64)])]  # fmt: skip


def filled(shape, dtype, seed=0):
    raw = np.random.default_rng(seed).integers(0, 255, size=(*shape, np.dtype(dtype).itemsize))
    return raw.astype(np.uint8).view(dtype).reshape(shape)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(50,), (50, 7), (50, 3, 5, 2), (50, 0)])
def test_rows_match_numpy(dtype, shape):
    src = filled(shape, dtype)
    idx = np.array([0, 49, -1, -50, 7, 7, 13], dtype=np.int64)
    out = _C.gather_rows(src, idx)
    assert out.dtype == src.dtype and out.shape == src[idx].shape
    assert out.tobytes() == src[idx].tobytes()


@pytest.mark.parametrize("threads", [1, 2])
def test_large_batches_split_among_threads_match_numpy(threads):
    # 4096 rows of 3 KiB: above the work size at which the copy goes parallel.
    src = filled((6000, 784), np.float32)
    idx = np.random.default_rng(1).permutation(6000)[:4096].astype(np.int64)
    old = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        out = _C.gather_rows(src, idx)
    finally:
        ember.set_num_threads(old)
    np.testing.assert_array_equal(out, src[idx])


def test_empty_indices_give_an_empty_batch():
    src = filled((5, 3), np.float64)
    out = _C.gather_rows(src, np.zeros(0, dtype=np.int64))
    assert out.shape == (0, 3) and out.dtype == np.float64


@pytest.mark.parametrize("bad", [5, -6, 1 << 40])
def test_out_of_range_index_raises_index_error(bad):
    src = filled((5, 3), np.float32)
    with pytest.raises(IndexError, match=f"index {bad} is out of bounds for 5 rows"):
        _C.gather_rows(src, np.array([0, bad], dtype=np.int64))


def test_bad_arguments_are_rejected():
    src = filled((5, 3), np.float32)
    with pytest.raises(ValueError, match="src"):
        _C.gather_rows(src[:, ::2], np.array([0], dtype=np.int64))
    with pytest.raises(ValueError, match="src"):
        _C.gather_rows(np.array(1.0, dtype=np.float32), np.array([0], dtype=np.int64))
    with pytest.raises(TypeError, match="indices"):
        _C.gather_rows(src, np.array([0], dtype=np.int32))
    with pytest.raises(ValueError, match="indices"):
        _C.gather_rows(src, np.zeros((1, 1), dtype=np.int64))
    with pytest.raises(TypeError, match="Python objects"):
        _C.gather_rows(np.array([object()] * 3), np.array([0], dtype=np.int64))


@pytest.mark.parametrize(
    "array",
    [
        filled((20, 6), np.float32)[:, ::2],  # a strided view
        np.array([object(), "x", 3] * 4, dtype=object),  # references, not bytes
        np.asfortranarray(filled((20, 6), np.float64)),
    ],
    ids=["strided", "object", "fortran"],
)
def test_arrays_the_kernel_does_not_take_stay_with_numpy(array):
    idx = np.array([3, 1, -2], dtype=np.int64)
    out = take_rows(array, idx)
    expected = array[idx]
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert all(a is b or a == b for a, b in zip(out.ravel(), expected.ravel()))


def test_other_index_kinds_stay_with_numpy():
    src = filled((10, 2), np.float32)
    np.testing.assert_array_equal(take_rows(src, np.array([1, 2], dtype=np.int32)), src[[1, 2]])
    np.testing.assert_array_equal(take_rows(src, slice(2, 5)), src[2:5])


def test_shuffled_loader_batches_are_the_rows_of_the_epoch_order():
    x = filled((1000, 28, 28), np.float32)
    y = np.arange(1000, dtype=np.int64)
    loader = DataLoader(TensorDataset(ember.from_numpy(x), ember.from_numpy(y)), batch_size=64,
                        shuffle=True, seed=3)  # fmt: skip
    seen = []
    for xb, yb in loader:
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])
        seen.append(yb.numpy())
    assert sorted(np.concatenate(seen).tolist()) == list(range(1000))
