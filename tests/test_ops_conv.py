import numpy as np
import pytest
from op_harness import OpCase, check_case, check_thread_consistency
from reference import conv as ref

import ember
from ember import _C
from ember._runtime import num_threads

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None


def conv_case(name, x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1, bias=True, **opts):
    """One OpCase row; opts override OpCase fields (fd_points, tolerance_scale)."""
    params = {
        "stride": ref.pair(stride),
        "padding": ref.pair(padding),
        "dilation": ref.pair(dilation),
        "groups": groups,
    }
    wrt = ("x", "weight", "bias") if bias else ("x", "weight")

    def make_inputs(rng):
        inputs = {"x": rng.standard_normal(x_shape), "weight": rng.standard_normal(w_shape)}
        if bias:
            inputs["bias"] = rng.standard_normal(w_shape[0])
        return inputs

    def native_backward(dout, a):
        dx, dw, db = _C.conv2d_backward(dout, a["x"], a["weight"], **params, need_dbias=bias)
        return {"x": dx, "weight": dw, "bias": db}

    def reference_backward(dout, a):
        dx, dw, db = ref.conv2d_backward(dout, a["x"], a["weight"], **params)
        return {"x": dx, "weight": dw, "bias": db}

    return OpCase(
        name=name,
        make_inputs=make_inputs,
        native_forward=lambda a: _C.conv2d_forward(a["x"], a["weight"], a.get("bias"), **params),
        reference_forward=lambda a: ref.conv2d(a["x"], a["weight"], a.get("bias"), **params),
        wrt=wrt,
        native_backward=native_backward,
        reference_backward=reference_backward,
        torch_forward=lambda t: F.conv2d(t["x"], t["weight"], t.get("bias"), **params),
        **{"fd_points": 12, **opts},
    )


