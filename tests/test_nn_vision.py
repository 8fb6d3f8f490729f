"""The vision functionals and layers against torch on every backend: interpolate/Upsample
(nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area; size, scale_factor,
align_corners, recompute_scale_factor), pixel_shuffle/unshuffle, channel_shuffle, unfold/fold,
grid_sample, affine_grid; GroupNorm, InstanceNorm1d/2d/3d, LocalResponseNorm; the padding
layers; Dropout1d/2d/3d, AlphaDropout, FeatureAlphaDropout; Unflatten.  Outputs and the
gradients of inputs and every parameter with torch's weights loaded, for a random upstream
gradient, float64 and float32, train and eval."""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn as nn
import tensorlite.nn.functional as tlF
from helpers import functional as F
from helpers import (FWD_TOL, NC, A, N, U, assert_close, case, check_op, check_second_order,
                     tl_tensor, to_np)
from test_nn_conv_more import F32, F64, check_module

INF, NAN = math.inf, math.nan


def _quiet(fn):
    def run(lib, *a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(lib, *a)
    return run


# -- interpolate -----------------------------------------------------------------------------------
INTERPOLATE = [
    case("nearest_up", N(2, 3, 5, 7), dict(size=(8, 13))),
    case("nearest_down", N(2, 3, 5, 7), dict(size=(3, 4))),
    case("nearest_scale", N(2, 3, 5, 7), dict(scale_factor=1.7)),
    case("nearest_scale_recompute", N(2, 3, 5, 7), dict(scale_factor=(2.5, 0.6),
                                                        recompute_scale_factor=True)),
    case("nearest_1d", N(2, 3, 7), dict(scale_factor=3)),
    case("nearest_3d", N(1, 2, 3, 4, 5), dict(size=(5, 3, 7))),
    case("nearest_exact", N(2, 3, 5, 7), dict(size=(8, 4), mode="nearest-exact")),
    case("linear", N(2, 3, 6), dict(scale_factor=2.5, mode="linear")),
    case("linear_align", N(2, 3, 6), dict(size=11, mode="linear", align_corners=True)),
    case("linear_same_size", A([[[0.0, 1.0, INF]]]), dict(size=3, mode="linear")),
    case("bilinear_up", N(2, 3, 5, 7), dict(size=(8, 13), mode="bilinear")),
    case("bilinear_down_align", N(2, 3, 5, 7), dict(size=(3, 4), mode="bilinear",
                                                    align_corners=True)),
    case("bilinear_scale", N(2, 3, 5, 7), dict(scale_factor=(2, 0.6), mode="bilinear")),
    case("bilinear_scale_recompute", N(2, 3, 5, 7), dict(scale_factor=1.3, mode="bilinear",
                                                         recompute_scale_factor=True)),
    case("bilinear_size1", N(1, 2, 4, 4), dict(size=(1, 1), mode="bilinear",
                                                align_corners=True)),
    case("bicubic_up", N(2, 3, 5, 7), dict(size=(8, 13), mode="bicubic")),
    case("bicubic_down_align", N(2, 3, 5, 7), dict(size=(3, 4), mode="bicubic",
                                                   align_corners=True)),
    case("bicubic_scale", N(1, 2, 4, 5), dict(scale_factor=1.7, mode="bicubic")),
    case("trilinear", N(1, 2, 3, 4, 5), dict(scale_factor=1.5, mode="trilinear")),
    case("trilinear_align", N(1, 2, 3, 4, 2), dict(size=(4, 2, 5), mode="trilinear",
                                                    align_corners=True)),
    case("area_2d", N(2, 3, 7, 9), dict(size=(3, 4), mode="area")),
    case("area_1d", N(2, 3, 9), dict(scale_factor=0.5, mode="area")),
    case("noncontiguous", NC(N(2, 3, 4, 5)), dict(size=(6, 7), mode="bilinear")),
]


@pytest.mark.parametrize("x, kw, opts", INTERPOLATE)
def test_interpolate_matches_torch(backend, x, kw, opts):
    check_op(lambda lib, a: F(lib).interpolate(a, **kw), x, gradcheck=False)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area"])
def test_interpolate_gradcheck_and_second_order(backend, mode):
    fn = lambda lib, a: F(lib).interpolate(a, size=(3, 5), mode=mode)  # noqa: E731
    check_op(fn, N(1, 2, 4, 3), float32=False)
    check_second_order(lambda lib, a: fn(lib, a).tanh(), N(1, 2, 4, 3))


@pytest.mark.parametrize("shape, kw, exc", [
    ((1, 2, 4, 4), dict(size=3, scale_factor=2), ValueError),
    ((1, 2, 4, 4), {}, ValueError),
    ((1, 2, 4, 4), dict(size=3, align_corners=True), ValueError),
    ((1, 2, 4, 4), dict(size=(3, 3, 3)), ValueError),
    ((1, 2, 4, 4), dict(scale_factor=(2, 2, 2)), ValueError),
    ((1, 2, 4), dict(size=3, mode="bilinear"), NotImplementedError),
    ((1, 2, 4, 4), dict(size=3, mode="linear"), NotImplementedError),
    ((1, 2, 4, 4), dict(size=3, mode="trilinear"), NotImplementedError),
    ((1, 2, 4, 4), dict(size=3, recompute_scale_factor=True), ValueError),
    ((2, 4), dict(size=3), (ValueError, NotImplementedError)),
], ids=["size_and_scale", "neither", "align_nearest", "size_len", "scale_len", "bilinear_3d",
        "linear_4d", "trilinear_4d", "recompute_with_size", "2d_input"])
def test_interpolate_errors_match_torch(backend, shape, kw, exc):
    x = np.zeros(shape)
    with pytest.raises(exc):
        torch.nn.functional.interpolate(torch.from_numpy(x), **kw)
    with pytest.raises(exc):
        tlF.interpolate(tl_tensor(x), **kw)


UPSAMPLE = [
    case("upsample_nearest", lambda nn: nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    case("upsample_bilinear_size", lambda nn: nn.Upsample(size=(7, 3), mode="bilinear"),
         (2, 3, 4, 5)),
    case("upsample_bicubic_align", lambda nn: nn.Upsample(scale_factor=(1.5, 2.0),
                                                          mode="bicubic", align_corners=True),
         (1, 2, 4, 5)),
    case("upsample_linear", lambda nn: nn.Upsample(scale_factor=1.5, mode="linear"), (2, 3, 6)),
    case("upsampling_nearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=3), (1, 2, 3, 3)),
    case("upsampling_bilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(5, 6)), (1, 2, 3, 4)),
    case("pixel_shuffle", lambda nn: nn.PixelShuffle(2), (2, 8, 3, 5)),
    case("pixel_shuffle_unbatched", lambda nn: nn.PixelShuffle(3), (9, 2, 2)),
    case("pixel_unshuffle", lambda nn: nn.PixelUnshuffle(2), (2, 3, 4, 6)),
    case("channel_shuffle", lambda nn: nn.ChannelShuffle(3), (2, 6, 2, 3)),
    case("unfold", lambda nn: nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
         (2, 3, 5, 7)),
    case("fold", lambda nn: nn.Fold((5, 7), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
         (2, 18, 15)),
    case("unflatten", lambda nn: nn.Unflatten(1, (2, -1)), (3, 8, 2)),
    case("unflatten_negative_dim", lambda nn: nn.Unflatten(-1, (3, 2)), (3, 4, 6)),
    case("zeropad2d", lambda nn: nn.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    case("zeropad1d", lambda nn: nn.ZeroPad1d(2), (2, 3, 4)),
    case("constantpad2d", lambda nn: nn.ConstantPad2d(1, 3.5), (2, 3, 4, 5)),
    case("reflectionpad2d", lambda nn: nn.ReflectionPad2d((1, 2, 3, 0)), (2, 3, 4, 5)),
    case("reflectionpad1d", lambda nn: nn.ReflectionPad1d(2), (2, 3, 5)),
    case("replicationpad2d", lambda nn: nn.ReplicationPad2d(2), (2, 3, 4, 5)),
    case("replicationpad1d", lambda nn: nn.ReplicationPad1d((3, 1)), (3, 5)),
    case("replicationpad3d", lambda nn: nn.ReplicationPad3d(1), (1, 2, 2, 3, 2)),
    case("circularpad2d", lambda nn: nn.CircularPad2d((1, 1, 2, 0)), (2, 3, 4, 5)),
    case("groupnorm", lambda nn: nn.GroupNorm(3, 6), (2, 6, 4, 3)),
    case("groupnorm_1d_no_affine", lambda nn: nn.GroupNorm(2, 4, eps=1e-3, affine=False),
         (3, 4, 5)),
    case("groupnorm_2d_input", lambda nn: nn.GroupNorm(1, 4), (3, 4)),
    case("instancenorm1d", lambda nn: nn.InstanceNorm1d(3), (2, 3, 6)),
    case("instancenorm1d_affine_unbatched", lambda nn: nn.InstanceNorm1d(3, affine=True),
         (3, 6)),
    case("instancenorm2d_affine_tracked", lambda nn: nn.InstanceNorm2d(
        4, affine=True, track_running_stats=True, momentum=0.3), (2, 4, 3, 5)),
    case("instancenorm3d", lambda nn: nn.InstanceNorm3d(2, affine=True), (2, 2, 3, 2, 3)),
    case("lrn", lambda nn: nn.LocalResponseNorm(3), (2, 5, 4, 3)),
    case("lrn_3d_input", lambda nn: nn.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0),
         (2, 6, 5)),
    case("dropout2d_eval", lambda nn: nn.Dropout2d(0.5), (2, 3, 4, 4)),
    case("alpha_dropout_p0", lambda nn: nn.AlphaDropout(0.0), (2, 3, 4)),
    case("vae_decoder", lambda nn: nn.Sequential(
        nn.Linear(4, 2 * 3 * 3), nn.Unflatten(1, (2, 3, 3)),
        nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(2, 3, 3, padding=1),
        nn.GroupNorm(3, 3), nn.ReLU(), nn.ConvTranspose2d(3, 1, 2, stride=2), nn.Sigmoid()),
        (2, 4)),
]


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("make, shape, opts", UPSAMPLE)
def test_layers_match_torch(backend, make, shape, dtype, opts):
    train = not type(make(nn)).__name__.startswith("Dropout")  # dropout layers: eval
    check_module(make, shape, dtype, train=train)


def test_instance_norm_running_stats_over_steps_and_eval(backend):
    """track_running_stats: the running mean/var follow torch's over 3 training steps
    (momentum and None = cumulative average), and eval mode uses them."""
    for momentum in (0.1, None):
        th = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True,
                                     momentum=momentum).double()
        tm = nn.InstanceNorm2d(3, affine=True, track_running_stats=True,
                               momentum=momentum).double()
        for _ in range(3):
            x = np.random.standard_normal((2, 3, 4, 5)) * 3 + 1
            th(torch.from_numpy(x)), tm(tl_tensor(x))
        for name in ("running_mean", "running_var"):
            assert_close(getattr(tm, name), getattr(th, name), **FWD_TOL[F64])
        th.eval(), tm.eval()
        x = np.random.standard_normal((2, 3, 4, 5))
        assert_close(tm(tl_tensor(x)), th(torch.from_numpy(x)), **FWD_TOL[F64])
        assert [k for k in tm.state_dict()] == [k for k in th.state_dict()]


def test_instance_norm_checks(backend):
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        nn.InstanceNorm2d(3)(tl_tensor(np.zeros((2, 3))))
    with pytest.raises(ValueError, match="num_features"):
        nn.InstanceNorm1d(4, affine=True)(tl_tensor(np.zeros((2, 3, 5))))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(4)(tl_tensor(np.random.standard_normal((2, 3, 5))))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        tlF.instance_norm(tl_tensor(np.zeros((2, 3, 1))))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        tlF.group_norm(tl_tensor(np.zeros((2, 6, 3))), 4)
    with pytest.raises(ValueError, match="3D or higher"):
        tlF.local_response_norm(tl_tensor(np.zeros((2, 6))), 2)


def test_norm_functional_gradcheck_and_second_order(backend):
    for fn, args in [
        (lambda lib, x, w, b: F(lib).group_norm(x, 2, w, b), (N(2, 4, 3), N(4), N(4))),
        (lambda lib, x, w, b: F(lib).instance_norm(x, weight=w, bias=b), (N(2, 2, 4), N(2), N(2))),
        (lambda lib, x: F(lib).local_response_norm(x, 3, 0.5, 0.75, 1.0), (N(1, 4, 3),)),
    ]:
        check_op(fn, *args, float32=False)
        check_second_order(lambda lib, *a: fn(lib, *a).tanh(), *args)


@pytest.mark.parametrize("make", [
    lambda nn: nn.GroupNorm(2, 6), lambda nn: nn.InstanceNorm2d(5, affine=True),
    lambda nn: nn.InstanceNorm1d(3, track_running_stats=True), lambda nn: nn.LocalResponseNorm(4),
    lambda nn: nn.Upsample(size=3, mode="bicubic", align_corners=False),
    lambda nn: nn.Upsample(scale_factor=(2, 3)), lambda nn: nn.Dropout1d(0.2, inplace=True),
    lambda nn: nn.AlphaDropout(0.3), lambda nn: nn.FeatureAlphaDropout(),
    lambda nn: nn.Dropout3d(), lambda nn: nn.ZeroPad3d((1, 2, 3, 4, 5, 6)),
    lambda nn: nn.ConstantPad3d(1, -1.0), lambda nn: nn.ReflectionPad3d(1),
    lambda nn: nn.CircularPad1d(2), lambda nn: nn.Unflatten(1, (2, 3)),
    lambda nn: nn.Fold(4, 2), lambda nn: nn.PixelUnshuffle(2),
])
def test_layer_repr_params_and_buffers_match_torch(backend, make):
    tm, th = make(nn), make(torch.nn)
    assert repr(tm) == repr(th)
    assert [(k, tuple(v.shape)) for k, v in tm.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in th.state_dict().items()]
    for (k, v), (_, e) in zip(tm.state_dict().items(), th.state_dict().items()):
        assert_close(v, e, rtol=0, atol=0, what=k)  # ones/zeros init, as torch


# -- pixel shuffles, unfold / fold -----------------------------------------------------------------
SHAPE_OPS = [
    case("pixel_shuffle", lambda lib, x: F(lib).pixel_shuffle(x, 2), N(2, 8, 3, 5)),
    case("pixel_shuffle_5d", lambda lib, x: F(lib).pixel_shuffle(x, 3), N(2, 1, 9, 2, 2)),
    case("pixel_unshuffle", lambda lib, x: F(lib).pixel_unshuffle(x, 3), N(3, 6, 3)),
    case("channel_shuffle", lambda lib, x: F(lib).channel_shuffle(x, 2), N(2, 6, 4, 3)),
    case("unfold", lambda lib, x: F(lib).unfold(x, (2, 3), dilation=(1, 2), padding=1,
                                                stride=(2, 1)), N(2, 3, 5, 7)),
    case("unfold_unbatched", lambda lib, x: F(lib).unfold(x, 2), N(3, 4, 4)),
    case("fold", lambda lib, x: F(lib).fold(x, (5, 7), (2, 3), dilation=(1, 2), padding=1,
                                            stride=(2, 1)), N(2, 18, 15)),
    case("fold_overlapping_unbatched", lambda lib, x: F(lib).fold(x, 4, 2), N(8, 9)),
]


@pytest.mark.parametrize("fn, x, opts", SHAPE_OPS)
def test_shape_ops_match_torch(backend, fn, x, opts):
    check_op(fn, x, gradcheck=False)


def test_unfold_fold_gradcheck_and_second_order(backend):
    fn = lambda lib, x: F(lib).fold(F(lib).unfold(x, 2, padding=1) * 2, (3, 4), 2,  # noqa
                                    padding=1)
    check_op(fn, N(1, 2, 3, 4), float32=False)
    check_second_order(lambda lib, x: (F(lib).unfold(x, 2, stride=2) ** 2), N(1, 2, 4, 4))


@pytest.mark.parametrize("op, shape, kw, exc", [
    ("pixel_shuffle", (1, 5, 2, 2), dict(upscale_factor=2), RuntimeError),
    ("pixel_shuffle", (5, 2), dict(upscale_factor=1), RuntimeError),
    ("pixel_unshuffle", (1, 1, 3, 4), dict(downscale_factor=2), RuntimeError),
    ("unfold", (1, 2, 2, 2), dict(kernel_size=3), RuntimeError),
    ("unfold", (2, 2), dict(kernel_size=1), IndexError),
    ("fold", (1, 8, 5), dict(output_size=4, kernel_size=2), RuntimeError),
    ("fold", (1, 7, 9), dict(output_size=4, kernel_size=2), RuntimeError),
], ids=["shuffle_channels", "shuffle_dims", "unshuffle_height", "unfold_too_small",
        "unfold_2d", "fold_blocks", "fold_channels"])
def test_shape_op_errors_match_torch(backend, op, shape, kw, exc):
    x = np.zeros(shape)
    with pytest.raises(exc):
        getattr(torch.nn.functional, op)(torch.from_numpy(x), **kw)
    with pytest.raises(exc):
        getattr(tlF, op)(tl_tensor(x), **kw)


# -- grid_sample / affine_grid ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True], ids=["edges", "corners"])
def test_grid_sample_matches_torch(backend, mode, padding_mode, align_corners):
    fn = lambda lib, x, g: F(lib).grid_sample(x, g, mode, padding_mode,  # noqa: E731
                                              align_corners)
    check_op(fn, N(2, 3, 5, 4), U(-1.6, 1.6, 2, 6, 3, 2), gradcheck=False)
    # grid points on the pixel lattice and the borders (exact ties of floor/clip/reflect)
    ties = np.array([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, -2.0, 2.0])
    grid = np.stack(np.meshgrid(ties, ties[::-1]), -1)[None]
    check_op(fn, N(1, 2, 3, 4), A(grid), gradcheck=False)
    # volumetric: (N, C, D, H, W) sampled at (N, OD, OH, OW, 3) (x, y, z) points
    check_op(fn, N(2, 2, 3, 4, 5), U(-1.6, 1.6, 2, 2, 3, 2, 3), gradcheck=False)


def test_grid_sample_gradcheck_and_second_order(backend):
    for pm in ("zeros", "border", "reflection"):
        fn = lambda lib, x, g: F(lib).grid_sample(x, g, "bilinear", pm, False)  # noqa: E731
        check_op(fn, N(1, 2, 3, 3), U(-0.9, 0.9, 1, 2, 2, 2), float32=False)
    check_second_order(lambda lib, x, g: F(lib).grid_sample(x, g, align_corners=True),
                       N(1, 2, 3, 3), U(-0.9, 0.9, 1, 2, 2, 2))
    check_op(lambda lib, x, g: F(lib).grid_sample(x, g, "bilinear", "reflection", True),
             N(1, 1, 2, 3, 2), U(-0.9, 0.9, 1, 2, 1, 2, 3), float32=False)


@pytest.mark.parametrize("size, align_corners", [
    ((2, 3, 4, 5), False), ((2, 3, 4, 1), True), ((2, 1, 1, 3), False),
    ((2, 3, 4, 5, 3), False), ((2, 3, 2, 1, 3), True)])
def test_affine_grid_matches_torch(backend, size, align_corners):
    theta = N(size[0], 2, 3) if len(size) == 4 else N(size[0], 3, 4)
    check_op(lambda lib, t: F(lib).affine_grid(t, size, align_corners), theta)


def test_affine_grid_then_grid_sample_is_a_spatial_transformer(backend):
    """The STN pattern: affine_grid(theta) into grid_sample, gradients to the image and to
    theta, against torch."""
    def fn(lib, x, theta):
        grid = F(lib).affine_grid(theta, list(x.shape), align_corners=False)
        return F(lib).grid_sample(x, grid, align_corners=False)
    check_op(fn, N(2, 3, 5, 6), A(np.array([[[0.93, 0.11, 0.047], [-0.21, 1.07, 0.113]],
                                            [[0.71, -0.29, 0.013], [0.31, 0.83, -0.19]]])))


def test_grid_sample_and_affine_grid_warn_and_raise_as_torch(backend):
    x, g = tl_tensor(np.zeros((1, 1, 3, 3))), tl_tensor(np.zeros((1, 2, 2, 2)))
    with pytest.warns(UserWarning, match="align_corners=False"):
        tlF.grid_sample(x, g)
    with pytest.warns(UserWarning, match="align_corners=False"):
        tlF.affine_grid(tl_tensor(np.zeros((1, 2, 3))), (1, 1, 2, 2))
    with pytest.warns(UserWarning, match="unit-size grids"):
        tlF.affine_grid(tl_tensor(np.zeros((1, 2, 3))), (1, 1, 1, 2), align_corners=True)
    with pytest.raises(ValueError, match="mode"):
        tlF.grid_sample(x, g, mode="linear", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode"):
        tlF.grid_sample(x, g, padding_mode="wrap", align_corners=False)
    with pytest.raises(RuntimeError, match="batch size"):
        tlF.grid_sample(x, tl_tensor(np.zeros((2, 2, 2, 2))), align_corners=False)
    with pytest.raises(ValueError, match="Nx2x3"):
        tlF.affine_grid(tl_tensor(np.zeros((1, 3, 4))), (1, 1, 2, 2), align_corners=False)
    with pytest.raises(ValueError, match="positive output size"):
        tlF.affine_grid(tl_tensor(np.zeros((1, 2, 3))), (1, 1, 0, 2), align_corners=False)


# -- dropout variants ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, shape, channel_dims", [
    ("dropout1d", (40, 50, 6), 2), ("dropout1d", (400, 6), 1), ("dropout2d", (40, 50, 3, 4), 2),
    ("dropout2d", (40, 30, 4), 2), ("dropout3d", (40, 50, 2, 3, 2), 2),
    ("dropout3d", (400, 2, 3, 2), 1)])
def test_channel_dropout_zeroes_whole_channels(backend, name, shape, channel_dims):
    fn = getattr(tlF, name)
    x = tl_tensor(np.random.uniform(1, 2, shape), True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = fn(x, 0.3)
    v = to_np(y).reshape(int(np.prod(shape[:channel_dims])), -1)
    xv = to_np(x).reshape(v.shape)
    dropped = (v == 0).all(1)
    kept = ~dropped
    np.testing.assert_allclose(v[kept], xv[kept] / 0.7, rtol=1e-12)  # whole channels, scaled
    assert not (v[kept] == 0).any()
    assert abs(dropped.mean() - 0.3) < 0.05
    g = np.random.standard_normal(shape)
    y.backward(tl_tensor(g))
    gv = to_np(x.grad).reshape(v.shape)
    np.testing.assert_allclose(gv, np.where(dropped[:, None], 0, g.reshape(v.shape) / 0.7),
                               rtol=1e-12)
    for p, training in [(0.3, False), (0.0, True)]:
        assert fn(x, p, training) is x
    assert to_np(fn(x, 1.0)).max() == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        fn(x, 1.5)


def test_dropout_shape_rules_match_torch(backend):
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        tlF.dropout1d(tl_tensor(np.zeros((2, 3, 4, 5))))
    with pytest.raises(RuntimeError):
        torch.nn.functional.dropout1d(torch.zeros(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        tlF.dropout2d(tl_tensor(np.ones((2, 3, 4))))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout3d"):
        tlF.dropout3d(tl_tensor(np.ones((2, 3))))
    x = tl_tensor(np.ones((2, 3, 4)))
    y = tlF.dropout1d(x * 1, 0.5, inplace=True)
    assert y.shape == x.shape


@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_statistics_and_formula(backend, name):
    """Dropped units take a*(-alpha) + b, kept ones a*x + b (torch's constants), keeping a
    standard normal input's mean 0 and variance 1; eval (the default) is the identity."""
    fn = getattr(tlF, name)
    p, alpha = 0.2, 1.7580993408473766
    a = 1 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = alpha * a * p
    xs = np.random.standard_normal((200, 100, 10))
    x = tl_tensor(xs, True)
    assert fn(x, p) is x  # training=False by default, as torch
    y = fn(x, p, True)
    v = to_np(y)
    dropped = np.isclose(v, -alpha * a + b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(v[~dropped], xs[~dropped] * a + b, rtol=1e-12, atol=1e-12)
    assert abs(dropped.mean() - p) < 0.01
    if name == "feature_alpha_dropout":
        assert (dropped.all(2) | ~dropped.any(2)).all()  # whole channels
    assert abs(v.mean()) < 0.02 and abs(v.std() - 1) < 0.02
    ty = torch.nn.functional.alpha_dropout(torch.from_numpy(xs), p, True)
    assert abs(float(ty.mean()) - v.mean()) < 0.03 and abs(float(ty.std()) - v.std()) < 0.03
    g = np.random.standard_normal(xs.shape)
    y.backward(tl_tensor(g))
    np.testing.assert_allclose(to_np(x.grad), np.where(dropped, 0, g * a), rtol=1e-12,
                               atol=1e-12)
    assert to_np(fn(x, 1.0, True)).max() == 0


def test_dropout_modules_train_and_eval(backend):
    x = tl_tensor(np.random.uniform(1, 2, (8, 6, 5)), True)
    m = nn.Dropout1d(0.5)
    assert m.training and not (to_np(m(x)) == to_np(x)).all()
    m.eval()
    assert m(x) is x
    for m in (nn.AlphaDropout(0.5), nn.FeatureAlphaDropout(0.5), nn.Dropout2d(0.5),
              nn.Dropout3d(0.5)):
        m.eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert m(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(-0.1)


def test_unflatten_errors(backend):
    x = tl_tensor(np.zeros((2, 6)))
    with pytest.raises(RuntimeError, match="multiply up"):
        nn.Unflatten(1, (4, 2))(x)
    with pytest.raises(IndexError):
        nn.Unflatten(3, (2, 3))(x)
    with pytest.raises(TypeError):
        nn.Unflatten(1, 6)
