"""tensorlite.nn layers, functional forms and initializers against torch.nn, on every backend.

Layers are built from the same expression on both libraries (``lambda nn: nn.Linear(4, 3)``),
torch's (randomized) weights are loaded into the tensorlite twin, and forward values, input and
parameter gradients (random upstream gradient) and buffers are compared in float64.
"""
import math
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn as nn
import tensorlite.nn.functional as tlF
from tensorlite.nn.functional import activation
from helpers import F as Fortran
from helpers import functional as F  # as torch.nn.functional is
from helpers import (FWD_TOL, GRAD_TOL, NC, Const, N, U, assert_close, case, check_op,
                     check_second_order, tl_tensor, to_np)

F64 = np.dtype(np.float64)


def fcase(id, fn, *args, **opts):
    return pytest.param(fn, args, opts, id=id)


def load_from_torch(tl_mod, th_mod):
    """Copy torch's parameters and buffers into the tensorlite twin through load_state_dict."""
    result = tl_mod.load_state_dict({k: tl_tensor(v.detach().numpy().copy())
                                     for k, v in th_mod.state_dict().items()})
    assert tuple(result) == ([], [])


def randomize(th_mod):
    """Random parameters (so that BatchNorm/LayerNorm affine grads are not trivial) and random
    positive running variances."""
    g = torch.Generator().manual_seed(int(np.random.randint(2**31)))
    with torch.no_grad():
        for p in th_mod.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
        for name, b in th_mod.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g, dtype=b.dtype))
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g, dtype=b.dtype) + 0.5)


def run_both(tl_mod, th_mod, x, int_input=False):
    """Forward and backward (random upstream gradient) through both; returns the inputs."""
    xt = tl_tensor(x, requires_grad=not int_input)
    xh = torch.from_numpy(x.copy()).requires_grad_(not int_input)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yt, yh = tl_mod(xt), th_mod(xh)
    assert_close(yt, yh, what="forward", **FWD_TOL[F64])
    if yh.requires_grad:
        g = np.random.standard_normal(tuple(yh.shape))
        yh.backward(torch.from_numpy(g))
        yt.backward(tl_tensor(g))
    return xt, xh


def assert_same_state(tl_mod, th_mod):
    for name, p in th_mod.named_parameters():
        q = tl_mod.get_parameter(name)
        assert_close(q, p, what=f"parameter {name}", **FWD_TOL[F64])
        if p.grad is None:
            assert q.grad is None or not np.any(to_np(q.grad)), f"{name}: unexpected grad"
        else:
            assert q.grad is not None, f"{name}: no gradient"
            assert_close(q.grad, p.grad, what=f"grad of {name}", **GRAD_TOL[F64])
    for name, b in th_mod.named_buffers():
        assert_close(tl_mod.get_buffer(name), b, what=f"buffer {name}", **FWD_TOL[F64])


def compare_layer(make, x, train=True, int_input=False):
    th_mod = make(torch.nn).double()
    randomize(th_mod)
    tl_mod = make(nn).double()
    load_from_torch(tl_mod, th_mod)
    tl_mod.train(train), th_mod.train(train)
    xt, xh = run_both(tl_mod, th_mod, x, int_input)
    if not int_input:
        if xh.grad is None:
            assert xt.grad is None
        else:
            assert_close(xt.grad, xh.grad, what="input grad", **GRAD_TOL[F64])
    assert_same_state(tl_mod, th_mod)


def normal(*shape):
    return np.random.standard_normal(shape)


def with_kinks(*shape):
    """Normal values with exact zeros (relu/leaky_relu kinks) and softplus's threshold."""
    x = normal(*shape).ravel()
    x[::5] = 0.0
    x[1] = 2.5  # beta=2 * 2.5 == threshold 5: the linear branch is not taken (strict >)
    return x.reshape(shape)


