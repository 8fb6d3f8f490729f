"""conv2d, max_pool2d, avg_pool2d, pad and their modules against torch, on every backend.

Each op is written once as ``fn(lib, ...)`` over ``lib.nn.functional`` (tensorlite or torch);
``check_op`` compares forward values and input/weight/bias gradients for a random upstream
gradient in float64 and float32, and runs a float64 gradcheck where the shapes are tiny.
"""
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

F64 = np.dtype(np.float64)


# -- conv2d ----------------------------------------------------------------------------------------
# (input spec, weight spec, bias?, conv2d keyword arguments)
CONV = [
    case("3x3_pad1_bias", N(2, 3, 6, 5), N(4, 3, 3, 3), True, dict(padding=1)),
    case("stride2_pad12_nobias", N(2, 3, 7, 8), N(4, 3, 3, 3), False,
         dict(stride=2, padding=(1, 2))),
    case("dilation2", N(1, 2, 9, 8), N(3, 2, 3, 3), True, dict(dilation=2, padding=2)),
    case("rect_kernel_mixed", N(2, 2, 9, 7), N(3, 2, 3, 2), True,
         dict(stride=(2, 1), dilation=(1, 2), padding=(2, 0))),
    case("groups2", N(2, 4, 6, 6), N(6, 2, 3, 3), True, dict(groups=2, padding=1)),
    case("depthwise", N(2, 3, 5, 7), N(6, 1, 3, 3), False, dict(groups=3, stride=2)),
    case("1x1", N(3, 5, 4, 3), N(2, 5, 1, 1), True, {}),
    case("1x1_stride2", N(2, 3, 5, 5), N(4, 3, 1, 1), True, dict(stride=2)),
    case("stride_gt_kernel", N(2, 2, 10, 9), N(3, 2, 2, 2), True, dict(stride=3, padding=1)),
    case("odd_sizes_5x5", N(1, 3, 11, 13), N(2, 3, 5, 5), True, dict(padding=2, stride=(3, 2))),
    case("same_odd", N(2, 2, 6, 7), N(3, 2, 3, 3), True, dict(padding="same")),
    case("same_even_dilated", N(2, 2, 6, 7), N(3, 2, 2, 4), True,
         dict(padding="same", dilation=(3, 1))),
    case("valid", N(2, 2, 6, 7), N(3, 2, 3, 3), True, dict(padding="valid")),
    case("kernel_equals_input", N(2, 2, 3, 4), N(5, 2, 3, 4), True, {}),
    case("unbatched", N(3, 6, 5), N(4, 3, 3, 3), True, dict(padding=1, stride=2)),
    case("noncontiguous_input", NC(N(2, 3, 6, 5)), N(4, 3, 3, 3), True, dict(padding=1)),
    case("noncontiguous_weight", N(2, 4, 6, 5), NC(N(4, 2, 3, 2)), True,
         dict(groups=2, padding=(0, 1))),
    case("tuple_args_as_lists", N(1, 2, 7, 7), N(2, 2, 3, 3), True,
         dict(stride=[2, 1], padding=[1, 0], dilation=[1, 2])),
]


@pytest.mark.parametrize("x, w, bias, kw, opts", CONV)
def test_conv2d_matches_torch(backend, x, w, bias, kw, opts):
    out_channels = w.shape[0] if hasattr(w, "shape") else w.spec.shape[0]
    args = (x, w, N(out_channels)) if bias else (x, w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note about 'same' with even kernels
        check_op(lambda lib, *a: F(lib).conv2d(*a, **kw), *args, gradcheck=False)


GRADCHECK_CONV = [
    case("pad_stride", N(1, 2, 4, 5), N(2, 2, 2, 3), N(2), dict(stride=2, padding=1)),
    case("groups_dilation", N(2, 2, 5, 4), N(2, 1, 2, 2), N(2), dict(groups=2, dilation=2)),
    case("same_even", N(1, 1, 4, 4), N(2, 1, 2, 2), None, dict(padding="same")),
]


@pytest.mark.parametrize("x, w, b, kw, opts", GRADCHECK_CONV)
def test_conv2d_gradcheck(backend, x, w, b, kw, opts):
    args = (x, w) if b is None else (x, w, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda lib, *a: F(lib).conv2d(*a, **kw), *args, float32=False)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(groups=2, dilation=(1, 2))],
                         ids=["stride_pad", "groups_dilation"])
