"""Activation modules (and the distance / Bilinear / EmbeddingBag modules) against torch.nn, on
every backend: outputs and the gradients of inputs and every parameter for a random upstream
gradient, float32 and float64, train and eval; inplace=True; the gradients at the kinks; reprs;
errors; float64 gradcheck and second order; default initialization."""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import FWD_TOL, GRAD_TOL, assert_close, to_np

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
TH_DT = {F32: torch.float32, F64: torch.float64}
TL_DT = {F32: tl.float32, F64: tl.float64}


def _load(tl_mod, th_mod):
    result = tl_mod.load_state_dict({k: tl.tensor(v.detach().numpy().copy())
                                     for k, v in th_mod.state_dict().items()})
    assert tuple(result) == ([], [])


def _randomize(th_mod, rng):
    with torch.no_grad():
        for p in th_mod.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))


def compare_module(make, inputs, dtype, rng, train=True, int_inputs=(), extra=None):
    """Build ``make(nn)`` in both libraries with torch's (random) weights, run the inputs
    (numpy arrays) through both, compare outputs, input and parameter gradients."""
    th_mod = make(torch.nn).to(TH_DT[dtype])
    _randomize(th_mod, rng)
    tl_mod = make(tl.nn).to(TL_DT[dtype])
    _load(tl_mod, th_mod)
    th_mod.train(train), tl_mod.train(train)
    th_in, tl_in = [], []
    for i, a in enumerate(inputs):
        if i in int_inputs:
            th_in.append(torch.from_numpy(a.copy()))
            tl_in.append(tl.tensor(a.copy()))
        else:
            a = a.astype(dtype)
            th_in.append(torch.from_numpy(a.copy()).requires_grad_())
            tl_in.append(tl.tensor(a.copy(), requires_grad=True))
    kw = extra or {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yh = th_mod(*th_in, **kw)
        yt = tl_mod(*tl_in, **kw)
    assert_close(yt, yh, what="forward", **FWD_TOL[dtype])
    if not yh.requires_grad:
        return tl_mod, th_mod
    g = rng.standard_normal(tuple(yh.shape)).astype(dtype)
    yh.backward(torch.from_numpy(g))
    yt.backward(tl.tensor(g))
    for i, (a, e) in enumerate(zip(tl_in, th_in)):
        if e.requires_grad:
            assert_close(a.grad, e.grad, what=f"grad of input {i}", **GRAD_TOL[dtype])
    for name, p in th_mod.named_parameters():
        q = tl_mod.get_parameter(name)
        pg = p.grad.to_dense() if p.grad.is_sparse else p.grad  # (sparse=True: dense here)
        assert_close(q.grad, pg, what=f"grad of {name}", **GRAD_TOL[dtype])
    return tl_mod, th_mod


# every activation module, with constructor arguments off their defaults too
ACTIVATIONS = [
    ("SiLU", lambda nn: nn.SiLU()), ("Mish", lambda nn: nn.Mish()),
    ("ELU", lambda nn: nn.ELU()), ("ELU-alpha", lambda nn: nn.ELU(alpha=0.7)),
    ("SELU", lambda nn: nn.SELU()), ("CELU", lambda nn: nn.CELU(alpha=1.5)),
    ("GELU", lambda nn: nn.GELU()), ("GELU-tanh", lambda nn: nn.GELU(approximate="tanh")),
    ("Hardtanh", lambda nn: nn.Hardtanh()), ("Hardtanh-bounds", lambda nn: nn.Hardtanh(-2, 0.5)),
    ("Hardswish", lambda nn: nn.Hardswish()), ("Hardsigmoid", lambda nn: nn.Hardsigmoid()),
    ("ReLU6", lambda nn: nn.ReLU6()), ("PReLU", lambda nn: nn.PReLU()),
    ("PReLU-channels", lambda nn: nn.PReLU(4, init=0.1)), ("RReLU", lambda nn: nn.RReLU()),
    ("LogSigmoid", lambda nn: nn.LogSigmoid()), ("Softsign", lambda nn: nn.Softsign()),
    ("Tanhshrink", lambda nn: nn.Tanhshrink()), ("Softshrink", lambda nn: nn.Softshrink(0.3)),
    ("Hardshrink", lambda nn: nn.Hardshrink(0.7)), ("Softmin", lambda nn: nn.Softmin(1)),
    ("Softmax2d", lambda nn: nn.Softmax2d()), ("GLU", lambda nn: nn.GLU(1)),
    ("Threshold", lambda nn: nn.Threshold(0.1, -3.0)),
]


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name,make", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_module_matches_torch(backend, rng, name, make, dtype):
    x = rng.standard_normal((2, 4, 3, 2)) * 4
    x.flat[:6] = [0.0, 3.0, -3.0, 6.0, 1.0, -1.0]  # kinks
    train = name != "RReLU"  # (RReLU's training slopes are random: see below)
    compare_module(make, [x], dtype, rng, train=train)


INPLACE = [("ELU", lambda nn: nn.ELU(inplace=True)), ("SELU", lambda nn: nn.SELU(True)),
           ("CELU", lambda nn: nn.CELU(inplace=True)), ("SiLU", lambda nn: nn.SiLU(True)),
           ("Mish", lambda nn: nn.Mish(True)), ("Hardtanh", lambda nn: nn.Hardtanh(inplace=True)),
           ("ReLU6", lambda nn: nn.ReLU6(True)), ("Hardswish", lambda nn: nn.Hardswish(True)),
           ("Hardsigmoid", lambda nn: nn.Hardsigmoid(True)),
           ("RReLU", lambda nn: nn.RReLU(inplace=True)),
           ("Threshold", lambda nn: nn.Threshold(0.5, 2.0, inplace=True))]


@pytest.mark.parametrize("name,make", INPLACE, ids=[a[0] for a in INPLACE])
def test_inplace_writes_into_the_input(backend, rng, name, make):
    x = rng.standard_normal((3, 5)) * 4
    th_mod, tl_mod = make(torch.nn).eval(), make(tl.nn).eval()
    xh = torch.from_numpy(x.copy()).requires_grad_()
    xt = tl.tensor(x.copy(), requires_grad=True)
    hh, ht = xh * 2, xt * 2  # non-leaf: in place is allowed while a gradient flows
    yh, yt = th_mod(hh), tl_mod(ht)
    assert yt is ht, f"{name}(inplace=True) must return its input"
    assert_close(ht, hh, what="input after the in-place op", **FWD_TOL[F64])
    g = rng.standard_normal(x.shape)
    yh.backward(torch.from_numpy(g))
    yt.backward(tl.tensor(g))
    assert_close(xt.grad, xh.grad, what="gradient through the in-place op", **GRAD_TOL[F64])
    assert repr(tl_mod) == repr(th_mod)


def test_inplace_functional_forms(backend, rng):
    x = rng.standard_normal((4, 3)) * 3
    for name, kw in [("elu_", {}), ("selu_", {}), ("celu_", {"alpha": 2.0}),
                     ("hardtanh_", {"min_val": -0.5}), ("leaky_relu_", {"negative_slope": 0.2}),
                     ("threshold_", {"threshold": 0.0, "value": -1.0}), ("relu_", {})]:
        xh = torch.from_numpy(x.copy())
        xt = tl.tensor(x.copy())
        out = getattr(tl.nn.functional, name)(xt, **kw)
        getattr(torch.nn.functional, name)(xh, **kw)
        assert out is xt, name
        assert_close(xt, xh, what=name, **FWD_TOL[F64])


def test_inplace_on_a_leaf_that_requires_grad_is_refused(backend):
    x = tl.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        tl.nn.functional.elu(x, inplace=True)


# the derivative at each kink, as torch's (its backward's own conditions)
KINKS = [
    ("relu6", {}, [-1.0, 0.0, 3.0, 6.0, 7.0]),
    ("hardtanh", {}, [-2.0, -1.0, 0.0, 1.0, 2.0]),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}, [-0.5, 2.0, 0.0]),
    ("hardswish", {}, [-4.0, -3.0, 0.0, 3.0, 4.0]),
    ("hardsigmoid", {}, [-4.0, -3.0, 0.0, 3.0, 4.0]),
    ("softshrink", {"lambd": 0.5}, [-0.5, 0.5, 0.0, 1.0]),
    ("hardshrink", {"lambd": 0.5}, [-0.5, 0.5, 0.0, 1.0]),
    ("threshold", {"threshold": 1.0, "value": -2.0}, [0.5, 1.0, 1.5]),
    ("elu", {}, [-1.0, 0.0, 1.0]), ("celu", {"alpha": 2.0}, [-1.0, 0.0, 1.0]),
    ("selu", {}, [-1.0, 0.0, 1.0]), ("logsigmoid", {}, [-30.0, 0.0, 30.0]),
    ("softsign", {}, [0.0]), ("silu", {}, [0.0]), ("mish", {}, [0.0, 25.0]),
]