LAYERS = [
    case("linear", lambda nn: nn.Linear(4, 3), lambda: normal(5, 4)),
    case("linear_nobias_3d", lambda nn: nn.Linear(4, 3, bias=False), lambda: normal(2, 5, 4)),
    case("linear_1d_input", lambda nn: nn.Linear(4, 3), lambda: normal(4)),
    case("linear_4d_input", lambda nn: nn.Linear(3, 2), lambda: normal(2, 2, 3, 3)),
    case("identity", lambda nn: nn.Identity(), lambda: normal(3, 4)),
    case("flatten", lambda nn: nn.Flatten(), lambda: normal(2, 3, 4)),
    case("flatten_0_1", lambda nn: nn.Flatten(0, 1), lambda: normal(2, 3, 4)),
    case("layernorm", lambda nn: nn.LayerNorm(4), lambda: normal(3, 4)),
    case("layernorm_2d_shape", lambda nn: nn.LayerNorm((3, 4)), lambda: normal(2, 3, 4)),
    case("layernorm_no_affine", lambda nn: nn.LayerNorm(4, elementwise_affine=False),
         lambda: normal(2, 3, 4)),
    case("layernorm_eps", lambda nn: nn.LayerNorm(5, eps=0.5), lambda: normal(4, 5)),
    case("batchnorm1d_2d", lambda nn: nn.BatchNorm1d(3), lambda: normal(6, 3)),
    case("batchnorm1d_3d", lambda nn: nn.BatchNorm1d(3), lambda: normal(4, 3, 5)),
    case("batchnorm1d_no_affine", lambda nn: nn.BatchNorm1d(3, affine=False),
         lambda: normal(6, 3)),
    case("batchnorm2d", lambda nn: nn.BatchNorm2d(3), lambda: normal(2, 3, 4, 5)),
    case("batchnorm2d_no_stats", lambda nn: nn.BatchNorm2d(3, track_running_stats=False),
         lambda: normal(2, 3, 2, 2)),
    case("batchnorm2d_momentum", lambda nn: nn.BatchNorm2d(2, momentum=0.3, eps=1e-3),
         lambda: normal(3, 2, 2, 2)),
    case("relu", lambda nn: nn.ReLU(), lambda: with_kinks(4, 5)),
    case("sigmoid", lambda nn: nn.Sigmoid(), lambda: normal(4, 5)),
    case("tanh", lambda nn: nn.Tanh(), lambda: normal(4, 5)),
    case("gelu", lambda nn: nn.GELU(), lambda: with_kinks(4, 5) * 3),
    case("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), lambda: with_kinks(4, 5) * 3),
    case("leaky_relu", lambda nn: nn.LeakyReLU(), lambda: with_kinks(4, 5)),
    case("leaky_relu_0.2", lambda nn: nn.LeakyReLU(0.2), lambda: with_kinks(4, 5)),
    case("softplus", lambda nn: nn.Softplus(), lambda: with_kinks(4, 5) * 10),
    case("softplus_beta", lambda nn: nn.Softplus(beta=2, threshold=5), lambda: with_kinks(4, 5)),
    case("softmax", lambda nn: nn.Softmax(dim=1), lambda: normal(3, 4, 2)),
    case("softmax_implicit_dim", lambda nn: nn.Softmax(), lambda: normal(3, 4)),
    case("log_softmax", lambda nn: nn.LogSoftmax(dim=-1), lambda: normal(3, 4)),
    case("mlp", lambda nn: nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8),
                                         nn.Linear(8, 6), nn.BatchNorm1d(6), nn.Tanh(),
                                         nn.Linear(6, 2)), lambda: normal(5, 4)),
]


@pytest.mark.parametrize("make, data, opts", LAYERS)
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_layer_matches_torch(backend, make, data, opts, train):
    compare_layer(make, data(), train=train)


def test_embedding_matches_torch(backend):
    idx = np.array([[1, 3, 3, 0], [7, 1, 1, 1]], dtype=np.int64)
    compare_layer(lambda nn: nn.Embedding(8, 3), idx, int_input=True)
    compare_layer(lambda nn: nn.Embedding(8, 3, padding_idx=1), idx, int_input=True)
    compare_layer(lambda nn: nn.Embedding(8, 3, padding_idx=-1), idx, int_input=True)