CASES = [
    conv_case("3x3", (2, 3, 7, 7), (4, 3, 3, 3)),
    conv_case("lenet_batch1_1ch", (1, 1, 13, 13), (2, 1, 5, 5), padding=2),
    conv_case("stride_not_dividing", (2, 2, 13, 7), (3, 2, 3, 2), stride=(2, 3), padding=(1, 0)),
    conv_case("dilation2", (2, 2, 9, 11), (3, 2, 3, 3), padding=1, dilation=2),
    conv_case(
        "dilation_stride_mixed",
        (1, 3, 13, 7),
        (2, 3, 2, 3),
        stride=(3, 1),
        padding=(0, 2),
        dilation=(1, 2),
    ),
    conv_case("groups2", (2, 4, 7, 7), (6, 2, 3, 3), padding=1, groups=2),
    conv_case("depthwise", (2, 3, 7, 13), (3, 1, 3, 3), stride=2, padding=1, groups=3),
    conv_case("1x1_no_bias", (2, 5, 7, 13), (4, 5, 1, 1), bias=False),
    conv_case("1x1_stride2", (1, 3, 7, 7), (2, 3, 1, 1), stride=2),
    conv_case("kernel_covers_input", (3, 2, 5, 5), (2, 2, 5, 5), bias=False),
    conv_case("kernel_wider_than_input", (2, 1, 3, 3), (2, 1, 5, 5), padding=1),
    conv_case("padding_beyond_kernel", (1, 2, 5, 4), (3, 2, 2, 2), padding=(3, 1)),
    # 3x3, stride 1, >= 16 channels: the Winograd kernels
    conv_case("winograd_pad1", (2, 16, 7, 9), (16, 16, 3, 3), padding=1),
    conv_case("winograd_odd_output", (1, 16, 6, 5), (20, 16, 3, 3)),
    conv_case("winograd_pad2_no_bias", (2, 17, 5, 4), (16, 17, 3, 3), padding=2, bias=False),
    conv_case("winograd_mixed_padding", (3, 16, 4, 7), (18, 16, 3, 3), padding=(0, 1)),
    conv_case("winograd_tiny_images", (3, 16, 1, 2), (16, 16, 3, 3), padding=1),
    # More tiles than one GEMM step takes. dweight sums 4148 pixels: float32 rounding reaches ~1e-4
    # at |dweight| ~ 250 (NumPy's own float32 einsum of the same sum is off by as much). The
    # reference is checked by finite differences on the rows above; a few points suffice here.
    conv_case(
        "winograd_large_image_in_bands",
        (1, 16, 70, 63),
        (16, 16, 3, 3),
        tolerance_scale=5,
        fd_points=2,
    ),
    conv_case("3x3_pad3_lowered", (1, 16, 3, 3), (16, 16, 3, 3), padding=3),
    # Stride 1, few channels, padding < kernel: the direct kernels in float32 on AVX2/AVX-512
    # (16 or 8 lanes over the output width, blocks of 4 output channels x 4 or 3 rows).
    conv_case("direct_lenet_conv2_batch3", (3, 6, 14, 14), (16, 6, 5, 5)),
    conv_case("direct_lenet_conv1_pad2", (2, 1, 28, 28), (6, 1, 5, 5), padding=2),
    conv_case("direct_ow23_o5_pad1", (3, 2, 9, 23), (5, 2, 3, 3), padding=1),
    conv_case("direct_ow37_o7_asymmetric_pad", (1, 1, 11, 37), (7, 1, 4, 3), padding=(2, 1)),
    conv_case("direct_o1_kw7_pad_1_2", (2, 3, 7, 19), (1, 3, 2, 7), padding=(1, 2), bias=False),
    conv_case("direct_oh13_ow17_pad_0_1", (1, 3, 15, 17), (9, 3, 3, 3), padding=(0, 1)),
    # O a multiple of the vector width (16 on AVX-512, 8 on AVX2): forward and dweight vectorised
    # over output channels (tiles of up to 14 or 12 pixels of a row, tap blocks of up to 5 x 7 or
    # 4 x 6), transposed to and from (O, OH, OW). Outputs not a multiple of a tile, 1x1, tall and
    # wide kernels split into several tap blocks, several vectors of channels.
    conv_case("channels_o16_out7x9_batch3", (3, 2, 9, 11), (16, 2, 3, 3)),
    conv_case("channels_o32_kh3_kw5_pad_2_1", (1, 1, 13, 11), (32, 1, 3, 5), padding=(2, 1)),
    conv_case("channels_o16_out1x1", (2, 3, 5, 5), (16, 3, 5, 5)),
    conv_case("channels_o8_out13x11_batch5", (5, 2, 15, 13), (8, 2, 3, 3), bias=False),
    conv_case("channels_o16_kh7_pad_3_1", (1, 1, 12, 6), (16, 1, 7, 2), padding=(3, 1)),
    conv_case("channels_o16_kw9_pad_1_4", (2, 1, 6, 12), (16, 1, 2, 9), padding=(1, 4)),
    conv_case("channels_o48_out4x29_pad_1_0", (1, 2, 4, 31), (48, 2, 3, 3), padding=(1, 0)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_conv2d(case, dtype, simd):
    check_case(case, dtype)


THREAD_CASES = [
    conv_case("batch8_3x3", (8, 8, 16, 16), (8, 8, 3, 3), padding=1),
    conv_case(
        "batch1_grouped_strided", (1, 16, 20, 20), (16, 8, 3, 3), stride=2, padding=1, groups=2
    ),
    conv_case("batch5_1x1", (5, 32, 12, 12), (16, 32, 1, 1)),
    conv_case("batch6_winograd", (6, 16, 12, 12), (16, 16, 3, 3), padding=1),
    conv_case("batch1_winograd", (1, 32, 20, 20), (32, 32, 3, 3), padding=1),
    conv_case("batch9_direct", (9, 6, 14, 14), (16, 6, 5, 5)),
    conv_case("batch3_direct_pad2_wide", (3, 2, 12, 40), (7, 2, 5, 5), padding=2),
    conv_case("batch5_direct_channels_o32_pad1", (5, 3, 11, 13), (32, 3, 3, 3), padding=1),
]


@pytest.mark.parametrize("case", THREAD_CASES, ids=str)
def test_conv2d_threads(case):
    check_thread_consistency(case)


LENET_CONV2 = ((64, 6, 14, 14), (16, 6, 5, 5))


def fast_simd_lanes(simd):
    """Vector width of the direct kernels on this `simd` fixture value (0: none)."""
    if simd == "generic":
        return 0
    detected = ember.build_info()["simd_detected"]
    if simd in ("auto", "avx512") and "avx512f" in detected:
        return 16
    return 8 if "avx2" in detected else 0


def test_conv2d_algorithm_takes_direct_path_for_small_channel_layers(simd):
    lanes = fast_simd_lanes(simd)
    # Output channels a multiple of the vector width: vectorised over channels (LeNet conv2 on
    # AVX-512 and AVX2); otherwise over the output width.
    for x_shape, w_shape, padding in [
        (*LENET_CONV2, 0),
        ((64, 1, 28, 28), (6, 1, 5, 5), 2),
        ((64, 3, 32, 32), (6, 3, 5, 5), 0),
        ((8, 3, 32, 32), (8, 3, 5, 5), 2),
        ((8, 4, 10, 10), (48, 4, 3, 3), 1),
    ]:
        got = _C._conv2d_algorithm(x_shape, w_shape, padding=padding)
        if not lanes:
            expected = "im2col"
        else:
            expected = "direct_channels" if w_shape[0] % lanes == 0 else "direct"
        assert got == expected, (x_shape, w_shape, got)
    if lanes:
        assert _C._conv2d_algorithm(*LENET_CONV2) == "direct_channels"
    assert _C._conv2d_algorithm(*LENET_CONV2, dtype=np.float64) == "im2col"
    # Strided, dilated, grouped or over-padded layers, and wide ones, stay on the other paths.
    assert _C._conv2d_algorithm(*LENET_CONV2, stride=2) == "im2col"
    assert _C._conv2d_algorithm(*LENET_CONV2, dilation=2) == "im2col"
    assert _C._conv2d_algorithm((2, 6, 14, 14), (6, 3, 5, 5), groups=2) == "im2col"
    assert _C._conv2d_algorithm(*LENET_CONV2, padding=(5, 0)) == "im2col"
    assert _C._conv2d_algorithm((8, 64, 8, 8), (64, 64, 3, 3), padding=1) == "winograd"


def test_conv2d_algorithm_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\[_conv2d_algorithm\] expected 4-D x_shape"):
        _C._conv2d_algorithm((6, 14, 14), (16, 6, 5, 5))
    with pytest.raises(ValueError, match=r"\[_conv2d_algorithm\] groups=4 must divide"):
        _C._conv2d_algorithm((1, 6, 14, 14), (16, 6, 5, 5), groups=4)
    with pytest.raises(TypeError, match=r"\[_conv2d_algorithm\] dtype: expected float32"):
        _C._conv2d_algorithm((1, 6, 14, 14), (16, 6, 5, 5), dtype=np.int32)


@pytest.mark.parametrize(
    ("out_channels", "algorithm"), [(6, "direct"), (16, "direct_channels")], ids=["width", "o16"]
)
def test_conv2d_direct_is_independent_of_thread_count(simd, out_channels, algorithm):
    """Images and dweight entries are each computed by one thread in a fixed order."""
    if not fast_simd_lanes(simd):  # the portable path, or a build without x86 vector paths
        pytest.skip("the direct kernels need AVX2 or AVX-512")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 3, 14, 19)).astype(np.float32)
    w = rng.standard_normal((out_channels, 3, 5, 4)).astype(np.float32)
    dout = rng.standard_normal((7, out_channels, 12, 18)).astype(np.float32)
    assert _C._conv2d_algorithm(x.shape, w.shape, padding=1) == algorithm
    results = []
    for threads in (1, 2):
        with num_threads(threads):
            y = _C.conv2d_forward(x, w, padding=1)
            results.append((y, *_C.conv2d_backward(dout, x, w, padding=1, need_dbias=False)[:2]))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("out_channels", [3, 16], ids=["width", "o16"])
