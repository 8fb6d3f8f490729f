"""conv1d, conv3d, conv_transpose1d/2d, the 1-D and adaptive poolings and max unpooling, and
their modules, against torch on every backend: forward values and the gradients of the input,
weight and bias for a random upstream gradient, float64 and float32; module outputs and the
gradients of every parameter with torch's weights loaded; default init statistics; errors."""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn as nn
import tensorlite.nn.functional as tlF
from helpers import functional as F  # as torch.nn.functional is
from helpers import (FWD_TOL, GRAD_TOL, NC, A, N, assert_close, case, check_op,
                     check_second_order, tl_tensor, to_np)

F64, F32 = np.dtype(np.float64), np.dtype(np.float32)


def _quiet(fn):
    def run(lib, *a):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(lib, *a)
    return run


# -- conv1d / conv3d -------------------------------------------------------------------------------
CONV1D = [
    case("basic_bias", N(2, 3, 9), N(4, 3, 3), True, dict(padding=1)),
    case("stride_dilation_groups", N(2, 4, 11), N(6, 2, 3), True,
         dict(stride=2, padding=2, dilation=2, groups=2)),
    case("same_even_kernel", N(2, 2, 7), N(3, 2, 4), True, dict(padding="same")),
    case("valid_nobias", N(1, 2, 6), N(3, 2, 6), False, dict(padding="valid")),
    case("depthwise_tuple_args", N(2, 3, 10), N(6, 1, 2), True,
         dict(groups=3, stride=(3,), padding=(1,), dilation=(2,))),
    case("unbatched", N(3, 8), N(2, 3, 3), True, dict(stride=2)),
    case("noncontiguous", NC(N(2, 3, 7)), NC(N(4, 3, 2)), True, {}),
]


@pytest.mark.parametrize("x, w, bias, kw, opts", CONV1D)
def test_conv1d_matches_torch(backend, x, w, bias, kw, opts):
    out = w.spec.shape[0] if isinstance(w, NC) else w.shape[0]
    args = (x, w, N(out)) if bias else (x, w)
    check_op(_quiet(lambda lib, *a: F(lib).conv1d(*a, **kw)), *args, gradcheck=False)


CONV3D = [
    case("basic", N(2, 3, 5, 4, 6), N(4, 3, 3, 2, 3), True, dict(padding=1)),
    case("all_args", N(2, 4, 6, 5, 7), N(6, 2, 3, 2, 3), True,
         dict(stride=(2, 1, 2), padding=(1, 0, 2), dilation=(1, 2, 1), groups=2)),
    case("same", N(1, 2, 4, 5, 3), N(3, 2, 2, 3, 2), True, dict(padding="same")),
    case("kernel_depth_1", N(2, 2, 3, 4, 4), N(3, 2, 1, 3, 3), False, dict(stride=2)),
    case("unbatched", N(2, 4, 4, 5), N(3, 2, 2, 2, 2), True, dict(dilation=2)),
    case("noncontiguous", NC(N(1, 2, 4, 4, 3)), N(2, 2, 2, 2, 2), True, {}),
]


@pytest.mark.parametrize("x, w, bias, kw, opts", CONV3D)
def test_conv3d_matches_torch(backend, x, w, bias, kw, opts):
    args = (x, w, N(w.shape[0])) if bias else (x, w)
    check_op(_quiet(lambda lib, *a: F(lib).conv3d(*a, **kw)), *args, gradcheck=False)


CONVT = [
    case("2d_basic", "conv_transpose2d", N(2, 3, 4, 5), N(3, 2, 3, 3), True, dict(padding=1)),
    case("2d_all_args", "conv_transpose2d", N(2, 4, 5, 6), N(4, 3, 3, 2), True,
         dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(2, 1))),
    case("2d_stride2_outpad", "conv_transpose2d", N(1, 2, 3, 3), N(2, 4, 4, 4), False,
         dict(stride=2, padding=1, output_padding=1)),
    case("2d_dilation_outpad", "conv_transpose2d", N(1, 2, 3, 4), N(2, 1, 2, 3), True,
         dict(dilation=3, output_padding=2)),
    case("2d_unbatched", "conv_transpose2d", N(3, 4, 4), N(3, 2, 2, 2), True, dict(stride=2)),
    case("2d_noncontiguous", "conv_transpose2d", NC(N(2, 2, 3, 3)), NC(N(2, 3, 2, 2)), True, {}),
    case("1d_basic", "conv_transpose1d", N(2, 3, 7), N(3, 4, 3), True, {}),
    case("1d_all_args", "conv_transpose1d", N(2, 4, 7), N(4, 3, 3), True,
         dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2)),
    case("1d_unbatched", "conv_transpose1d", N(2, 5), N(2, 3, 2), False, dict(stride=3)),
]