@pytest.mark.parametrize("name,kw,values", KINKS, ids=[f"{k[0]}-{i}" for i, k in enumerate(KINKS)])
def test_gradient_at_kinks(backend, name, kw, values):
    xh = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    xt = tl.tensor(values, dtype=tl.float64, requires_grad=True)
    yh = getattr(torch.nn.functional, name)(xh, **kw)
    yt = getattr(tl.nn.functional, name)(xt, **kw)
    assert_close(yt, yh, what="forward", **FWD_TOL[F64])
    (gh,) = torch.autograd.grad(yh.sum(), xh)
    (gt,) = tl.autograd.grad(yt.sum(), xt)
    assert_close(gt, gh, what=f"{name} gradient at {values}", **GRAD_TOL[F64])


def test_rrelu_training_draws_slopes_from_the_generator(backend):
    lower, upper = 0.1, 0.3
    x = tl.tensor(np.linspace(-3, 3, 400), requires_grad=True)
    m = tl.nn.RReLU(lower, upper).train()
    tl.manual_seed(5)
    y = m(x)
    tl.manual_seed(5)
    y2 = m(x.detach())
    np.testing.assert_array_equal(to_np(y), to_np(y2))  # reproducible from the seed
    xs, ys = to_np(x), to_np(y)
    pos = xs > 0
    np.testing.assert_array_equal(ys[pos], xs[pos])
    slopes = ys[~pos & (xs != 0)] / xs[~pos & (xs != 0)]
    assert slopes.min() >= lower and slopes.max() <= upper
    assert slopes.std() > 0.03, "training slopes should vary"
    (g,) = tl.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(to_np(g)[~pos & (xs != 0)], slopes)  # gradient: the drawn slope
    ye = m.eval()(x)  # eval: the mean slope
    np.testing.assert_allclose(to_np(ye)[~pos], xs[~pos] * (lower + upper) / 2)