def test_conv2d_double_backward(backend, kw):
    """Second derivatives against torch: of conv2d alone (bilinear in input and weight), and
    through a tanh, where the upstream gradient of conv2d depends on every input."""
    cg = 1 if kw.get("groups") else 2
    check_second_order(lambda lib, x, w: F(lib).conv2d(x, w, **kw), N(1, 2, 4, 5), N(2, cg, 2, 2))
    check_second_order(lambda lib, x, w, b: F(lib).conv2d(x, w, b, **kw).tanh(),
                       N(1, 2, 4, 5), N(2, cg, 2, 2), N(2))


def test_conv2d_is_one_tape_node_with_direct_edges(backend):
    x, w, b = (tl_tensor(np.random.standard_normal(s), True)
               for s in [(1, 2, 4, 4), (3, 2, 3, 3), (3,)])
    y = tlF.conv2d(x, w, b, padding=1)
    assert y.grad_fn.name == "conv2d"
    assert y.grad_fn.next == [x, w, b]  # leaves directly: no helper nodes in between
    with tl.no_grad():
        z = tlF.conv2d(x, w, b, padding=1)
    assert z.grad_fn is None and not z.requires_grad
    np.testing.assert_array_equal(to_np(z), to_np(y))


def test_conv2d_gradient_only_for_what_requires_it(backend):
    x = tl_tensor(np.random.standard_normal((2, 2, 5, 5)))
    w = tl_tensor(np.random.standard_normal((3, 2, 3, 3)), True)
    y = tlF.conv2d(x, w)
    y.backward(tl_tensor(np.random.standard_normal(y.shape)))
    assert x.grad is None and w.grad is not None and w.grad.shape == w.shape


def test_conv2d_in_place_change_after_forward_is_caught(backend):
    x = tl_tensor(np.random.standard_normal((1, 1, 4, 4)), True)
    w = tl_tensor(np.random.standard_normal((1, 1, 2, 2)), True)
    y = tlF.conv2d(x, w)
    with tl.no_grad():
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_conv2d_float32_matches_torch_on_a_larger_batch(backend):
    x = np.random.standard_normal((16, 3, 14, 14)).astype(np.float32)
    w = np.random.standard_normal((8, 3, 3, 3)).astype(np.float32)
    b = np.random.standard_normal(8).astype(np.float32)
    g = np.random.standard_normal((16, 8, 7, 7)).astype(np.float32)
    tx, tw, tb = tl_tensor(x, True), tl_tensor(w, True), tl_tensor(b, True)
    hx, hw, hb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty, hy = tlF.conv2d(tx, tw, tb, 2, 1), torch.nn.functional.conv2d(hx, hw, hb, 2, 1)
    assert ty.dtype == tl.float32
    assert_close(ty, hy, rtol=1e-5, atol=1e-4, what="forward")
    ty.backward(tl_tensor(g)), hy.backward(torch.from_numpy(g))
    for a, e, name in [(tx, hx, "input"), (tw, hw, "weight"), (tb, hb, "bias")]:
        assert_close(a.grad, e.grad, rtol=1e-4, atol=1e-3, what=name)