@pytest.mark.parametrize("op, x, w, bias, kw, opts", CONVT)
def test_conv_transpose_matches_torch(backend, op, x, w, bias, kw, opts):
    shape = w.spec.shape if isinstance(w, NC) else w.shape
    args = (x, w, N(shape[1] * kw.get("groups", 1))) if bias else (x, w)
    check_op(lambda lib, *a: getattr(F(lib), op)(*a, **kw), *args, gradcheck=False)


@pytest.mark.parametrize("op, x, w, b, kw", [
    ("conv1d", N(1, 2, 6), N(2, 1, 3), N(2), dict(groups=2, padding=1, stride=2)),
    ("conv3d", N(1, 2, 3, 3, 4), N(2, 2, 2, 2, 2), N(2), dict(padding=(1, 0, 1))),
    ("conv_transpose2d", N(1, 2, 3, 3), N(2, 2, 2, 2), N(2), dict(stride=2, output_padding=1)),
    ("conv_transpose1d", N(1, 2, 4), N(2, 1, 3), N(2), dict(groups=2, dilation=2)),
], ids=["conv1d", "conv3d", "conv_transpose2d", "conv_transpose1d"])
def test_conv_gradcheck_and_second_order(backend, op, x, w, b, kw):
    fn = _quiet(lambda lib, *a: getattr(F(lib), op)(*a, **kw))
    check_op(fn, x, w, b, float32=False)
    check_second_order(lambda lib, *a: fn(lib, *a).tanh(), x, w, b)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d(backend):
    x = tl_tensor(np.random.standard_normal((2, 3, 7, 6)), True)
    w = tl_tensor(np.random.standard_normal((4, 3, 3, 2)))
    g = tl_tensor(np.random.standard_normal((2, 4, 4, 4)))
    y = tlF.conv2d(x, w, stride=2, padding=1)
    y.backward(g)
    t = tlF.conv_transpose2d(g, w, stride=2, padding=1)
    assert_close(t, x.grad, **FWD_TOL[F64])


CONV_ERRORS = [
    case("conv1d_4d_input", "conv1d", (1, 2, 3, 4), (2, 2, 2), {}, RuntimeError, "2-D .*3-D"),
    case("conv1d_channels", "conv1d", (1, 3, 5), (2, 2, 2), {}, RuntimeError, "channels"),
    case("conv1d_padding_len", "conv1d", (1, 2, 5), (2, 2, 2), dict(padding=(1, 1)),
         RuntimeError, "padding"),
    case("conv3d_weight_dims", "conv3d", (1, 2, 3, 3, 3), (2, 2, 2, 2), {}, RuntimeError,
         "5-D"),
    case("conv3d_groups", "conv3d", (1, 4, 3, 3, 3), (3, 2, 1, 1, 1), dict(groups=2),
         RuntimeError, "divisible"),
    case("conv3d_too_small", "conv3d", (1, 2, 2, 3, 3), (2, 2, 3, 1, 1), {}, RuntimeError,
         "Kernel size can't be greater"),
    case("conv3d_same_strided", "conv3d", (1, 2, 3, 3, 3), (2, 2, 1, 1, 1),
         dict(padding="same", stride=2), RuntimeError, "strided"),
    case("convT_outpad", "conv_transpose2d", (1, 2, 3, 3), (2, 2, 2, 2),
         dict(output_padding=1), RuntimeError, "output padding must be smaller"),
    case("convT_channels", "conv_transpose2d", (1, 3, 3, 3), (2, 2, 2, 2), {}, RuntimeError,
         "channels"),
    case("convT_same", "conv_transpose2d", (1, 2, 3, 3), (2, 2, 2, 2), dict(padding="same"),
         TypeError, "padding"),
    case("convT1d_outpad", "conv_transpose1d", (1, 2, 3), (2, 2, 2), dict(output_padding=2,
                                                                          stride=2),
         RuntimeError, "output padding must be smaller"),
]