def test_dropout_eval_and_p0_are_identity(backend):
    x = tl_tensor(normal(3, 4), requires_grad=True)
    d = nn.Dropout(0.5).eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert tlF.dropout(x, 0.7, training=False) is x


def test_dropout_statistics(backend):
    p, n = 0.3, 400_000
    x = tl.ones(n, device=backend.device, requires_grad=True)
    y = nn.Dropout(p)(x)
    out = to_np(y)
    zeros = np.mean(out == 0)
    assert abs(zeros - p) < 0.005, f"fraction of zeros {zeros}, expected {p}"
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-6)
    assert abs(out.mean() - 1.0) < 0.01, "dropout must preserve the mean"
    g = normal(n)
    y.backward(tl_tensor(g).float())
    np.testing.assert_allclose(to_np(x.grad), g.astype(np.float32) * out, rtol=1e-6)
    # a fresh mask on every call
    assert np.mean(to_np(nn.Dropout(p)(x.detach())) != out) > 0.2


def test_dropout_p1_and_bad_p(backend):
    x = tl_tensor(normal(3, 4), requires_grad=True)
    y = tlF.dropout(x, 1.0)
    assert not np.any(to_np(y))
    y.backward(tl_tensor(normal(3, 4)))
    assert not np.any(to_np(x.grad))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            tlF.dropout(x, bad)


def test_dropout_is_seeded(backend):
    x = tl.ones(1000, device=backend.device)
    tl.manual_seed(3)
    a = to_np(tlF.dropout(x, 0.5))
    tl.manual_seed(3)
    assert np.array_equal(a, to_np(tlF.dropout(x, 0.5)))


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
def test_batchnorm_running_stats_over_steps(backend, momentum):
    th = torch.nn.BatchNorm2d(3, momentum=momentum).double()
    randomize(th)
    tlm = nn.BatchNorm2d(3, momentum=momentum).double()
    load_from_torch(tlm, th)
    for step in range(5):
        x = normal(4, 3, 2, 3) * (step + 1) + step
        run_both(tlm, th, x)
        assert_same_state(tlm, th)
        tlm.zero_grad(), th.zero_grad()
    assert int(tlm.num_batches_tracked.item()) == 5
    assert tlm.num_batches_tracked.dtype == tl.int64
    tlm.eval(), th.eval()
    xt, xh = run_both(tlm, th, normal(2, 3, 2, 3))
    assert_close(xt.grad, xh.grad, what="eval input grad", **GRAD_TOL[F64])
    assert_same_state(tlm, th)
    assert int(tlm.num_batches_tracked.item()) == 5, "eval must not count batches"


def test_batchnorm_errors(backend):
    with pytest.raises(ValueError, match="2D or 3D"):
        nn.BatchNorm1d(3)(tl.randn(2, 3, 4, 5, device=backend.device))
    with pytest.raises(ValueError, match="4D"):
        nn.BatchNorm2d(3)(tl.randn(2, 3, device=backend.device))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tl.randn(1, 3, device=backend.device))
    with pytest.raises(RuntimeError, match=r"weight has shape \[4\], expected \[3\]"):
        tlF.batch_norm(tl.randn(2, 3, device=backend.device), None, None,
                       tl.ones(4, device=backend.device), training=True)


def test_linear_is_one_tape_node_and_checks_shapes(backend):
    lin = nn.Linear(4, 3)
    y = lin(tl.randn(2, 4, device=backend.device))
    assert y.grad_fn.name == "linear"
    assert y.grad_fn.next[1] is lin.weight and y.grad_fn.next[2] is lin.bias
    with pytest.raises(RuntimeError, match=r"input \[2, 5\] and weight \[3, 4\]"):
        lin(tl.randn(2, 5, device=backend.device))
    with pytest.raises(RuntimeError, match="same dtype"):
        lin(tl.randn(2, 4, dtype=tl.float64, device=backend.device))