@pytest.mark.parametrize("dtype_", [np.float32, np.float64], ids=["f32", "f64"])
def test_conv2d_inf_outside_every_window_of_a_tap_stays_out_of_its_gradient(
    dtype_, simd, out_channels
):
    """x[0, 0, 0, 20] is read only by the output at (0, 18) through tap (0, 2), and x[1, 0, 4, 0]
    only by the output at (2, 0) through tap (2, 0): every other weight gradient and the whole
    input gradient must stay finite. A vector lane past the output width (j = 19 .. 31) pairs the
    first with taps kw = 0, 1 unless the kernel masks it out; a channel-vectorised block whose
    reads ran past a row or a tile would pair either with other taps."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 1, 5, 21))
    x[0, 0, 0, 20] = np.inf
    x[1, 0, 4, 0] = np.inf
    w = rng.standard_normal((out_channels, 1, 3, 3))
    dout = rng.standard_normal((2, out_channels, 3, 19))
    if dtype_ == np.float32 and fast_simd_lanes(simd):
        expected = "direct_channels" if out_channels % fast_simd_lanes(simd) == 0 else "direct"
        assert _C._conv2d_algorithm(x.shape, w.shape) == expected
    dx, dw, db = _C.conv2d_backward(dout.astype(dtype_), x.astype(dtype_), w.astype(dtype_))
    rx, rw, rb = ref.conv2d_backward(dout, x, w)
    expected_finite = np.ones(w.shape, bool)
    expected_finite[:, 0, 0, 2] = False
    expected_finite[:, 0, 2, 0] = False
    np.testing.assert_array_equal(np.isfinite(rw), expected_finite)
    np.testing.assert_array_equal(np.isfinite(dw), expected_finite)
    rtol, atol = (2e-4, 2e-5) if dtype_ == np.float32 else (1e-10, 1e-10)
    np.testing.assert_allclose(dw[expected_finite], rw[expected_finite], rtol=rtol, atol=atol)
    np.testing.assert_allclose(dx, rx, rtol=rtol, atol=atol)
    np.testing.assert_allclose(db, rb, rtol=rtol, atol=atol)


def test_conv2d_backward_returns_only_what_is_asked():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    dout = rng.standard_normal((2, 4, 4, 4))
    full = _C.conv2d_backward(dout, x, w)
    for flags in [(True, False, False), (False, True, False), (False, False, True)]:
        got = _C.conv2d_backward(
            dout, x, w, need_dx=flags[0], need_dweight=flags[1], need_dbias=flags[2]
        )
        for wanted, g, f in zip(flags, got, full):
            if wanted:
                np.testing.assert_array_equal(g, f)
            else:
                assert g is None


def test_conv2d_accepts_int_hyperparameters():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 2, 9, 9)), rng.standard_normal((3, 2, 3, 3))
    np.testing.assert_allclose(
        _C.conv2d_forward(x, w, stride=2, padding=1, dilation=2),
        ref.conv2d(x, w, stride=2, padding=1, dilation=2),
        rtol=1e-12,
        atol=1e-12,
    )


def test_conv2d_empty_batch():
    x, w = np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3))
    assert _C.conv2d_forward(x, w).shape == (0, 3, 3, 3)
    dx, dw, db = _C.conv2d_backward(np.zeros((0, 3, 3, 3)), x, w)
    assert dx.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(dw, np.zeros_like(w))
    np.testing.assert_array_equal(db, np.zeros(3))


X = np.zeros((2, 4, 8, 8))
W = np.zeros((6, 4, 3, 3))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (
            {"x": np.zeros((4, 8, 8)), "weight": W},
            ValueError,
            r"\[conv2d\] x: expected 4-D \(N, C, H, W\), got shape \(4, 8, 8\)",
        ),
        ({"x": X, "weight": np.zeros((6, 4, 3))}, ValueError, r"\[conv2d\] weight: expected 4-D"),
        (
            {"x": X, "weight": np.zeros((6, 3, 3, 3))},
            ValueError,
            r"\[conv2d\] weight: expected .*C/groups=4 .*got shape \(6, 3, 3, 3\)",
        ),
        (
            {"x": X, "weight": np.zeros((6, 2, 3, 3)), "groups": 3},
            ValueError,
            r"\[conv2d\] groups=3 must divide the input channels C=4",
        ),
        (
            {"x": X, "weight": np.zeros((5, 2, 3, 3)), "groups": 2},
            ValueError,
            r"\[conv2d\] groups=2 must divide the output channels O=5",
        ),
        ({"x": X, "weight": W, "groups": 0}, ValueError, r"\[conv2d\] groups must be positive"),
        (
            {"x": X, "weight": np.zeros((6, 4, 9, 3))},
            ValueError,
            r"\[conv2d\] kernel: dilated size \(9, 3\) is larger than the padded input \(8, 8\)",
        ),
        (
            {"x": X, "weight": W, "dilation": 4},
            ValueError,
            r"\[conv2d\] kernel: dilated size \(9, 9\) is larger",
        ),
        (
            {"x": X, "weight": W, "stride": (1, 0)},
            ValueError,
            r"\[conv2d\] stride: expected values >= 1",
        ),
        (
            {"x": X, "weight": W, "dilation": -1},
            ValueError,
            r"\[conv2d\] dilation: expected values >= 1",
        ),
        (
            {"x": X, "weight": W, "padding": (-1, 0)},
            ValueError,
            r"\[conv2d\] padding: expected values >= 0",
        ),
        (
            {"x": X, "weight": W, "stride": (1, 2, 3)},
            ValueError,
            r"\[conv2d\] stride: expected a pair",
        ),
        ({"x": X, "weight": W, "stride": "2"}, TypeError, r"\[conv2d\] stride: expected an int"),
        ({"x": X, "weight": W, "padding": 1.5}, TypeError, r"\[conv2d\] padding: expected an int"),
        ({"x": X, "weight": W, "padding": 2**40}, ValueError, r"\[conv2d\] padding: .*32 bits"),
        (
            {"x": X, "weight": W, "bias": np.zeros(5)},
            ValueError,
            r"\[conv2d\] bias: expected shape \(6,\), got \(5,\)",
        ),
        ({"x": X.astype(np.int32), "weight": W}, TypeError, r"\[conv2d\] x: expected float32"),
        (
            {"x": X.astype(np.float32), "weight": W},
            TypeError,
            r"\[conv2d\] x and weight must share a dtype",
        ),
        (
            {"x": X, "weight": W, "bias": np.zeros(6, np.float32)},
            TypeError,
            r"\[conv2d\] x and bias must share a dtype",
        ),
        (
            {"x": np.zeros((2, 4, 8, 16))[..., ::2], "weight": W},
            ValueError,
            r"\[conv2d\] x: expected a C-contiguous array",
        ),
        (
            {"x": np.zeros((2, 0, 8, 8)), "weight": np.zeros((6, 0, 3, 3))},
            ValueError,
            r"\[conv2d\] x: expected non-empty",
        ),
        (
            {"x": X, "weight": np.zeros((0, 4, 3, 3))},
            ValueError,
            r"\[conv2d\] weight: expected a non-empty",
        ),
    ],
)
def test_conv2d_rejects_bad_input(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        _C.conv2d_forward(**kwargs)


def test_conv2d_backward_rejects_bad_input():
    dout = np.zeros((2, 6, 6, 6))
    with pytest.raises(
        ValueError, match=r"\[conv2d_backward\] dout: expected shape \(2, 6, 6, 6\)"
    ):
        _C.conv2d_backward(np.zeros((2, 6, 5, 6)), X, W)
    with pytest.raises(TypeError, match=r"\[conv2d_backward\] dout and x must share a dtype"):
        _C.conv2d_backward(dout.astype(np.float32), X, W)
    with pytest.raises(ValueError, match=r"\[conv2d_backward\] dout: expected a C-contiguous"):
        _C.conv2d_backward(np.zeros((2, 6, 6, 12))[..., ::2], X, W)
    with pytest.raises(ValueError, match=r"\[conv2d_backward\] groups=4 must divide the output"):
        _C.conv2d_backward(dout, X, np.zeros((6, 1, 3, 3)), groups=4)


@pytest.mark.parametrize("plane", [(3, 5), (40, 41), (64, 70)], ids=str)
def test_bias_gradient_sums_long_planes_accurately(plane):
    """dbias sums each output plane in float chunks and the chunks in double: planes shorter
    than a chunk, spanning several with a ragged end, and a large offset that a single float
    accumulator would round away must all agree with float64 to float32's own rounding."""
    h, w = plane
    rng = np.random.default_rng(7)
    dout = (1000.0 + rng.standard_normal((16, 3, h, w))).astype(np.float32)
    x = rng.standard_normal((16, 2, h, w)).astype(np.float32)
    weight = rng.standard_normal((3, 2, 1, 1)).astype(np.float32)
    _, _, db = _C.conv2d_backward(dout, x, weight, need_dx=False, need_dweight=False)
    expected = dout.astype(np.float64).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(db, expected, rtol=2e-7)
    one_float_sum = np.zeros(3, np.float32)
    for value in dout.transpose(1, 0, 2, 3).reshape(3, -1).T:  # what a plain float loop gives
        one_float_sum += value
    assert np.max(np.abs(one_float_sum - expected) / expected) > 2e-7  # the test can fail
