"""ember.save / ember.load: bit-exact round trips, nested checkpoints, the safetensors layout,
atomic replacement, and clear errors for truncated or foreign files."""

import json
import math
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember import serialization
from ember.nn.parameter import Parameter
from ember.serialization import load, save

try:
    import safetensors.numpy as st_numpy
except ImportError:
    st_numpy = None

DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.asarray(rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True))
    x = np.asarray(rng.standard_normal(shape), dtype=dtype)
    if x.size >= 4:  # the values a text format would get wrong
        x.flat[:4] = [np.nan, -np.inf, -0.0, np.finfo(dtype).tiny / 2]
    return x


def bits(array):
    """The raw bytes, so NaN payloads and -0.0 are compared exactly."""
    return np.ascontiguousarray(array).tobytes()


def assert_same(loaded, original):
    """Same nested structure; tensors with equal dtype, shape and bytes."""
    if isinstance(original, ember.Tensor):
        assert isinstance(loaded, ember.Tensor)
        a, b = loaded.numpy(), original.detach().numpy()
        assert (a.dtype, a.shape) == (b.dtype, b.shape)
        assert bits(a) == bits(b)
    elif isinstance(original, np.ndarray):
        assert isinstance(loaded, np.ndarray)
        assert (loaded.dtype, loaded.shape, bits(loaded)) == (
            original.dtype,
            original.shape,
            bits(original),
        )
    elif isinstance(original, dict):
        assert isinstance(loaded, dict) and list(loaded) == list(original)
        for key in original:
            assert_same(loaded[key], original[key])
    elif isinstance(original, (list, tuple)):
        assert type(loaded) is type(original) and len(loaded) == len(original)
        for a, b in zip(loaded, original):
            assert_same(a, b)
    elif isinstance(original, float) and math.isnan(original):
        assert isinstance(loaded, float) and math.isnan(loaded)
    else:
        assert type(loaded) is type(original) and loaded == original


def read_header(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return n, json.loads(raw[8 : 8 + n]), raw


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype_bit_exact(dtype, tmp_path):
    state = {
        "weight": ember.from_numpy(sample(dtype, (7, 13))),
        "bias": ember.from_numpy(sample(dtype, (13,), seed=1)),
        "scalar": ember.from_numpy(sample(dtype, ())),
        "empty": ember.from_numpy(sample(dtype, (0, 3))),
        "strided": ember.from_numpy(sample(dtype, (6, 5), seed=2)[::2, ::-1]),
    }
    save(state, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    assert_same(loaded, state)
    assert loaded["weight"].device == ember.device("cpu")
    # Loaded arrays own their memory, can be written and are ember's canonical dtypes.
    assert loaded["weight"].numpy().flags.writeable and loaded["weight"].numpy().flags.owndata
    assert loaded["weight"].dtype is np.dtype(dtype)


def test_nested_checkpoint_round_trip(tmp_path):
    weight = Parameter(sample(np.float32, (4, 3)))
    ckpt = {
        "model": {"fc.weight": weight, "fc.bias": ember.zeros(4)},
        "optimizer": {
            "state": {0: {"step": 12, "exp_avg": ember.ones(4, 3)}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "amsgrad": False, "params": [0]}],
        },
        "epoch": 3,
        "history": [0.5, float("inf"), float("-inf"), float("nan"), -0.0, 1e-310],
        "name": "mnist-mlp \u2713",
        "note": None,
        "empty": {},
        "labels": np.arange(5, dtype=np.int64),
        "big": 2**62 + 1,
    }
    save(ckpt, tmp_path / "ckpt.safetensors")
    loaded = load(tmp_path / "ckpt.safetensors")
    assert_same(loaded, ckpt)
    assert math.copysign(1.0, loaded["history"][4]) == -1.0
    assert list(loaded["optimizer"]["state"]) == [0]  # int keys stay ints

    _, header, _ = read_header(tmp_path / "ckpt.safetensors")
    assert sorted(k for k in header if k != "__metadata__") == [
        "labels",
        "model/fc.bias",
        "model/fc.weight",
        "optimizer/state/0/exp_avg",
    ]


def test_a_shared_tensor_is_stored_once_and_stays_shared(tmp_path):
    tied = ember.from_numpy(sample(np.float32, (5, 2)))
    save({"encoder": {"embed": tied}, "decoder": {"embed": tied}}, tmp_path / "t.safetensors")
    _, header, _ = read_header(tmp_path / "t.safetensors")
    assert [k for k in header if k != "__metadata__"] == ["encoder/embed"]
    loaded = load(tmp_path / "t.safetensors")
    assert loaded["encoder"]["embed"] is loaded["decoder"]["embed"]


def test_file_follows_the_safetensors_layout(tmp_path):
    state = {
        "b.int": ember.from_numpy(np.arange(3, dtype=np.int32)),
        "a.f64": ember.from_numpy(np.linspace(0, 1, 5)),
        "c.bool": ember.from_numpy(np.array([True, False])),
        "d.u8": ember.from_numpy(np.arange(3, dtype=np.uint8)),
    }
    save(state, tmp_path / "m.safetensors")
    n, header, raw = read_header(tmp_path / "m.safetensors")
    assert (8 + n) % 8 == 0  # the data section starts aligned
    metadata = header.pop("__metadata__")
    assert all(isinstance(v, str) for v in metadata.values())
    assert {k: v["dtype"] for k, v in header.items()} == {
        "a.f64": "F64",
        "b.int": "I32",
        "c.bool": "BOOL",
        "d.u8": "U8",
    }
    end = 0
    for name, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, stop = entry["data_offsets"]
        assert begin == end  # contiguous, no gaps: what the safetensors reader demands
        assert begin % np.dtype(state[name].dtype).itemsize == 0
        data = raw[8 + n + begin : 8 + n + stop]
        assert data == state[name].numpy().astype(state[name].dtype.newbyteorder("<")).tobytes()
        end = stop
    assert 8 + n + end == len(raw)


def test_reads_a_plain_safetensors_file_as_a_flat_dict(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            "layer.0.w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
            "layer.0.n": {"dtype": "I64", "shape": [], "data_offsets": [24, 32]},
        }
    )
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(
        struct.pack("<Q", len(header)) + header.encode() + a.tobytes() + np.int64(-5).tobytes()
    )
    loaded = load(str(path))
    assert list(loaded) == ["layer.0.w", "layer.0.n"]
    np.testing.assert_array_equal(loaded["layer.0.w"].numpy(), a)
    assert loaded["layer.0.n"].item() == -5 and loaded["layer.0.n"].shape == ()