def test_embedding_errors_and_padding(backend):
    e = nn.Embedding(5, 2, padding_idx=2)
    assert not np.any(to_np(e.weight)[2])
    with pytest.raises(IndexError, match="out of range"):
        e(tl.tensor([0, 5], device=backend.device))
    with pytest.raises(IndexError, match="out of range"):
        e(tl.tensor([-1], device=backend.device))
    with pytest.raises(TypeError, match="integer"):
        e(tl.tensor([0.0, 1.0], device=backend.device))
    pre = nn.Embedding.from_pretrained(tl.ones(3, 2, device=backend.device))
    assert not pre.weight.requires_grad and pre.weight.shape == (3, 2)


# ----------------------------------------------------------------------------- fusion
_TORCH_FN = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
             "gelu": torch.nn.functional.gelu}


@pytest.mark.parametrize("name", list(tlF.fusion.ACTIVATIONS))
def test_every_fusable_activation_is_its_functional_after_linear(backend, name):
    """linear(activation=name) is the table row's functional applied to linear, as torch."""
    row = tlF.fusion.ACTIVATIONS[name]

    def fn(lib, x, w, b):
        if lib is tl:
            return tlF.linear(x, w, b, activation=name)
        return _TORCH_FN[row.fn.__name__](torch.nn.functional.linear(x, w, b), **row.kwargs)
    check_op(fn, N(4, 3), N(5, 3), N(5))
    x, w, b = (tl_tensor(np.random.standard_normal(s)) for s in ((4, 3), (5, 3), (5,)))
    assert_close(tlF.linear(x, w, b, activation=name), row.fn(tlF.linear(x, w, b), **row.kwargs),
                 1e-12, 1e-12, name)


def _is_fused(model, x):
    """Whether ``model``'s last Linear + activation ran as one node (its output's grad_fn)."""
    return model(x).grad_fn.name == "linear"


def test_sequential_fuses_linear_subclasses_that_keep_forward(backend):
    class Plain(nn.Linear):  # a new method, the same forward: fused
        def norm(self):
            return self.weight.norm()

    class Scaled(nn.Linear):  # its own forward: run as written, never fused
        def forward(self, input):
            return super().forward(input) * 2

    class HalfReLU(nn.ReLU):
        def forward(self, input):
            return super().forward(input) * 0.5

    class QuietGELU(nn.GELU):  # an activation subclass keeping forward: fused
        pass
    x = tl_tensor(np.random.standard_normal((4, 3)), requires_grad=True)
    for first, second, fused in ((Plain(3, 2), nn.ReLU(), True), (Scaled(3, 2), nn.ReLU(), False),
                                 (nn.Linear(3, 2), HalfReLU(), False),
                                 (nn.Linear(3, 2), QuietGELU("tanh"), True)):
        model = nn.Sequential(first, second).double().to(backend.device)
        assert _is_fused(model, x) == fused, (type(first).__name__, type(second).__name__)
        assert_close(model(x), second(first(x)), 1e-13, 1e-13, type(first).__name__)
    assert tlF.fusion.fused_activation(Plain(3, 2), QuietGELU("tanh")) == "gelu_tanh"


def test_sequential_does_not_fuse_modules_with_hooks_or_a_replaced_forward(backend):
    x = tl_tensor(np.random.standard_normal((4, 3)), requires_grad=True)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh()).double().to(backend.device)
    assert _is_fused(model, x)
    seen = []
    for target in model:
        handle = target.register_forward_hook(lambda m, args, out: seen.append(type(m).__name__))
        assert not _is_fused(model, x)
        handle.remove()
    assert seen == ["Linear", "Tanh"] and _is_fused(model, x)
    handle = nn.modules.module.register_module_forward_pre_hook(lambda m, args: None)
    try:
        assert not _is_fused(model, x)
    finally:
        handle.remove()
    model[1].forward = lambda input: input * 3  # an instance's own forward is what runs
    assert not _is_fused(model, x)
    assert_close(model(x), model[0](x) * 3, 1e-13, 1e-13, "replaced forward")


# ----------------------------------------------------------------------------- functional forms
RM, RV = np.array([0.3, -0.2, 1.0]), np.array([0.5, 1.5, 2.0])