@pytest.mark.parametrize("op, xs, ws, kw, exc, match, opts", CONV_ERRORS)
def test_conv_errors_match_torch(backend, op, xs, ws, kw, exc, match, opts):
    x, w = np.random.standard_normal(xs), np.random.standard_normal(ws)
    with pytest.raises(exc):
        getattr(torch.nn.functional, op)(torch.from_numpy(x), torch.from_numpy(w), **kw)
    with pytest.raises(exc, match=match):
        getattr(tlF, op)(tl_tensor(x), tl_tensor(w), **kw)


# -- 1-D, adaptive and unpooling -------------------------------------------------------------------
POOL = [
    case("max1d", "max_pool1d", N(2, 3, 11), dict(kernel_size=3, stride=2, padding=1, dilation=2,
                                                  ceil_mode=True)),
    case("max1d_indices", "max_pool1d", N(2, 3, 9), dict(kernel_size=2, return_indices=True)),
    case("max1d_unbatched", "max_pool1d", N(3, 8), dict(kernel_size=3, stride=1)),
    case("max1d_ties", "max_pool1d", A([[[1., 1., 0., 2., 2., 2., -1.]]]),
         dict(kernel_size=3, stride=2, return_indices=True)),
    case("avg1d", "avg_pool1d", N(2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    case("avg1d_exclude_pad_ceil", "avg_pool1d", N(2, 3, 10),
         dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
    case("avg1d_unbatched", "avg_pool1d", N(3, 8), dict(kernel_size=(2,))),
    case("aavg1d", "adaptive_avg_pool1d", N(2, 3, 10), dict(output_size=4)),
    case("aavg1d_upsample", "adaptive_avg_pool1d", N(3, 5), dict(output_size=7)),
    case("aavg2d", "adaptive_avg_pool2d", N(2, 3, 7, 10), dict(output_size=(3, 4))),
    case("aavg2d_none", "adaptive_avg_pool2d", N(2, 3, 7, 10), dict(output_size=(None, 3))),
    case("aavg2d_global", "adaptive_avg_pool2d", N(2, 3, 5, 6), dict(output_size=1)),
    case("aavg2d_larger", "adaptive_avg_pool2d", N(3, 4, 3), dict(output_size=(5, 7))),
    case("amax1d", "adaptive_max_pool1d", N(2, 3, 10), dict(output_size=4,
                                                           return_indices=True)),
    case("amax2d", "adaptive_max_pool2d", N(2, 3, 7, 10), dict(output_size=(3, 4),
                                                              return_indices=True)),
    case("amax2d_unbatched_none", "adaptive_max_pool2d", N(3, 5, 6),
         dict(output_size=(2, None))),
    case("amax2d_ties", "adaptive_max_pool2d",
         A([[[[1., 1., 0.], [1., 2., 2.], [-1., 2., 0.]]]]),
         dict(output_size=2, return_indices=True)),
    case("amax2d_larger", "adaptive_max_pool2d", N(1, 2, 3, 4), dict(output_size=(5, 6))),
]


@pytest.mark.parametrize("op, x, kw, opts", POOL)
def test_pooling_matches_torch(backend, op, x, kw, opts):
    check_op(lambda lib, a: getattr(F(lib), op)(a, **kw), x, gradcheck=False)


def test_adaptive_max_pool2d_nan_and_inf(backend):
    x = np.random.standard_normal((1, 2, 5, 6))
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 1, 2] = np.nan
    x[0, 1, 0, 0] = np.inf
    x[0, 1, 4, 5] = -np.inf
    yt, it = tlF.adaptive_max_pool2d(tl_tensor(x), (2, 3), return_indices=True)
    yh, ih = torch.nn.functional.adaptive_max_pool2d(torch.from_numpy(x), (2, 3), True)
    assert_close(yt, yh, **FWD_TOL[F64])
    assert_close(it, ih, rtol=0, atol=0)
    yt = tlF.adaptive_avg_pool2d(tl_tensor(x), (2, 3))
    assert_close(yt, torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), (2, 3)),
                 **FWD_TOL[F64])