@pytest.mark.parametrize(
    "obj, error, match",
    [
        ([ember.zeros(2)], TypeError, "expects a dict"),
        ({"h": ember.zeros(2, dtype=ember.float16)}, TypeError, "'h' has dtype float16"),
        ({"a": {"b": object()}}, TypeError, "cannot store a object at 'a/b'"),
        ({"a": {(1, 2): 3}}, TypeError, "dict keys must be str or int"),
        (
            {"a/b": ember.zeros(1), "a": {"b": ember.ones(1)}},
            ValueError,
            "stored under the name 'a/b'",
        ),
        ({"__metadata__": ember.zeros(1)}, ValueError, "reserved"),
    ],
)
def test_unsupported_content_is_refused_before_writing(obj, error, match, tmp_path):
    with pytest.raises(error, match=match):
        save(obj, tmp_path / "x.safetensors")
    assert list(tmp_path.iterdir()) == []


# ---- atomic replacement -------------------------------------------------------------------------


def test_failure_mid_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    old = {"w": ember.from_numpy(sample(np.float32, (64, 64)))}
    save(old, path)
    before = path.read_bytes()

    written = []

    def fail_after_header(f, data):
        written.append(len(data))
        if len(written) == 2:  # the header went out; die in the middle of the tensor data
            f.write(bytes(data)[: len(data) // 2])
            raise OSError("disk full")
        return f.write(data)

    class FailingFile:
        def __init__(self, f):
            self._f = f

        def write(self, data):
            return fail_after_header(self._f, data)

        def __getattr__(self, name):
            return getattr(self._f, name)

        def __enter__(self):
            self._f.__enter__()
            return self

        def __exit__(self, *exc):
            return self._f.__exit__(*exc)

    real_fdopen = os.fdopen
    monkeypatch.setattr(
        serialization.os, "fdopen", lambda fd, mode: FailingFile(real_fdopen(fd, mode))
    )
    with pytest.raises(OSError, match="disk full"):
        save({"w": ember.from_numpy(sample(np.float32, (64, 64), seed=9))}, path)
    monkeypatch.undo()
    assert len(written) == 2
    assert path.read_bytes() == before
    assert_same(load(path), old)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]  # temp file removed


def test_failed_fsync_or_rename_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    save({"w": ember.ones(3)}, path)
    before = path.read_bytes()
    for target in ("fsync", "replace"):
        with monkeypatch.context() as m:

            def fail(*args, target=target, **kwargs):
                raise OSError(f"{target} failed")

            m.setattr(serialization.os, target, fail)
            with pytest.raises(OSError, match=f"{target} failed"):
                save({"w": ember.zeros(3)}, path)
        assert path.read_bytes() == before
        assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]


