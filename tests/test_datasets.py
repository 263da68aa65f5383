"""ember.datasets: synthetic sets, IDX/MNIST reading (small files written here, plus the real
MNIST in ../shared/data when present), the offline download flow, CSV tables, the shipped
digits and the batch transforms."""

import gzip
import hashlib
import struct
import urllib.error
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import ember
from ember.data import DataLoader
from ember.datasets import (
    MNIST,
    FashionMNIST,
    load_csv,
    load_digits,
    read_idx,
    spirals,
    two_moons,
    unit_circle,
    xor,
)
from ember.datasets import download as download_module
from ember.datasets.transforms import (
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomShift,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
SPAMBASE = SHARED_DATA / "spambase" / "spambase.csv"


def numpy_pair(pair):
    x, y = pair
    return x.numpy(), y.numpy()


# ---------------------------------------------------------------- synthetic sets


def test_xor_is_the_four_corners():
    x, y = numpy_pair(xor())
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert x.dtype == np.float32 and y.dtype == np.int64


def test_noisy_xor_copies_scatter_around_the_corners():
    x, y = numpy_pair(xor(copies=50, noise=0.1, seed=0))
    assert x.shape == (200, 2)
    corners = np.tile([[0, 0], [0, 1], [1, 0], [1, 1]], (50, 1))
    deviation = x - corners
    assert 0.08 < deviation.std() < 0.12
    np.testing.assert_array_equal(y, np.tile([0, 1, 1, 0], 50))


def test_unit_circle_labels_points_outside_the_circle():
    x, y = numpy_pair(unit_circle(2000, seed=1))
    assert x.shape == (2000, 2) and x.dtype == np.float32 and y.dtype == np.int64
    radius2 = (x.astype(np.float64) ** 2).sum(axis=1)
    clear = np.abs(radius2 - 1) > 1e-5  # float32 rounding may only flip points on the circle
    np.testing.assert_array_equal(y[clear], (radius2 > 1)[clear])
    assert 0.55 < y.mean() < 0.67  # P(chi2_2 > 1) = exp(-1/2) = 0.607
    assert 0.9 < x.std() < 1.1


def test_synthetic_sets_are_reproducible_from_the_seed():
    for make in (
        lambda s: unit_circle(50, seed=s),
        lambda s: two_moons(50, seed=s),
        lambda s: spirals(50, seed=s),
        lambda s: xor(3, noise=0.2, seed=s),
    ):
        a, b, c = numpy_pair(make(4)), numpy_pair(make(4)), numpy_pair(make(5))
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert not np.array_equal(a[0], c[0])


def test_synthetic_sets_follow_manual_seed():
    ember.manual_seed(7)
    a = unit_circle(20)[0].numpy()
    ember.manual_seed(7)
    np.testing.assert_array_equal(unit_circle(20)[0].numpy(), a)


def test_two_moons_without_noise_lie_on_their_half_circles():
    x, y = numpy_pair(two_moons(101, noise=0.0, seed=0))
    assert np.bincount(y).tolist() == [51, 50]
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all()
    np.testing.assert_allclose(np.linalg.norm(lower - [1, 0.5], axis=1), 1, atol=1e-6)
    assert (lower[:, 1] <= 0.5 + 1e-6).all()
    assert not np.array_equal(y, np.sort(y))  # shuffled


def test_two_moons_noise_matches_the_requested_spread():
    clean = two_moons(4000, noise=0.0, seed=3)[0].numpy()
    noisy = two_moons(4000, noise=0.2, seed=3)[0].numpy()
    # same seed -> same shuffle, so the difference is the added noise alone
    assert 0.18 < (noisy - clean).std() < 0.22


def test_spirals_without_noise_follow_their_arms():
    classes = 3
    x, y = numpy_pair(spirals(301, classes=classes, noise=0.0, seed=0))
    assert x.shape == (301, 2) and np.bincount(y).tolist() == [101, 100, 100]
    r = np.linalg.norm(x.astype(np.float64), axis=1)
    angle = 2 * np.pi * y / classes + 4 * r
    np.testing.assert_allclose(
        x, r[:, None] * np.stack([np.sin(angle), np.cos(angle)], 1), atol=1e-5
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: unit_circle(0), "n must be an int >= 1"),
        (lambda: two_moons(10, noise=-1), "noise must be >= 0"),
        (lambda: spirals(10, classes=1), "classes must be an int >= 2"),
        (lambda: xor(copies=0), "copies must be"),
    ],
)
def test_synthetic_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------- IDX files