def _unpool(dims, kw_pool, kw_unpool):
    def fn(lib, x):
        y, i = getattr(F(lib), f"max_pool{dims}d")(x, return_indices=True, **kw_pool)
        return getattr(F(lib), f"max_unpool{dims}d")(y * 2, i, **kw_unpool)
    return fn


@pytest.mark.parametrize("dims, shape, kw_pool, kw_unpool", [
    (2, (2, 3, 6, 8), dict(kernel_size=2), dict(kernel_size=2)),
    (2, (2, 3, 7, 9), dict(kernel_size=3, stride=2, padding=1),
     dict(kernel_size=3, stride=2, padding=1, output_size=(7, 9))),
    (2, (3, 5, 5), dict(kernel_size=2), dict(kernel_size=2, output_size=(1, 3, 5, 5))),
    (1, (2, 3, 10), dict(kernel_size=2), dict(kernel_size=2)),
    (1, (3, 9), dict(kernel_size=3, stride=2), dict(kernel_size=3, stride=2, output_size=[9])),
], ids=["2d", "2d_stride_pad_size", "2d_unbatched_full_size", "1d", "1d_unbatched"])
def test_max_unpool_matches_torch(backend, dims, shape, kw_pool, kw_unpool):
    check_op(_unpool(dims, kw_pool, kw_unpool), N(*shape), gradcheck=False)


def test_pool_gradcheck_and_second_order(backend):
    for fn, x in [(lambda lib, a: F(lib).adaptive_avg_pool2d(a, (2, 3)), N(1, 2, 5, 4)),
                  (lambda lib, a: F(lib).adaptive_max_pool2d(a, (2, 2)), N(1, 2, 5, 4)),
                  (lambda lib, a: F(lib).avg_pool1d(a, 3, 2, 1), N(2, 2, 7)),
                  (lambda lib, a: F(lib).max_pool1d(a, 2), N(2, 2, 7))]:
        check_op(fn, x, float32=False)
        check_second_order(lambda lib, a: fn(lib, a).tanh(), x)


POOL_ERRORS = [
    case("max1d_4d", "max_pool1d", (1, 2, 3, 4), dict(kernel_size=2), RuntimeError, "3-D"),
    case("max1d_pad", "max_pool1d", (1, 2, 8), dict(kernel_size=2, padding=2), RuntimeError,
         "pad should be at most half"),
    case("aavg2d_5d", "adaptive_avg_pool2d", (1, 1, 2, 3, 4), dict(output_size=2),
         RuntimeError, "3-D or 4-D"),
    case("aavg2d_tuple_len", "adaptive_avg_pool2d", (1, 2, 3, 4), dict(output_size=(1, 2, 3)),
         (RuntimeError, ValueError), "output_size"),
]


@pytest.mark.parametrize("op, shape, kw, exc, match, opts", POOL_ERRORS)
def test_pool_errors(backend, op, shape, kw, exc, match, opts):
    x = np.random.standard_normal(shape)
    with pytest.raises(exc):
        getattr(torch.nn.functional, op)(torch.from_numpy(x), **kw)
    with pytest.raises(exc, match=match):
        getattr(tlF, op)(tl_tensor(x), **kw)


def test_max_unpool_errors(backend):
    x = tl_tensor(np.random.standard_normal((1, 1, 2, 2)))
    with pytest.raises(RuntimeError, match="invalid max index"):
        tlF.max_unpool2d(x, tl.tensor([[[[0, 1], [2, 9]]]], device=x.device), 1)
    with pytest.raises(RuntimeError, match="same as that of the input"):
        tlF.max_unpool2d(x, tl.tensor([[[[0, 1]]]], device=x.device), 2)
    with pytest.raises(ValueError, match="output_size"):
        tlF.max_unpool2d(x, tl.tensor([[[[0, 1], [2, 3]]]], device=x.device), 2,
                         output_size=(9, 9))