def test_prelu_default_init_and_weight_shape():
    for n, init in [(1, 0.25), (4, 0.1)]:
        tl_m, th_m = tl.nn.PReLU(n, init), torch.nn.PReLU(n, init)
        assert tuple(tl_m.weight.shape) == tuple(th_m.weight.shape)
        np.testing.assert_allclose(to_np(tl_m.weight), th_m.weight.detach().numpy())
        assert repr(tl_m) == repr(th_m)


REPRS = [lambda nn: nn.SiLU(), lambda nn: nn.ELU(alpha=0.5, inplace=True),
         lambda nn: nn.CELU(), lambda nn: nn.Hardtanh(-2.0, 2.0), lambda nn: nn.ReLU6(),
         lambda nn: nn.RReLU(0.1, 0.2), lambda nn: nn.Softshrink(), lambda nn: nn.Hardshrink(0.2),
         lambda nn: nn.Softmin(dim=1), lambda nn: nn.GLU(), lambda nn: nn.Threshold(0.1, 20),
         lambda nn: nn.Softmax2d(), lambda nn: nn.LogSigmoid(), lambda nn: nn.Mish(inplace=True),
         lambda nn: nn.Bilinear(2, 3, 4, bias=False), lambda nn: nn.PairwiseDistance(),
         lambda nn: nn.CosineSimilarity(dim=0), lambda nn: nn.EmbeddingBag(10, 3, mode="max"),
         lambda nn: nn.EmbeddingBag(10, 3, padding_idx=2, max_norm=1.0)]


@pytest.mark.parametrize("make", REPRS)
def test_repr_matches_torch(make):
    assert repr(make(tl.nn)) == repr(make(torch.nn))