def idx_bytes(array, type_code=0x08, big_endian_dtype=">u1"):
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big_endian_dtype).tobytes()


def write(path, payload, compress=None):
    compress = path.suffix == ".gz" if compress is None else compress
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_read_idx_reads_raw_and_gzip_files(tmp_path, name):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    got = read_idx(write(tmp_path / name, idx_bytes(images)))
    np.testing.assert_array_equal(got, images)
    assert got.dtype == np.uint8


def test_read_idx_converts_big_endian_types(tmp_path):
    ints = np.array([-3, 70000, 2**31 - 1], dtype=np.int32)
    floats = np.array([[1.5, -2.25]], dtype=np.float32)
    got_ints = read_idx(write(tmp_path / "i", idx_bytes(ints, 0x0C, ">i4")))
    got_floats = read_idx(write(tmp_path / "f", idx_bytes(floats, 0x0D, ">f4")))
    np.testing.assert_array_equal(got_ints, ints)
    np.testing.assert_array_equal(got_floats, floats)
    assert got_ints.dtype.isnative and got_floats.dtype.isnative


GOOD = idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "name, payload, compress, match",
    [
        ("magic", b"\x01\x00" + GOOD[2:], False, r"not an IDX file \(magic number 0x0100"),
        ("type", GOOD[:2] + b"\x07" + GOOD[3:], False, "not an IDX file"),
        ("short", b"\x00\x00", False, "too short"),
        ("header", GOOD[:9], False, "truncated header"),
        ("data", GOOD[:-1], False, r"truncated: header says shape \(2, 3, 3\)"),
        ("extra", GOOD + b"\x00", False, "trailing bytes"),
        ("data.gz", GOOD[:-4], True, "truncated"),
        ("junk.gz", b"not gzip at all", False, "not a valid gzip file"),
        ("cut.gz", gzip.compress(GOOD)[:-10], False, "not a valid gzip file"),
    ],
)
def test_read_idx_errors_name_the_file(tmp_path, name, payload, compress, match):
    path = write(tmp_path / name, payload, compress)
    with pytest.raises(ValueError, match=match) as error:
        read_idx(path)
    assert str(path) in str(error.value)


# ---------------------------------------------------------------- MNIST on small files