# -- modules with torch's weights ------------------------------------------------------------------
def load_from_torch(tl_mod, th_mod):
    result = tl_mod.load_state_dict({k: tl_tensor(v.detach().numpy().copy())
                                     for k, v in th_mod.state_dict().items()})
    assert tuple(result) == ([], [])


def check_module(make, shape, dtype, train=True, forward=None):
    """The tensorlite twin of torch's module (torch's weights loaded): output, the input's
    gradient and every parameter's for a random upstream gradient; buffers after the forward;
    the repr."""
    th_mod = make(torch.nn).to(torch.float64 if dtype == F64 else torch.float32)
    tl_mod = make(nn).to(tl.float64 if dtype == F64 else tl.float32)
    with torch.no_grad():
        for p in th_mod.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    load_from_torch(tl_mod, th_mod)
    th_mod.train(train), tl_mod.train(train)
    x = np.random.standard_normal(shape).astype(dtype)
    xt, xh = tl_tensor(x, True), torch.from_numpy(x.copy()).requires_grad_()
    forward = forward or (lambda m, a: m(a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt, yh = forward(tl_mod, xt), forward(th_mod, xh)
    assert_close(yt, yh, what="forward", **FWD_TOL[dtype])
    g = np.random.standard_normal(tuple(yh.shape)).astype(dtype)
    yh.backward(torch.from_numpy(g)), yt.backward(tl_tensor(g))
    assert_close(xt.grad, xh.grad, what="input grad", **GRAD_TOL[dtype])
    for name, p in th_mod.named_parameters():
        assert_close(tl_mod.get_parameter(name).grad, p.grad, what=f"grad of {name}",
                     **GRAD_TOL[dtype])
    for name, b in th_mod.named_buffers():
        assert_close(tl_mod.get_buffer(name), b, what=f"buffer {name}", **FWD_TOL[dtype])
    assert repr(tl_mod) == repr(th_mod)
    return tl_mod, th_mod


MODULES = [
    case("conv1d", lambda nn: nn.Conv1d(3, 4, 3, padding=1), (2, 3, 9)),
    case("conv1d_all", lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2,
                                            bias=False), (2, 4, 11)),
    case("conv1d_same_reflect", lambda nn: nn.Conv1d(2, 3, 4, padding="same",
                                                     padding_mode="reflect"), (2, 2, 7)),
    case("conv1d_circular", lambda nn: nn.Conv1d(2, 3, 3, padding=2, padding_mode="circular"),
         (2, 2, 6)),
    case("conv1d_unbatched_replicate", lambda nn: nn.Conv1d(2, 3, 3, padding=1,
                                                            padding_mode="replicate"), (2, 6)),
    case("conv3d", lambda nn: nn.Conv3d(2, 4, 3, padding=1), (2, 2, 4, 5, 4)),
    case("conv3d_all", lambda nn: nn.Conv3d(4, 2, (2, 3, 1), stride=(1, 2, 2), padding=(1, 0, 1),
                                            dilation=(2, 1, 1), groups=2), (1, 4, 5, 5, 4)),
    case("conv3d_same_zeros", lambda nn: nn.Conv3d(2, 2, 2, padding="same"), (1, 2, 3, 4, 3)),
    case("conv3d_reflect", lambda nn: nn.Conv3d(2, 2, 3, padding=1, padding_mode="reflect"),
         (1, 2, 4, 4, 4)),
    case("convT1d", lambda nn: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1,
                                                  output_padding=1), (2, 3, 6)),
    case("convT1d_groups_dilation", lambda nn: nn.ConvTranspose1d(4, 6, 2, groups=2, dilation=3,
                                                                  bias=False), (2, 4, 5)),
    case("convT2d", lambda nn: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                  output_padding=1), (2, 3, 4, 5)),
    case("convT2d_all", lambda nn: nn.ConvTranspose2d(4, 6, (3, 2), stride=(1, 2),
                                                      padding=(1, 0), groups=2,
                                                      dilation=(2, 1)), (1, 4, 5, 4)),
    case("convT2d_unbatched", lambda nn: nn.ConvTranspose2d(2, 3, 2, stride=2), (2, 3, 3)),
    case("maxpool1d", lambda nn: nn.MaxPool1d(3, 2, 1, ceil_mode=True), (2, 3, 10)),
    case("avgpool1d", lambda nn: nn.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 10)),
    case("adaptive_avg1d", lambda nn: nn.AdaptiveAvgPool1d(3), (2, 3, 10)),
    case("adaptive_avg2d", lambda nn: nn.AdaptiveAvgPool2d((2, None)), (2, 3, 5, 7)),
    case("adaptive_max1d", lambda nn: nn.AdaptiveMaxPool1d(4), (2, 3, 10)),
    case("adaptive_max2d", lambda nn: nn.AdaptiveMaxPool2d((3, 2)), (2, 3, 7, 5)),
    case("small_resnet_block", lambda nn: nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)), (2, 2, 6, 6)),
    case("dcgan_generator", lambda nn: nn.Sequential(
        nn.ConvTranspose2d(4, 6, 4, 1, 0, bias=False), nn.Tanh(),
        nn.ConvTranspose2d(6, 2, 4, 2, 1, bias=False), nn.Sigmoid()), (2, 4, 1, 1)),
]