def bn_eval(lib, x, w, b):
    rm = lib.tensor(RM, dtype=x.dtype, device=x.device)
    rv = lib.tensor(RV, dtype=x.dtype, device=x.device)
    return F(lib).batch_norm(x, rm, rv, w, b, training=False, eps=1e-3)


FUNCTIONAL = [
    fcase("linear", lambda lib, x, w, b: F(lib).linear(x, w, b), N(3, 4), N(5, 4), N(5)),
    fcase("linear_nobias_batched", lambda lib, x, w: F(lib).linear(x, w), N(2, 3, 4), N(2, 4)),
    fcase("linear_noncontig", lambda lib, x, w, b: F(lib).linear(x, w, b), NC(N(3, 4)),
          Fortran(N(5, 4)), NC(N(5))),
    fcase("linear_transposed_3d", lambda lib, x, w: F(lib).linear(x.transpose(0, 1), w),
          N(3, 2, 4), N(5, 4)),
    fcase("linear_1d", lambda lib, x, w, b: F(lib).linear(x, w, b), N(4), N(2, 4), N(2)),
    fcase("relu", lambda lib, x: F(lib).relu(x), U(0.1, 2, 3, 4)),
    fcase("relu_neg", lambda lib, x: F(lib).relu(x), U(-2, -0.1, 3, 4)),
    fcase("gelu", lambda lib, x: F(lib).gelu(x), U(-4, 4, 3, 5)),
    fcase("gelu_wide", lambda lib, x: F(lib).gelu(x), U(-9, 9, 4, 5)),
    fcase("gelu_tanh", lambda lib, x: F(lib).gelu(x, approximate="tanh"), U(-4, 4, 3, 5)),
    fcase("leaky_relu", lambda lib, x: F(lib).leaky_relu(x, 0.1), N(3, 4)),
    fcase("softplus", lambda lib, x: F(lib).softplus(x), U(-5, 5, 3, 4)),
    fcase("softplus_threshold", lambda lib, x: F(lib).softplus(x, beta=3, threshold=2),
         U(-2, 2, 3, 4)),
    fcase("sigmoid", lambda lib, x: F(lib).sigmoid(x), N(3, 4)),
    fcase("tanh", lambda lib, x: F(lib).tanh(x), N(3, 4)),
    fcase("softmax", lambda lib, x: F(lib).softmax(x, dim=-1), N(3, 4)),
    fcase("log_softmax", lambda lib, x: F(lib).log_softmax(x, dim=0), N(3, 4)),
    fcase("embedding", lambda lib, i, w: F(lib).embedding(i, w),
         Const([[0, 2, 2], [4, 0, 2]], np.int64), N(5, 3)),
    fcase("embedding_padding", lambda lib, i, w: F(lib).embedding(i, w, padding_idx=2),
         Const([[0, 2, 2], [4, 0, 2]], np.int64), N(5, 3),
         gradcheck=False),  # by design the padding row's gradient is not the true one
    fcase("layer_norm", lambda lib, x, w, b: F(lib).layer_norm(x, (4,), w, b), N(3, 4), N(4),
         N(4), rtol=1e-4, atol=1e-5),
    fcase("layer_norm_2d_plain", lambda lib, x: F(lib).layer_norm(x, (2, 3), eps=1e-3),
         N(2, 2, 3), rtol=1e-4, atol=1e-5),
    fcase("batch_norm_train", lambda lib, x, w, b: F(lib).batch_norm(
        x, None, None, w, b, training=True), N(4, 3), N(3), N(3), rtol=1e-4, atol=1e-5),
    fcase("batch_norm_train_4d", lambda lib, x, w, b: F(lib).batch_norm(
        x, None, None, w, b, training=True), N(2, 3, 2, 2), N(3), N(3), rtol=1e-4, atol=1e-5),
    fcase("batch_norm_train_plain", lambda lib, x: F(lib).batch_norm(
        x, None, None, training=True), N(3, 2, 2), rtol=1e-4, atol=1e-5),
    fcase("batch_norm_eval", bn_eval, N(4, 3, 2), N(3), N(3)),
]


@pytest.mark.parametrize("fn, args, opts", FUNCTIONAL)
def test_functional(backend, fn, args, opts):
    check_op(fn, *args, **opts)