CONV_ERRORS = [
    case("2d_input", (5, 5), (4, 3, 3, 3), None, {}, RuntimeError, "3-D .* or 4-D"),
    case("3d_weight", (1, 3, 5, 5), (4, 3, 3), None, {}, RuntimeError, "weight must be a 4-D"),
    case("channels", (1, 3, 5, 5), (4, 2, 3, 3), None, {}, RuntimeError, "to have 2 channels"),
    case("groups_out", (1, 4, 5, 5), (3, 2, 3, 3), None, dict(groups=2), RuntimeError,
         "divisible by groups"),
    case("bias_shape", (1, 3, 5, 5), (4, 3, 3, 3), (3,), {}, RuntimeError, "bias"),
    case("kernel_too_big", (1, 3, 2, 2), (4, 3, 3, 3), None, {}, RuntimeError,
         "smaller than the dilated kernel"),
    case("same_strided", (1, 3, 5, 5), (4, 3, 3, 3), None, dict(padding="same", stride=2),
         RuntimeError, "strided"),
    case("bad_padding_string", (1, 3, 5, 5), (4, 3, 3, 3), None, dict(padding="full"),
         ValueError, "padding string"),
    case("negative_padding", (1, 3, 5, 5), (4, 3, 3, 3), None, dict(padding=-1), RuntimeError,
         "non-negative"),
    case("zero_stride", (1, 3, 5, 5), (4, 3, 3, 3), None, dict(stride=0), RuntimeError,
         "positive"),
    case("three_strides", (1, 3, 5, 5), (4, 3, 3, 3), None, dict(stride=(1, 1, 1)), ValueError,
         "pair"),
]


@pytest.mark.parametrize("xs, ws, bs, kw, exc, match, opts", CONV_ERRORS)
def test_conv2d_errors(backend, xs, ws, bs, kw, exc, match, opts):
    x, w = tl_tensor(np.zeros(xs)), tl_tensor(np.zeros(ws))
    b = None if bs is None else tl_tensor(np.zeros(bs))
    with pytest.raises(exc, match=match) as info:
        tlF.conv2d(x, w, b, **kw)
    assert "conv2d" in str(info.value)


def test_conv2d_dtype_and_device_errors(backend):
    x = tl_tensor(np.zeros((1, 3, 5, 5)))
    with pytest.raises(TypeError, match=r"conv2d: .*float32.*float64|float64.*float32"):
        tlF.conv2d(x, tl_tensor(np.zeros((4, 3, 3, 3), np.float32)))
    with pytest.raises(TypeError, match="conv2d: expected floating point"):
        tlF.conv2d(tl_tensor(np.zeros((1, 3, 5, 5), np.int64)),
                   tl_tensor(np.zeros((4, 3, 3, 3), np.int64)))


# -- max_pool2d ------------------------------------------------------------------------------------
def ties(*shape):
    """Small integers as floats: many equal values inside each window."""
    return A(np.random.randint(-2, 2, size=shape).astype(np.float64))


POOL = [
    case("2x2", dict(kernel_size=2)),
    case("3x3_s2_p1", dict(kernel_size=3, stride=2, padding=1)),
    case("3x3_s2_p1_ceil", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    case("rect_mixed", dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1))),
    case("overlap_s1", dict(kernel_size=3, stride=1)),
    case("ceil_2x2", dict(kernel_size=2, ceil_mode=True)),
    case("stride_list_empty", dict(kernel_size=2, stride=[])),
]


@pytest.mark.parametrize("kw, opts", POOL)
def test_max_pool2d_matches_torch(backend, kw, opts):
    check_op(lambda lib, x: F(lib).max_pool2d(x, **kw), N(2, 3, 7, 9), gradcheck=False)