def test_a_crash_mid_write_keeps_the_previous_file(tmp_path):
    """A process killed between writing and renaming: the target still holds the old checkpoint."""
    path = tmp_path / "ckpt.safetensors"
    save({"w": ember.ones(3)}, path)
    before = path.read_bytes()
    script = textwrap.dedent(f"""
        import os, ember
        from ember import serialization
        os.fsync = lambda fd: os._exit(3)   # die right before the rename, data half-flushed
        serialization.save({{"w": ember.zeros(1000)}}, {str(path)!r})
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert result.returncode == 3, result.stderr.decode()
    assert path.read_bytes() == before
    np.testing.assert_array_equal(load(path)["w"].numpy(), np.ones(3, np.float32))


def test_save_replaces_and_accepts_str_paths(tmp_path):
    path = str(tmp_path / "m.safetensors")
    save({"w": ember.ones(2)}, path)
    save({"w": ember.zeros(5)}, path)
    assert load(path)["w"].shape == (5,)
    assert os.listdir(tmp_path) == ["m.safetensors"]


# ---- truncated and foreign files ----------------------------------------------------------------


def good_file(tmp_path):
    path = tmp_path / "good.safetensors"
    save({"w": ember.from_numpy(sample(np.float32, (4, 4))), "step": 3}, path)
    return path, path.read_bytes()


@pytest.mark.parametrize("keep", [0, 5, 8, 20, -1, -17])
def test_truncated_file_names_the_file(keep, tmp_path):
    _, raw = good_file(tmp_path)
    path = tmp_path / "cut.safetensors"
    path.write_bytes(raw[:keep])
    with pytest.raises(ValueError, match=r"cut\.safetensors: not a valid safetensors file"):
        load(path)


def header_file(tmp_path, header, data=b"\0" * 16, length=None):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = tmp_path / "bad.safetensors"
    n = len(text) if length is None else length
    path.write_bytes(struct.pack("<Q", n) + text + data)
    return path


F32_2x2 = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}


@pytest.mark.parametrize(
    "header, length, match",
    [
        ({"w": F32_2x2}, 2**40, "header length 1099511627776 exceeds"),
        (b"{not json", None, "header is not JSON"),
        (b"\xff\xfe\x00", None, "header is not JSON"),
        ([1, 2], None, "header is a JSON list"),
        ({"w": {**F32_2x2, "data_offsets": [0, 32]}}, None, r"fall outside the 16 data bytes"),
        ({"w": {**F32_2x2, "data_offsets": [8, 4]}}, None, r"fall outside"),
        ({"w": {**F32_2x2, "shape": [3, 2]}}, None, r"spans 16 bytes, but F32 \[3, 2\] needs 24"),
        ({"w": {**F32_2x2, "dtype": "F16"}}, None, r"unsupported dtype 'F16'"),
        ({"w": {**F32_2x2, "shape": [-2, -2]}}, None, "invalid shape"),
        ({"w": {**F32_2x2, "data_offsets": [0.0, 16]}}, None, "invalid data_offsets"),
        ({"w": {"dtype": "F32"}}, None, "needs dtype, shape and data_offsets"),
        ({"__metadata__": {"a": 1}, "w": F32_2x2}, None, "must map strings to strings"),
        (
            {"__metadata__": {"ember.structure": "{"}, "w": F32_2x2},
            None,
            "corrupt 'ember.structure'",
        ),
        (
            {"__metadata__": {"ember.structure": '{"tensor": "v"}'}, "w": F32_2x2},
            None,
            "refers to 'v', which is not stored",
        ),
        (
            {"__metadata__": {"ember.structure": '{"dict": [[1]]}'}, "w": F32_2x2},
            None,
            "corrupt 'ember.structure'",
        ),
        (
            {"__metadata__": {"ember.structure": '{"set": []}'}, "w": F32_2x2},
            None,
            "corrupt 'ember.structure'",
        ),
    ],
)
def test_foreign_or_corrupt_header_names_the_file(header, length, match, tmp_path):
    path = header_file(tmp_path, header, length=length)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)


def test_a_file_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.ones(3))
    with pytest.raises(ValueError, match=r"weights\.npz: not a valid safetensors file"):
        load(path)


# ---- interoperability ---------------------------------------------------------------------------


@pytest.mark.skipif(st_numpy is None, reason="the safetensors package is not installed")
def test_safetensors_package_reads_our_files_and_we_read_theirs(tmp_path):
    arrays = {f"t.{np.dtype(d).name}": sample(d, (3, 5), seed=i) for i, d in enumerate(DTYPES)}
    save({k: ember.from_numpy(v) for k, v in arrays.items()}, tmp_path / "ours.safetensors")
    theirs = st_numpy.load_file(str(tmp_path / "ours.safetensors"))
    assert sorted(theirs) == sorted(arrays)
    for k, v in arrays.items():
        assert theirs[k].dtype == v.dtype and bits(theirs[k]) == bits(v)

    try:
        import safetensors.torch as st_torch
    except ImportError:  # PyTorch absent: the NumPy reader above already checked the bytes
        st_torch = None
    if st_torch is not None:
        in_torch = st_torch.load_file(str(tmp_path / "ours.safetensors"))
        for k, v in arrays.items():
            assert bits(in_torch[k].numpy()) == bits(v)

    st_numpy.save_file(arrays, str(tmp_path / "theirs.safetensors"), metadata={"format": "np"})
    ours = load(tmp_path / "theirs.safetensors")
    for k, v in arrays.items():
        assert ours[k].dtype == v.dtype and bits(ours[k].numpy()) == bits(v)