# torch's fused norm backward marks the bias gradient (sum of the upstream gradient) as
# requiring grad, which the helper then demands of us: the norms are checked here without bias.
SECOND_ORDER = [c for c in FUNCTIONAL if c.id in (
    "linear", "linear_nobias_batched", "gelu", "gelu_tanh", "softplus", "layer_norm_2d_plain",
    "batch_norm_train_plain")] + [
    fcase("layer_norm_weight", lambda lib, x, w: F(lib).layer_norm(x, (4,), w), N(3, 4), N(4)),
    fcase("batch_norm_train_weight", lambda lib, x, w: F(lib).batch_norm(
        x, None, None, w, training=True), N(4, 3), N(3)),
    fcase("batch_norm_eval_weight", lambda lib, x, w: bn_eval(lib, x, w, None), N(4, 3, 2),
          N(3)),
]


@pytest.mark.parametrize("fn, args, opts", SECOND_ORDER)
def test_functional_second_order(backend, fn, args, opts):
    check_second_order(fn, *args)


def test_dropout_gradcheck_with_fixed_mask(backend):
    x = tl_tensor(normal(3, 4), requires_grad=True)

    def f(x):
        tl.manual_seed(7)  # the same mask on every evaluation
        return tlF.dropout(x, 0.4)
    assert tl.autograd.gradcheck(f, (x,))
    assert tl.autograd.gradgradcheck(f, (x,))


def test_activation_gradients_at_kinks_match_torch(backend):
    x = np.array([-1.0, 0.0, 1.0, 10.0 / 3, 2.0 / 3])
    cases = [lambda lib, x: F(lib).relu(x), lambda lib, x: F(lib).leaky_relu(x, 0.2),
             lambda lib, x: F(lib).softplus(x, beta=3, threshold=2),
             lambda lib, x: F(lib).gelu(x)]
    for fn in cases:
        xt, xh = tl_tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
        fn(tl, xt).backward(tl_tensor(np.ones(5)))
        fn(torch, xh).backward(torch.ones(5, dtype=torch.float64))
        assert_close(xt.grad, xh.grad, what="kink gradient", **GRAD_TOL[F64])


def test_erf_accuracy(backend):
    x = np.linspace(-7, 7, 2001)
    expected = np.array([math.erf(v) for v in x])
    got = to_np(activation.erf(tl_tensor(x)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=4e-16)


def test_one_hot(backend):
    idx = np.array([[0, 3], [2, 2]], dtype=np.int64)
    got = tlF.one_hot(tl_tensor(idx))
    assert_close(got, torch.nn.functional.one_hot(torch.from_numpy(idx)), 0, 0, "one_hot")
    got = tlF.one_hot(tl_tensor(idx), num_classes=6)
    assert got.dtype == tl.int64 and got.shape == (2, 2, 6)
    assert_close(got, torch.nn.functional.one_hot(torch.from_numpy(idx), 6), 0, 0, "one_hot 6")
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        tlF.one_hot(tl_tensor(idx), num_classes=3)
    with pytest.raises(RuntimeError, match="non-negative"):
        tlF.one_hot(tl_tensor(np.array([-1, 0])))
    with pytest.raises(RuntimeError, match="integer"):
        tlF.one_hot(tl_tensor(np.array([0.0])))


def test_functional_errors(backend):
    x = tl.randn(2, 3, device=backend.device)
    with pytest.raises(ValueError, match="approximate"):
        tlF.gelu(x, approximate="fast")
    with pytest.raises(RuntimeError, match=r"normalized_shape=\[4\]"):
        tlF.layer_norm(x, (4,))
    with pytest.raises(TypeError, match="floating point"):
        tlF.gelu(tl.tensor([1, 2], device=backend.device))
    with pytest.raises(RuntimeError, match="running_mean and running_var"):
        tlF.batch_norm(x, None, None, training=False)


# ----------------------------------------------------------------------------- init
def test_calculate_gain_matches_torch():
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                        ("leaky_relu", 3), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-15)
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        nn.init.calculate_gain("leaky_relu", True)