@pytest.mark.parametrize("kw, opts", POOL + [
    case("dilated", dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    case("dilated_ceil", dict(kernel_size=2, stride=2, padding=1, dilation=(2, 1),
                              ceil_mode=True)),
])
def test_max_pool2d_ties_indices_and_gradient_match_torch(backend, kw, opts):
    """With ties the gradient goes to the first maximal element of each window, and windows
    that share their argmax accumulate there, as in torch."""
    check_op(lambda lib, x: F(lib).max_pool2d(x, return_indices=True, **kw), ties(2, 2, 7, 8),
             gradcheck=False)


def test_max_pool2d_padding_is_minus_infinity(backend):
    """All-negative input: a padded position must never be the max."""
    check_op(lambda lib, x: F(lib).max_pool2d(x, 3, 1, 1, return_indices=True),
             A(-np.random.uniform(1, 2, (1, 2, 4, 5))), gradcheck=False)


def test_max_pool2d_unbatched_and_gradcheck(backend):
    check_op(lambda lib, x: F(lib).max_pool2d(x, 2, 1, return_indices=True), N(2, 3, 4))
    check_op(lambda lib, x: F(lib).max_pool2d(x, (2, 3), (2, 1), (1, 1)), N(1, 2, 4, 5),
             float32=False)


def test_max_pool2d_second_order(backend):
    """The gradient's own gradient (for the upstream gradient) is a gather at the argmax."""
    x = tl_tensor(np.random.standard_normal((1, 2, 4, 5)), True)
    assert tl.autograd.gradgradcheck(lambda x: tlF.max_pool2d(x, 2, 1, 1), (x,))


# -- avg_pool2d ------------------------------------------------------------------------------------
AVG = [
    case("2x2", dict(kernel_size=2)),
    case("3x3_s2_p1", dict(kernel_size=3, stride=2, padding=1)),
    case("exclude_pad", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    case("ceil", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    case("ceil_exclude_pad", dict(kernel_size=(3, 2), stride=2, padding=(1, 1), ceil_mode=True,
                                  count_include_pad=False)),
    case("divisor_override", dict(kernel_size=2, stride=1, padding=1, divisor_override=3)),
    case("rect_overlap", dict(kernel_size=(2, 3), stride=(1, 2))),
]


@pytest.mark.parametrize("kw, opts", AVG)
def test_avg_pool2d_matches_torch(backend, kw, opts):
    check_op(lambda lib, x: F(lib).avg_pool2d(x, **kw), N(2, 3, 7, 8), gradcheck=False)


def test_avg_pool2d_unbatched_gradcheck_and_second_order(backend):
    check_op(lambda lib, x: F(lib).avg_pool2d(x, 3, 2, 1, ceil_mode=True), N(2, 4, 5))
    check_op(lambda lib, x: F(lib).avg_pool2d(x, 2, 1, 1, count_include_pad=False),
             N(1, 1, 3, 4), float32=False)
    x = tl_tensor(np.random.standard_normal((1, 1, 4, 5)), True)
    assert tl.autograd.gradgradcheck(lambda x: tlF.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (x,))


POOL_ERRORS = [
    case("max_pad_too_big", "max_pool2d", (1, 1, 5, 5), dict(kernel_size=3, padding=2),
         "at most half"),
    case("max_pad_too_big_dilated", "max_pool2d", (1, 1, 9, 9),
         dict(kernel_size=3, padding=2, dilation=2), "at most half"),
    case("avg_pad_too_big", "avg_pool2d", (1, 1, 5, 5), dict(kernel_size=3, padding=2),
         "at most half"),
    case("output_too_small", "max_pool2d", (1, 1, 2, 2), dict(kernel_size=3), "too small"),
    case("2d_input", "max_pool2d", (5, 5), dict(kernel_size=2), "3-D"),
    case("zero_kernel", "avg_pool2d", (1, 1, 5, 5), dict(kernel_size=0), "positive"),
]


@pytest.mark.parametrize("op, shape, kw, match, opts", POOL_ERRORS)
def test_pool_errors(backend, op, shape, kw, match, opts):
    with pytest.raises(RuntimeError, match=match) as info:
        getattr(tlF, op)(tl_tensor(np.zeros(shape)), **kw)
    assert op in str(info.value)


# -- pad -------------------------------------------------------------------------------------------
PAD = [
    case("last_dim", (3, 4), dict(pad=(1, 2))),
    case("two_dims_value", (2, 3, 4), dict(pad=(1, 2, 0, 3), value=-1.5)),
    case("three_dims", (2, 3, 4), dict(pad=(1, 0, 2, 1, 1, 1))),
    case("negative_crops", (2, 5, 6), dict(pad=(-1, 2, 1, -2))),
    case("reflect_1d", (2, 5), dict(pad=(2, 3), mode="reflect")),
    case("reflect_2d", (2, 3, 4, 5), dict(pad=(3, 1, 2, 3), mode="reflect")),
    case("replicate_2d", (3, 4, 5), dict(pad=(4, 1, 0, 6), mode="replicate")),
    case("replicate_3d", (1, 2, 3, 4, 2), dict(pad=(1, 1, 2, 0, 1, 3), mode="replicate")),
    case("circular_2d", (2, 2, 4, 5), dict(pad=(2, 5, 4, 1), mode="circular")),
]


@pytest.mark.parametrize("shape, kw, opts", PAD)
def test_pad_matches_torch(backend, shape, kw, opts):
    check_op(lambda lib, x: F(lib).pad(x, **kw), N(*shape))


def test_pad_constant_noncontiguous_and_second_order(backend):
    check_op(lambda lib, x: F(lib).pad(x, (1, 1, 2, 0), value=3.0), NC(N(2, 3, 4)))
    x = tl_tensor(np.random.standard_normal((2, 3)), True)
    assert tl.autograd.gradgradcheck(lambda x: tlF.pad(x, (1, 2, -1, 1), mode="constant"), (x,))


PAD_ERRORS = [
    case("odd_length", (2, 3, 4), dict(pad=(1, 1, 1)), RuntimeError, "divisible by 2"),
    case("too_long", (2, 3), dict(pad=(1,) * 6), RuntimeError, "less than or equal"),
    case("bad_mode", (2, 3), dict(pad=(1, 1), mode="wrap"), NotImplementedError, "unrecognised"),
    case("reflect_too_big", (2, 3), dict(pad=(3, 0), mode="reflect"), RuntimeError,
         "less than the dimension"),
    case("circular_wraps_twice", (2, 3), dict(pad=(4, 0), mode="circular"), RuntimeError,
         "more than once"),
    case("reflect_value", (2, 3), dict(pad=(1, 1), mode="reflect", value=1.0), RuntimeError,
         "value"),
    case("reflect_1d_input", (4,), dict(pad=(1, 1), mode="reflect"), NotImplementedError,
         "not supported"),
]


@pytest.mark.parametrize("shape, kw, exc, match, opts", PAD_ERRORS)
def test_pad_errors(backend, shape, kw, exc, match, opts):
    with pytest.raises(exc, match=match) as info:
        tlF.pad(tl_tensor(np.zeros(shape)), **kw)
    assert "pad" in str(info.value)


# -- modules ---------------------------------------------------------------------------------------
def load_from_torch(tl_mod, th_mod):
    result = tl_mod.load_state_dict({k: tl_tensor(v.detach().numpy().copy())
                                     for k, v in th_mod.state_dict().items()})
    assert tuple(result) == ([], [])


MODULES = [
    case("conv", lambda nn: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 5)),
    case("conv_full_args", lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0),
                                                dilation=(1, 2), groups=2, bias=False),
         (2, 4, 7, 8)),
    case("conv_same", lambda nn: nn.Conv2d(2, 3, 4, padding="same"), (1, 2, 5, 6)),
    case("conv_reflect", lambda nn: nn.Conv2d(2, 3, 3, padding=2, padding_mode="reflect"),
         (2, 2, 5, 6)),
    case("conv_circular_same", lambda nn: nn.Conv2d(2, 3, (2, 3), padding="same",
                                                    padding_mode="circular"), (2, 2, 5, 6)),
    case("conv_unbatched", lambda nn: nn.Conv2d(3, 2, 3), (3, 5, 5)),
    case("maxpool", lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 7, 6)),
    case("maxpool_dilated", lambda nn: nn.MaxPool2d(2, dilation=2), (2, 3, 7, 6)),
    case("avgpool", lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False), (2, 3, 7, 6)),
    case("avgpool_default_stride", lambda nn: nn.AvgPool2d((2, 3)), (2, 3, 7, 6)),
    case("small_cnn", lambda nn: nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 3)), (3, 1, 10, 10)),
]