def test_errors_as_torch():
    F = tl.nn.functional
    x = tl.tensor(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(x)
    with pytest.raises(RuntimeError, match="alpha cannot be 0"):
        F.celu(x, 0.0)
    with pytest.raises(RuntimeError, match="parameter numbers"):
        F.prelu(x, tl.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="dimension 3 or 4"):
        tl.nn.Softmax2d()(x)
    with pytest.raises(RuntimeError, match="lambda"):
        F.softshrink(x, -1.0)
    with pytest.raises(TypeError, match="floating point"):
        F.silu(tl.tensor([1, 2]))
    for lib in (torch, tl):  # torch raises the same types for these
        with pytest.raises(RuntimeError):
            lib.nn.functional.glu(lib.ones(2, 3))
        with pytest.raises(ValueError):
            lib.nn.Softmax2d()(lib.ones(2, 3))


@pytest.mark.parametrize("name", ["silu", "mish", "elu", "selu", "celu", "logsigmoid",
                                  "softsign", "tanhshrink", "softmin", "glu", "hardswish"])
def test_gradcheck_and_gradgradcheck(backend, rng, name):
    f = getattr(tl.nn.functional, name)
    fn = (lambda x: f(x, dim=1)) if name in ("softmin", "glu") else f
    x = tl.tensor(rng.standard_normal((3, 4)) + 0.1, dtype=tl.float64, requires_grad=True)
    assert tl.autograd.gradcheck(fn, (x,))
    assert tl.autograd.gradgradcheck(fn, (x,))


def test_prelu_second_order_matches_torch(backend, rng):
    """Including x == 0, where torch's second derivatives take 0 as the positive side."""
    x0 = rng.standard_normal((2, 3, 4))
    x0[0, 0, :2] = 0.0
    w0 = rng.uniform(0.1, 0.5, 3)
    g0 = rng.standard_normal(x0.shape)
    results = {}
    for lib in (torch, tl):
        x = lib.tensor(x0, requires_grad=True)
        w = lib.tensor(w0, requires_grad=True)
        y = lib.nn.functional.prelu(x, w)
        gx, gw = lib.autograd.grad(y, (x, w), lib.tensor(g0), create_graph=True)
        h = (gx * gx).sum() + (gw * gw).sum()
        results[lib] = lib.autograd.grad(h, (x, w))
    for a, e in zip(results[tl], results[torch]):
        assert_close(a, e, what="second order", **GRAD_TOL[F64])


# -- distances, Bilinear, EmbeddingBag ------------------------------------------------------------
@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
def test_distance_modules(backend, rng, dtype):
    a, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    compare_module(lambda nn: nn.CosineSimilarity(dim=1, eps=1e-6), [a, b], dtype, rng)
    compare_module(lambda nn: nn.CosineSimilarity(dim=0), [a, b[:1]], dtype, rng)
    compare_module(lambda nn: nn.PairwiseDistance(p=1.5, keepdim=True), [a, b], dtype, rng)


def test_functional_distances_keywords(backend, rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    th, tt = torch.nn.functional, tl.nn.functional
    assert_close(tt.normalize(tl.tensor(a), p=1.0, dim=0, eps=1e-3),
                 th.normalize(torch.tensor(a), p=1.0, dim=0, eps=1e-3), **FWD_TOL[F64])
    assert_close(tt.pairwise_distance(tl.tensor(a), tl.tensor(b), p=3.0, eps=0.0, keepdim=True),
                 th.pairwise_distance(torch.tensor(a), torch.tensor(b), p=3.0, eps=0.0,
                                      keepdim=True), **FWD_TOL[F64])
    z = np.zeros((2, 4))
    assert_close(tt.cosine_similarity(tl.tensor(z), tl.tensor(a[:2]), dim=1),
                 th.cosine_similarity(torch.tensor(z), torch.tensor(a[:2]), dim=1),
                 **FWD_TOL[F64])
    assert_close(tt.pdist(tl.tensor(a), p=1.0), th.pdist(torch.tensor(a), p=1.0), **FWD_TOL[F64])


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_module(backend, rng, dtype, bias):
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    compare_module(lambda nn: nn.Bilinear(3, 4, 2, bias=bias), [x1, x2], dtype, rng)
    x1, x2 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    compare_module(lambda nn: nn.Bilinear(3, 4, 2, bias=bias), [x1, x2], dtype, rng)


def test_bilinear_default_init_statistics():
    tl.manual_seed(0)
    torch.manual_seed(0)
    m, t = tl.nn.Bilinear(64, 32, 50), torch.nn.Bilinear(64, 32, 50)
    w, e = to_np(m.weight), t.weight.detach().numpy()
    bound = 1 / np.sqrt(64)
    assert np.abs(w).max() <= bound and np.abs(to_np(m.bias)).max() <= bound
    np.testing.assert_allclose(w.std(), e.std(), rtol=0.02)
    assert abs(w.mean()) < 0.002
    assert [k for k, _ in m.named_parameters()] == [k for k, _ in t.named_parameters()]


EMBEDDING_BAGS = [
    ("mean", dict(mode="mean"), "offsets"), ("sum", dict(mode="sum"), "offsets"),
    ("max", dict(mode="max"), "offsets"), ("sum-psw", dict(mode="sum"), "psw"),
    ("mean-2d", dict(mode="mean"), "2d"), ("max-2d", dict(mode="max"), "2d"),
    ("padding", dict(mode="mean", padding_idx=3), "offsets"),
    ("last-offset", dict(mode="sum", include_last_offset=True), "last"),
    ("max_norm", dict(mode="mean", max_norm=1.0), "offsets"),
]


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("name,kw,form", EMBEDDING_BAGS, ids=[e[0] for e in EMBEDDING_BAGS])
def test_embedding_bag_module(backend, rng, dtype, name, kw, form):
    idx = np.array([1, 3, 4, 4, 0, 3, 2, 7], dtype=np.int64)
    make = (lambda nn: nn.EmbeddingBag(8, 3, **kw))
    if form == "2d":
        tl_mod, th_mod = compare_module(make, [idx.reshape(2, 4)], dtype, rng, int_inputs=(0,))
    elif form == "psw":
        tl_mod, th_mod = compare_module(make, [idx, np.array([0, 2, 2, 5]),
                                               rng.standard_normal(8)], dtype, rng,
                                        int_inputs=(0, 1))
    else:
        offs = np.array([0, 2, 5, 8] if form == "last" else [0, 2, 2, 5])
        tl_mod, th_mod = compare_module(make, [idx, offs], dtype, rng, int_inputs=(0, 1))
    # max_norm renormalizes the weight rows in place, as torch
    assert_close(tl_mod.weight, th_mod.weight, what="weight after forward", **FWD_TOL[dtype])


def test_embedding_bag_defaults_and_errors():
    tl.manual_seed(0)
    m = tl.nn.EmbeddingBag(1000, 20, padding_idx=0)
    w = to_np(m.weight)
    assert not w[0].any()
    assert abs(w[1:].mean()) < 0.02 and abs(w[1:].std() - 1) < 0.02  # N(0, 1), as torch
    assert m.mode == "mean"
    F = tl.nn.functional
    wt = tl.tensor(np.ones((4, 2)))
    with pytest.raises(RuntimeError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(tl.tensor([1, 2]), wt, tl.tensor([1]))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        F.embedding_bag(tl.tensor([1, 2]), wt, tl.tensor([0]), mode="mean",
                        per_sample_weights=tl.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(tl.tensor([[1, 2]]), wt, tl.tensor([0]))
    with pytest.raises(ValueError, match="max mode"):
        F.embedding_bag(tl.tensor([1, 2]), wt, tl.tensor([0]), mode="max",
                        scale_grad_by_freq=True)


@pytest.mark.parametrize("kw", [dict(max_norm=1.0), dict(max_norm=0.5, norm_type=1.0),
                                dict(scale_grad_by_freq=True),
                                dict(scale_grad_by_freq=True, padding_idx=2),
                                dict(sparse=True)], ids=str)
def test_embedding_options(backend, rng, kw):
    idx = np.array([[1, 4, 4], [0, 1, 4]], dtype=np.int64)
    tl_mod, th_mod = compare_module(lambda nn: nn.Embedding(6, 3, **kw), [idx], F64, rng,
                                    int_inputs=(0,))
    assert_close(tl_mod.weight, th_mod.weight, what="weight after forward", **FWD_TOL[F64])