def fake_images(n, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def write_split(folder, split, images, labels, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write(folder / f"{split}-images-idx3-ubyte{suffix}", idx_bytes(images))
    write(folder / f"{split}-labels-idx1-ubyte{suffix}", idx_bytes(labels.astype(np.uint8)))


@pytest.fixture
def small_mnist(tmp_path):
    """A 10-image train split (gzip), one image per class, and a 5-image test split (raw)."""
    train = fake_images(10, 0), np.array([3, 8, 1, 9, 0, 5, 2, 7, 4, 6])
    test = fake_images(5, 1), np.array([3, 1, 4, 1, 5])
    write_split(tmp_path, "train", *train, gz=True)
    write_split(tmp_path, "t10k", *test, gz=False)
    return tmp_path, train, test


def test_mnist_reads_both_splits(small_mnist):
    root, (train_images, _), (test_images, test_labels) = small_mnist
    train, test = MNIST(root), MNIST(str(root), train=False)
    assert len(train) == 10 and len(test) == 5
    np.testing.assert_array_equal(train.data, train_images)
    np.testing.assert_array_equal(test.targets, test_labels)
    assert train.data.dtype == np.uint8 and train.targets.dtype == np.int64
    image, label = test[2]
    assert image.numpy().shape == (1, 28, 28) and image.numpy().dtype == np.float32
    np.testing.assert_allclose(image.numpy()[0], test_images[2] / 255, rtol=1e-6)
    assert label == 4 and isinstance(label, int)
    x, y = test.tensors()
    assert x.numpy().shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(y.numpy(), test_labels)


def test_mnist_finds_the_torchvision_layout(tmp_path):
    write_split(tmp_path / "FashionMNIST" / "raw", "t10k", fake_images(3, 2), np.array([0, 9, 2]))
    ds = FashionMNIST(tmp_path, train=False)
    assert ds.targets.tolist() == [0, 9, 2] and ds.classes[9] == "Ankle boot"


def test_mnist_batches_are_gathered_and_transformed(small_mnist, monkeypatch):
    root, (images, labels), _ = small_mnist

    def forbidden(self, index):
        raise AssertionError("the loader read one image at a time")

    monkeypatch.setattr(MNIST, "__getitem__", forbidden)
    ds = MNIST(root, transform=Normalize(0.5, 0.25))
    batches = list(DataLoader(ds, batch_size=5, shuffle=True, seed=0))
    assert len(batches) == 2
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    order = np.argsort(labels)[y]  # one image per class: the label tells which image it was
    np.testing.assert_array_equal(np.sort(order), np.arange(10))
    expected = (images[order].astype(np.float64) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(x[:, 0], expected, rtol=1e-5, atol=1e-5)


def test_mnist_missing_files_say_how_to_get_them(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"train-images-idx3-ubyte\[\.gz\] not found.*"
        r"download=True",
    ):
        MNIST(tmp_path)


def test_mnist_rejects_wrong_shapes_and_counts(tmp_path):
    write_split(tmp_path / "a", "train", np.zeros((2, 27, 28), np.uint8), np.array([0, 1]))
    with pytest.raises(
        ValueError,
        match=r"train-images-idx3-ubyte.gz: expected uint8 images of "
        r"shape \(N, 28, 28\), got uint8 \(2, 27, 28\)",
    ):
        MNIST(tmp_path / "a")
    write_split(tmp_path / "b", "train", fake_images(3, 0), np.array([0, 1]))
    with pytest.raises(ValueError, match="holds 2 labels for 3 images"):
        MNIST(tmp_path / "b")
    write_split(tmp_path / "c", "train", fake_images(2, 0), np.array([0, 10]))
    with pytest.raises(ValueError, match="label 10 is out of range"):
        MNIST(tmp_path / "c")


def test_mnist_reports_a_truncated_file(tmp_path):
    write_split(tmp_path, "train", fake_images(2, 0), np.array([0, 1]), gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: truncated"):
        MNIST(tmp_path)


# ---------------------------------------------------------------- download flow, offline


class TinyMNIST(MNIST):
    mirrors = ("https://first.invalid/", "https://second.invalid/")
    resources: ClassVar[dict[str, str]] = {}


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Four small .gz files 'served' by the second mirror; the first one is down."""
    payloads = {
        "train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(fake_images(4, 0))),
        "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.array([1, 2, 3, 4], np.uint8))),
        "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(fake_images(2, 1))),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.array([5, 6], np.uint8))),
    }
    monkeypatch.setattr(
        TinyMNIST,
        "resources",
        {name: hashlib.md5(data).hexdigest() for name, data in payloads.items()},
    )
    requests = []

    def fetch(url):
        requests.append(url)
        if url.startswith("https://first.invalid/"):
            raise urllib.error.URLError("mirror down")
        return payloads[url.rsplit("/", 1)[1]]

    monkeypatch.setattr(download_module, "fetch", fetch)
    return tmp_path / "data", payloads, requests


def test_download_fetches_from_the_first_working_mirror(served):
    root, payloads, requests = served
    ds = TinyMNIST(root, download=True)
    assert ds.targets.tolist() == [1, 2, 3, 4]
    assert sorted(p.name for p in root.iterdir()) == sorted(payloads)
    assert len(requests) == 8  # each file: first mirror fails, second serves
    requests.clear()
    assert TinyMNIST(root, train=False, download=True).targets.tolist() == [5, 6]
    assert requests == []  # everything is there already


def test_download_rejects_a_wrong_checksum_and_leaves_nothing(served, monkeypatch):
    root, _, _ = served
    monkeypatch.setitem(TinyMNIST.resources, "train-labels-idx1-ubyte.gz", "0" * 32)
    with pytest.raises(
        RuntimeError,
        match=r"could not download train-labels-idx1-ubyte.gz:"
        r"(.|\n)*mirror down(.|\n)*MD5 .*expected 0000",
    ):
        TinyMNIST(root, download=True)
    assert not (root / "train-labels-idx1-ubyte.gz").exists()
    assert not list(root.glob("*.part"))


# ---------------------------------------------------------------- the real MNIST


@pytest.fixture(scope="module")
def real_mnist():
    if not MNIST_DIR.is_dir():
        pytest.skip(f"real MNIST not found at {MNIST_DIR} (the ../shared/data folder)")
    return MNIST(MNIST_DIR, train=True), MNIST(MNIST_DIR, train=False)


def test_real_mnist_matches_the_published_files(real_mnist):
    train, test = real_mnist
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    # MD5s of the uncompressed IDX files (header rebuilt from the shape, then the pixels)
    for ds, md5 in [
        (train, "6bbc9ace898e44ae57da46a324031adb"),
        (test, "2646ac647ad5339dbf082846283269ea"),
    ]:
        header = struct.pack(">4B3I", 0, 0, 8, 3, *ds.data.shape)
        assert hashlib.md5(header + ds.data.tobytes()).hexdigest() == md5
    assert train.targets[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(train.targets).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]


def test_real_mnist_batches(real_mnist):
    train, _ = real_mnist
    x, y = next(iter(DataLoader(train, batch_size=64, shuffle=True, seed=0)))
    x, y = x.numpy(), y.numpy()
    assert x.shape == (64, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.99


# ---------------------------------------------------------------- CSV tables


def test_spambase():
    if not SPAMBASE.is_file():
        pytest.skip(f"Spambase not found at {SPAMBASE} (the ../shared/data folder)")
    table = load_csv(SPAMBASE)
    x, y = table.X.numpy(), table.y.numpy()
    assert x.shape == (4601, 57) and x.dtype == np.float32 and y.dtype == np.int64
    assert table.classes == ("nonspam", "spam")
    assert np.bincount(y).tolist() == [2788, 1813]
    assert table.feature_names[0] == "make" and table.feature_names[-1] == "capitalTotal"
    np.testing.assert_allclose(x[0, :3], [0, 0.64, 0.64])
    by_name = load_csv(SPAMBASE, target_column="type")
    np.testing.assert_array_equal(by_name.y.numpy(), y)


def test_csv_target_by_name_and_string_classes(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,label,"b"\n1,cat,2.5\n3, dog ,4\n\n5,ant,-1e-3\n')
    x, y, names, classes = load_csv(path, target_column="label")
    np.testing.assert_allclose(x.numpy(), [[1, 2.5], [3, 4], [5, -1e-3]])
    assert names == ("a", "b") and classes == ("ant", "cat", "dog")
    np.testing.assert_array_equal(y.numpy(), [1, 2, 0])


def test_csv_numeric_targets(tmp_path):
    ints = tmp_path / "i.csv"
    ints.write_text("1,2,0\n3,4,2\n")
    table = load_csv(ints, header=False)
    assert table.y.numpy().dtype == np.int64 and table.y.numpy().tolist() == [0, 2]
    assert table.classes is None and table.feature_names == ("x0", "x1")
    floats = tmp_path / "f.csv"
    floats.write_text("y,x\n0.5,1\n1.25,2\n")
    table = load_csv(floats, target_column=0)
    assert table.y.numpy().dtype == np.float32 and table.y.numpy().tolist() == [0.5, 1.25]


@pytest.mark.parametrize(
    "text, kwargs, match",
    [
        ("a,b,y\n1,2,p\n3,oops,q\n", {}, r"line 3: column 'b' holds 'oops'"),
        ("a,b,y\n1,2,p\n3,q\n", {}, "line 3: 2 fields, expected 3"),
        ("a,b,y\n1,2,p\n", {"target_column": "z"}, "no column named 'z'"),
        ("a,b,y\n1,2,p\n", {"target_column": 3}, "out of range"),
        ("a,b,y\n", {}, "no data rows"),
        ("a,b,y\n1,,p\n", {}, "column 'b' holds ''"),
    ],
)
def test_csv_errors(tmp_path, text, kwargs, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        load_csv(path, **kwargs)


# ---------------------------------------------------------------- shipped digits


def test_load_digits_ships_with_the_package():
    x, y = numpy_pair(load_digits())
    assert x.shape == (1797, 64) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert x.min() == 0 and x.max() == 16 and np.array_equal(x, np.round(x))
    images = load_digits(images=True)[0].numpy()
    np.testing.assert_array_equal(images.reshape(1797, 64), x)


def test_load_digits_equals_scikit_learn():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn not installed")
    reference = datasets.load_digits()
    x, y = numpy_pair(load_digits())
    np.testing.assert_array_equal(x, reference.data)
    np.testing.assert_array_equal(y, reference.target)


def test_digits_provenance_notice_sits_next_to_the_data():
    folder = Path(ember.datasets.__file__).parent
    notice = (folder / "DIGITS_NOTICE.md").read_text()
    assert (folder / "digits.npz").is_file() and "CC BY 4.0" in notice


# ---------------------------------------------------------------- transforms


def image_batch(n=6, channels=2, size=5, seed=0):
    return np.random.default_rng(seed).random((n, channels, size, size)).astype(np.float32)


def test_normalize_per_channel_and_scalar():
    x = image_batch()
    out = Normalize([0.1, 0.2], [0.5, 2.0])(x)
    np.testing.assert_allclose(out[:, 0], (x[:, 0] - 0.1) / 0.5, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], (x[:, 1] - 0.2) / 2.0, rtol=1e-6)
    assert out.dtype == np.float32
    flat = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_allclose(Normalize(1.0, 2.0)(flat), (flat - 1.0) / 2.0)
    tensor_out = Normalize(0.5, 0.5)(ember.from_numpy(x))
    np.testing.assert_allclose(tensor_out.numpy(), (x - 0.5) / 0.5, rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(ValueError, match="std must be > 0"):
        Normalize(0.0, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"\[Normalize\] 3 means/stds need .* 3 channels"):
        Normalize([0, 0, 0], [1, 1, 1])(image_batch(channels=2))


def find_window(padded, crop):
    """All (top, left) where crop sits in padded (C, H, W)."""
    h, w = crop.shape[-2:]
    return [
        (t, left)
        for t in range(padded.shape[-2] - h + 1)
        for left in range(padded.shape[-1] - w + 1)
        if np.array_equal(padded[..., t : t + h, left : left + w], crop)
    ]


def test_random_crop_takes_a_window_of_the_padded_image_per_sample():
    x = image_batch(n=40, size=6)
    out = RandomCrop(4, padding=1, seed=0)(x)
    assert out.shape == (40, 2, 4, 4)
    padded = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    offsets = set()
    for i in range(40):
        found = find_window(padded[i], out[i])
        assert found, f"sample {i} is not a crop of its padded image"
        offsets.add(found[0])
    assert len(offsets) > 5  # offsets are drawn per sample


def test_random_crop_of_the_full_size_without_padding_is_the_identity():
    x = image_batch()
    np.testing.assert_array_equal(RandomCrop(5, seed=0)(x), x)
    with pytest.raises(ValueError, match=r"\[RandomCrop\] crop 6x6 is larger"):
        RandomCrop(6, seed=0)(x)


def test_random_shift_moves_each_image_within_the_bound():
    x = image_batch(n=30, channels=1, size=6) + 0.1  # no zeros inside: shifts are unambiguous
    out = RandomShift(2, seed=1)(x[:, 0])  # (N, H, W) batches work too
    assert out.shape == (30, 6, 6)
    padded = np.pad(x[:, 0], [(0, 0), (2, 2), (2, 2)])
    shifts = set()
    for i in range(30):
        ((top, left),) = find_window(padded[i], out[i])
        shifts.add((top - 2, left - 2))
    assert all(abs(dy) <= 2 and abs(dx) <= 2 for dy, dx in shifts) and len(shifts) > 5


def test_random_horizontal_flip():
    x = image_batch(n=64)
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0, seed=0)(x), x)
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0, seed=0)(x), x[..., ::-1])
    out = RandomHorizontalFlip(0.5, seed=0)(x)
    flipped = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert (flipped ^ kept).all() and 16 < flipped.sum() < 48


def test_random_transforms_are_reproducible_and_vary_between_calls():
    x = image_batch(n=16)
    pipeline = lambda: Compose([RandomCrop(4, padding=1, seed=3), RandomHorizontalFlip(seed=4)])
    a, b = pipeline(), pipeline()
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))


def test_transforms_through_a_prefetching_loader_are_reproducible(small_mnist):
    root, _, _ = small_mnist

    def epoch(prefetch):
        ds = MNIST(root, transform=Compose([RandomShift(2, seed=5), Normalize(0.1307, 0.3081)]))
        loader = DataLoader(ds, batch_size=4, shuffle=True, seed=2, prefetch=prefetch)
        return np.concatenate([x.numpy() for x, _ in loader])

    np.testing.assert_array_equal(epoch(0), epoch(2))


def test_random_transforms_follow_manual_seed():
    x = image_batch(n=16)
    ember.manual_seed(3)
    first = RandomShift(2)(x)
    ember.manual_seed(3)
    np.testing.assert_array_equal(RandomShift(2)(x), first)
    seeded = RandomShift(2, generator=ember.Generator().manual_seed(3))
    np.testing.assert_array_equal(
        seeded(x), RandomShift(2, generator=ember.Generator().manual_seed(3))(x)
    )