@pytest.mark.parametrize("make, shape, opts", MODULES)
def test_modules_match_torch(backend, make, shape, opts):
    th_mod = make(torch.nn).double()
    tl_mod = make(nn).double()
    with torch.no_grad():
        for p in th_mod.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    load_from_torch(tl_mod, th_mod)
    x = np.random.standard_normal(shape)
    xt, xh = tl_tensor(x, True), torch.from_numpy(x.copy()).requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt, yh = tl_mod(xt), th_mod(xh)
    assert_close(yt, yh, what="forward", **FWD_TOL[F64])
    g = np.random.standard_normal(tuple(yh.shape))
    yh.backward(torch.from_numpy(g)), yt.backward(tl_tensor(g))
    assert_close(xt.grad, xh.grad, what="input grad", **GRAD_TOL[F64])
    for name, p in th_mod.named_parameters():
        assert_close(tl_mod.get_parameter(name).grad, p.grad, what=f"grad of {name}",
                     **GRAD_TOL[F64])
    assert repr(tl_mod) == repr(th_mod)


def test_max_pool2d_module_return_indices(backend):
    x = np.random.standard_normal((1, 2, 5, 5))
    yt, it = nn.MaxPool2d(2, return_indices=True)(tl_tensor(x))
    yh, ih = torch.nn.MaxPool2d(2, return_indices=True)(torch.from_numpy(x))
    assert_close(yt, yh, **FWD_TOL[F64])
    assert it.dtype == tl.int64
    assert_close(it, ih, rtol=0, atol=0)