def _stats(t):
    a = to_np(t).astype(np.float64)
    return a, a.mean(), a.std()


def test_uniform_and_normal(backend):
    t = tl.empty(200, 300, device=backend.device)
    assert nn.init.uniform_(t, -2.0, 3.0) is t
    a, mean, std = _stats(t)
    assert a.min() >= -2.0 and a.max() < 3.0 and a.max() > 2.99 and a.min() < -1.99
    assert abs(mean - 0.5) < 0.02 and abs(std - 5 / math.sqrt(12)) < 0.02
    nn.init.normal_(t, mean=1.5, std=0.5)
    a, mean, std = _stats(t)
    assert abs(mean - 1.5) < 0.005 and abs(std - 0.5) < 0.005


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)], ids=["linear", "conv"])
def test_fan_based_inits(backend, shape):
    receptive = int(np.prod(shape[2:]))
    fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    assert nn.init._calculate_fan_in_and_fan_out(tl.empty(*shape)) == (fan_in, fan_out)
    t = tl.empty(*shape, device=backend.device)
    checks = [
        (lambda: nn.init.xavier_uniform_(t, gain=2.0), 2.0 * math.sqrt(6 / (fan_in + fan_out)),
         True),
        (lambda: nn.init.xavier_normal_(t), math.sqrt(2 / (fan_in + fan_out)), False),
        (lambda: nn.init.kaiming_uniform_(t), math.sqrt(2) * math.sqrt(3 / fan_in), True),
        (lambda: nn.init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(fan_in), True),
        (lambda: nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
         math.sqrt(2) * math.sqrt(3 / fan_out), True),
        (lambda: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
         math.sqrt(2) / math.sqrt(fan_out), False),
        (lambda: nn.init.kaiming_normal_(t, a=0.3), math.sqrt(2 / 1.09) / math.sqrt(fan_in),
         False),
    ]
    for fill, scale, uniform in checks:
        assert fill() is t
        a, mean, std = _stats(t)
        if uniform:  # scale is the bound
            assert np.abs(a).max() <= scale and np.abs(a).max() > 0.99 * scale
            assert abs(std - scale / math.sqrt(3)) < 0.03 * scale
        else:  # scale is the std
            assert abs(std - scale) < 0.03 * scale
        assert abs(mean) < 0.03 * scale
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(tl.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(t, mode="fan_avg")


def test_init_in_place_on_parameter(backend):
    p = nn.Parameter(tl.zeros(3, 4, device=backend.device))
    view = p.detach()
    v0 = p._version[0]
    nn.init.normal_(p)
    assert p.grad_fn is None and p.requires_grad and p._version[0] > v0
    assert np.array_equal(to_np(view), to_np(p)), "init must write into the same storage"
    nn.init.constant_(p, 2.5)
    assert np.all(to_np(p) == 2.5)
    assert np.all(to_np(nn.init.ones_(p)) == 1) and not np.any(to_np(nn.init.zeros_(p)))
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(tl.empty(0, 3))


def test_init_is_seeded(backend):
    tl.manual_seed(11)
    a = to_np(nn.Linear(5, 4).weight)
    tl.manual_seed(11)
    b = to_np(nn.Linear(5, 4).weight)
    assert np.array_equal(a, b)


def test_default_layer_inits(backend):
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        a = to_np(p)
        assert p.dtype == tl.float32 and np.abs(a).max() <= bound
        assert abs(a.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert lin.weight.shape == (300, 400) and lin.bias.shape == (300,)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=tl.float64).weight.dtype == tl.float64
    emb = to_np(nn.Embedding(1000, 50).weight)
    assert abs(emb.mean()) < 0.01 and abs(emb.std() - 1) < 0.01
    ln = nn.LayerNorm((2, 3))
    assert np.all(to_np(ln.weight) == 1) and not np.any(to_np(ln.bias))
    bn = nn.BatchNorm1d(4)
    assert np.all(to_np(bn.weight) == 1) and not np.any(to_np(bn.bias))
    assert np.all(to_np(bn.running_var) == 1) and not np.any(to_np(bn.running_mean))