@pytest.mark.parametrize("dtype", [F64, F32], ids=["float64", "float32"])
@pytest.mark.parametrize("make, shape, opts", MODULES)
def test_modules_match_torch(backend, make, shape, dtype, opts):
    check_module(make, shape, dtype)


def test_conv_transpose_output_size(backend):
    def fwd(m, x):
        return m(x, output_size=[8, 10])
    check_module(lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), (1, 2, 4, 5), F64,
                 forward=fwd)
    check_module(lambda nn: nn.ConvTranspose1d(2, 3, 3, stride=3), (1, 2, 4), F64,
                 forward=lambda m, x: m(x, output_size=(1, 3, 13)))
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match="valid sizes range from"):
        m(tl_tensor(np.zeros((1, 2, 4, 5))), output_size=[20, 20])


def test_max_unpool_modules(backend):
    def fwd(m, x):
        pool = (torch.nn if isinstance(m, torch.nn.Module) else nn).MaxPool2d(2, 2,
                                                                              return_indices=True)
        y, i = pool(x)
        return m(y, i, output_size=x.shape)
    check_module(lambda nn: nn.MaxUnpool2d(2, 2), (2, 3, 5, 7), F64, forward=fwd)

    def fwd1(m, x):
        pool = (torch.nn if isinstance(m, torch.nn.Module) else nn).MaxPool1d(3, return_indices=True)
        y, i = pool(x)
        return m(y, i)
    check_module(lambda nn: nn.MaxUnpool1d(3), (2, 3, 9), F64, forward=fwd1)


def test_adaptive_max_pool_module_return_indices(backend):
    x = np.random.standard_normal((2, 3, 7, 5))
    yt, it = nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(tl_tensor(x))
    yh, ih = torch.nn.AdaptiveMaxPool2d((3, 2), return_indices=True)(torch.from_numpy(x))
    assert_close(yt, yh, **FWD_TOL[F64])
    assert it.dtype == tl.int64
    assert_close(it, ih, rtol=0, atol=0)