@pytest.mark.parametrize("args", [(3, 8, 3), (4, 6, (2, 5), 1, 0, 1, 2), (16, 2, 1)],
                         ids=["3x3", "grouped_rect", "1x1"])
def test_conv2d_default_init(backend, args):
    """kaiming_uniform_(a=sqrt(5)) gives weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias
    has the same bound.  Checked on the bound and the spread of many draws."""
    tl.manual_seed(0)
    convs = [nn.Conv2d(*args) for _ in range(20)]
    w = np.concatenate([to_np(c.weight).ravel() for c in convs])
    b = np.concatenate([to_np(c.bias).ravel() for c in convs])
    fan_in = convs[0].weight.shape[1] * math.prod(convs[0].weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    assert convs[0].weight.shape == torch.nn.Conv2d(*args).weight.shape
    assert convs[0].weight.dtype == tl.float32 and convs[0].weight.requires_grad
    for name, v in [("weight", w), ("bias", b)]:
        assert np.abs(v).max() <= bound, name
        assert np.abs(v).max() > 0.8 * bound, f"{name} does not fill its range"
        assert abs(v.std() - bound / math.sqrt(3)) < 0.15 * bound, f"{name} spread"
    assert not np.array_equal(to_np(convs[0].weight), to_np(convs[1].weight))


def test_conv2d_module_options(backend):
    c = nn.Conv2d(2, 4, 3, bias=False, dtype=tl.float64)
    assert c.bias is None and c.weight.dtype == tl.float64
    assert [n for n, _ in c.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")


def test_empty_batch(backend):
    """A batch of zero images gives empty outputs and gradients of the right shapes, as torch."""
    x = tl_tensor(np.zeros((0, 2, 5, 5)), True)
    w = tl_tensor(np.random.standard_normal((3, 2, 3, 3)), True)
    for y, shape in [(tlF.conv2d(x, w, padding=1), (0, 3, 5, 5)),
                     (tlF.max_pool2d(x, 2), (0, 2, 2, 2)),
                     (tlF.avg_pool2d(x, 3, 2, 1), (0, 2, 3, 3))]:
        assert y.shape == shape
        y.sum().backward()
    assert x.grad.shape == x.shape and w.grad.shape == w.shape
    np.testing.assert_array_equal(to_np(w.grad), 0.0)