@pytest.mark.parametrize("make", [
    lambda nn: nn.Conv1d(6, 8, 5, groups=2),
    lambda nn: nn.Conv3d(4, 8, (3, 2, 3)),
    lambda nn: nn.ConvTranspose1d(6, 4, 3, groups=2),
    lambda nn: nn.ConvTranspose2d(4, 6, (3, 2)),
], ids=["conv1d", "conv3d", "convT1d", "convT2d"])
def test_default_init_matches_torch(backend, make):
    """weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in from the weight's dim 1
    (for a transposed conv: out_channels/groups * kernel), as torch: shapes equal, draws fill
    the bound with the uniform's spread."""
    tl.manual_seed(0)
    mods = [make(nn) for _ in range(30)]
    ref = make(torch.nn)
    assert mods[0].weight.shape == tuple(ref.weight.shape)
    assert mods[0].bias.shape == tuple(ref.bias.shape)
    fan_in = ref.weight.shape[1] * math.prod(ref.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        v = np.concatenate([to_np(getattr(m, name)).ravel() for m in mods])
        th = np.concatenate([getattr(make(torch.nn), name).detach().numpy().ravel()
                             for _ in range(30)])
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound, name
        assert abs(v.std() - th.std()) < 0.1 * bound, name
        assert abs(v.mean()) < 0.1 * bound, name


def test_module_constructor_errors(backend):
    with pytest.raises(ValueError, match="strided"):
        nn.Conv1d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv3d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv1d(2, 2, 3, padding_mode="mirror")
    c = nn.ConvTranspose1d(2, 4, 3, bias=False, dtype=tl.float64)
    assert c.bias is None and c.weight.dtype == tl.float64 and c.weight.shape == (2, 4, 3)
    assert repr(nn.Conv3d(2, 4, 3, padding="same", bias=False)) == repr(
        torch.nn.Conv3d(2, 4, 3, padding="same", bias=False))
    for make in (lambda nn: nn.MaxPool1d(3), lambda nn: nn.AvgPool1d(2, 1),
                 lambda nn: nn.AdaptiveAvgPool2d((2, None)), lambda nn: nn.MaxUnpool2d(2),
                 lambda nn: nn.MaxUnpool1d(3, 2, 1)):
        assert repr(make(nn)) == repr(make(torch.nn))


# -- the convolution's columns: im2col/col2im with padding and the batch inside ------------------
# (N, C, H, W), kernel, stride, dilation, padding (top, bottom, left, right)
COLUMNS = [((2, 3, 7, 6), (3, 2), (1, 1), (1, 1), (0, 0, 0, 0)),
           ((2, 3, 7, 6), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1)),
           ((3, 2, 8, 9), (3, 2), (1, 3), (2, 1), (2, 1, 0, 3)),
           ((1, 1, 5, 5), (5, 5), (1, 1), (1, 1), (2, 2, 2, 2)),  # windows mostly padding
           ((2, 2, 1, 4), (2, 3), (3, 1), (1, 2), (0, 1, 2, 0))]


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("shape, kernel, stride, dilation, padding", COLUMNS)
def test_numba_columns_equal_the_reference(nb, dtype, shape, kernel, stride, dilation,
                                           padding):
    """Both layouts, padding inside: bitwise the reference's (col2im adds in its order)."""
    from tensorlite import backends
    ref = backends.get("numpy")
    n, c, h, w = shape
    out = tuple((s + a + b - d * (k - 1) - 1) // st + 1 for s, a, b, d, k, st in
                zip((h, w), padding[::2], padding[1::2], dilation, kernel, stride))
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    x[0, 0, 0, 0], x[-1, -1, -1, -1] = np.nan, -np.inf
    for inner in (False, True):
        args = (kernel, stride, dilation, out, padding, inner)
        cols = ref.im2col(x, *args)
        assert cols.shape == ((c, *kernel, n, *out) if inner else (n, c, *kernel, *out))
        np.testing.assert_array_equal(nb.im2col(x, *args), cols)
        g = rng.standard_normal(cols.shape).astype(dtype)
        back = ref.col2im(g, shape, stride, dilation, padding, inner)
        assert back.shape == shape and back.dtype == dtype
        np.testing.assert_array_equal(nb.col2im(g, shape, stride, dilation, padding,
                                                           inner), back)
    # the adjoint: <im2col(x), g> == <x, col2im(g)>
    x64, g64 = x.astype(np.float64), rng.standard_normal(cols.shape)
    x64[~np.isfinite(x64)] = 0
    lhs = (ref.im2col(x64, kernel, stride, dilation, out, padding, True) * g64).sum()
    rhs = (x64 * ref.col2im(g64, shape, stride, dilation, padding, True)).sum()
    assert abs(lhs - rhs) <= 1e-9 * (1 + abs(lhs))


@pytest.mark.parametrize("groups, kw", [(1, dict(padding=(2, 0), stride=(1, 2))),
                                        (2, dict(padding=1, dilation=2)),
                                        (4, dict(padding="same"))])
def test_conv2d_one_product_per_batch_matches_torch(backend, groups, kw):
    """Grouped, padded, strided convolutions (the batch-wide columns) and a size-1 batch."""
    for n in (3, 1):
        check_op(_quiet(lambda lib, *a: F(lib).conv2d(*a, groups=groups, **kw)),
                 N(n, 4, 6, 5), N(8, 4 // groups, 3, 3), N(8), gradcheck=False)
