"""tensorlite.nn.init against torch.nn.init, on every backend: trunc_normal_, orthogonal_,
sparse_, eye_, dirac_, calculate_gain, and generator= on every sampler (the same seed gives the
same values; samples are tensorlite's stream, not torch's numbers, so distributions are compared
by their statistics)."""
import math

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import to_np

I, TI = tl.nn.init, torch.nn.init


def _truncated_normal_moments(mean, std, a, b):
    pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    al, be = (a - mean) / std, (b - mean) / std
    Z = cdf(be) - cdf(al)
    m = (pdf(al) - pdf(be)) / Z
    var = 1 + (al * pdf(al) - be * pdf(be)) / Z - m * m
    return mean + std * m, std * math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 3.0),
                                          (0.0, 1.0, 2.0, 5.0), (0.0, 0.02, -0.04, 0.04)],
                         ids=["default", "shifted", "tail", "small"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trunc_normal_statistics(backend, mean, std, a, b, dtype):
    """Against the truncated normal's mean and std, as torch's draws (torch's own rejection
    takes seconds on the far 'tail' interval, so it is sampled on the others only)."""
    t = I.trunc_normal_(tl.empty(200, 300, dtype=getattr(tl, dtype)), mean, std, a, b)
    v = to_np(t)
    assert v.dtype == np.dtype(dtype)
    assert v.min() >= a and v.max() <= b
    mu, sd = _truncated_normal_moments(mean, std, a, b)
    np.testing.assert_allclose(v.mean(), mu, atol=0.02 * sd)
    np.testing.assert_allclose(v.std(), sd, rtol=0.02)
    if b - a > 0.1 * std and a < mean < b:
        e = TI.trunc_normal_(torch.empty(200, 300, dtype=getattr(torch, dtype)), mean, std, a, b)
        np.testing.assert_allclose(e.numpy().std(), sd, rtol=0.02)  # (the reference itself)


def test_trunc_normal_warns_far_from_the_interval():
    with pytest.warns(UserWarning, match="more than 2 std"):
        I.trunc_normal_(tl.empty(10), mean=10.0, std=1.0, a=-2.0, b=2.0)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 3, 2), (8, 8)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_(backend, shape, gain):
    t = to_np(I.orthogonal_(tl.empty(*shape, dtype=tl.float64), gain=gain))
    m = t.reshape(shape[0], -1)
    rows, cols = m.shape
    gram = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-10)
    e = TI.orthogonal_(torch.empty(*shape, dtype=torch.float64), gain=gain).numpy()
    np.testing.assert_allclose(np.abs(m).sum(), np.abs(e.reshape(rows, -1)).sum(), rtol=0.5)


def test_orthogonal_statistics_and_errors():
    tl.manual_seed(1)
    v = to_np(I.orthogonal_(tl.empty(256, 256)))
    e = TI.orthogonal_(torch.empty(256, 256)).numpy()
    np.testing.assert_allclose(v.std(), e.std(), rtol=0.02)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        I.orthogonal_(tl.empty(3))
    assert I.orthogonal_(tl.empty(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.9])
def test_sparse_(backend, sparsity):
    t = to_np(I.sparse_(tl.empty(20, 30), sparsity, std=0.5))
    e = TI.sparse_(torch.empty(20, 30), sparsity, std=0.5).numpy()
    zeros = (t == 0).sum(0)
    np.testing.assert_array_equal(zeros, (e == 0).sum(0))  # ceil(sparsity * rows) per column
    assert np.all(zeros == math.ceil(sparsity * 20))
    nz = t[t != 0]
    np.testing.assert_allclose(nz.std(), 0.5, rtol=0.15)
    with pytest.raises(ValueError, match="2 dimensions"):
        I.sparse_(tl.empty(2, 3, 4), 0.5)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)], ids=str)
def test_eye_(backend, shape):
    t = I.eye_(tl.empty(*shape))
    np.testing.assert_array_equal(to_np(t), TI.eye_(torch.empty(*shape)).numpy())
    with pytest.raises(ValueError):
        I.eye_(tl.empty(2, 2, 2))


@pytest.mark.parametrize("shape,groups", [((4, 2, 3), 1), ((6, 4, 3, 3), 1), ((6, 4, 3, 3), 2),
                                          ((4, 4, 3, 3, 3), 2), ((2, 5, 4, 4), 1)], ids=str)
def test_dirac_(backend, shape, groups):
    t = I.dirac_(tl.empty(*shape).fill_(7.0), groups)
    np.testing.assert_array_equal(to_np(t), TI.dirac_(torch.empty(*shape), groups).numpy())


def test_dirac_preserves_the_input_through_a_convolution(backend, rng):
    w = I.dirac_(tl.empty(3, 3, 3, 3))
    x = tl.tensor(rng.standard_normal((1, 3, 5, 5)).astype(np.float32))
    y = tl.nn.functional.conv2d(x, w, padding=1)
    np.testing.assert_allclose(to_np(y), to_np(x), atol=1e-6)
    with pytest.raises(ValueError, match="divisible by groups"):
        I.dirac_(tl.empty(3, 2, 3), groups=2)
    with pytest.raises(ValueError, match="3, 4, or 5"):
        I.dirac_(tl.empty(3, 2))


@pytest.mark.parametrize("name,param", [("linear", None), ("conv1d", None), ("conv2d", None),
                                        ("conv3d", None), ("conv_transpose1d", None),
                                        ("conv_transpose2d", None), ("conv_transpose3d", None),
                                        ("sigmoid", None), ("tanh", None), ("relu", None),
                                        ("leaky_relu", None), ("leaky_relu", 0.2),
                                        ("leaky_relu", 1), ("selu", None)])
def test_calculate_gain(name, param):
    assert I.calculate_gain(name, param) == TI.calculate_gain(name, param)


def test_calculate_gain_errors():
    for lib in (I, TI):
        with pytest.raises(ValueError, match="Unsupported nonlinearity"):
            lib.calculate_gain("swish")
        with pytest.raises(ValueError, match="not a valid number"):
            lib.calculate_gain("leaky_relu", True)


SAMPLERS = [
    ("uniform_", lambda t, g: I.uniform_(t, -1, 2, generator=g)),
    ("normal_", lambda t, g: I.normal_(t, 1, 3, generator=g)),
    ("xavier_uniform_", lambda t, g: I.xavier_uniform_(t, generator=g)),
    ("xavier_normal_", lambda t, g: I.xavier_normal_(t, generator=g)),
    ("kaiming_uniform_", lambda t, g: I.kaiming_uniform_(t, generator=g)),
    ("kaiming_normal_", lambda t, g: I.kaiming_normal_(t, generator=g)),
    ("trunc_normal_", lambda t, g: I.trunc_normal_(t, generator=g)),
    ("trunc_normal_-tail", lambda t, g: I.trunc_normal_(t, 0, 1, 2, 4, generator=g)),
    ("orthogonal_", lambda t, g: I.orthogonal_(t, generator=g)),
    ("sparse_", lambda t, g: I.sparse_(t, 0.3, generator=g)),
]


@pytest.mark.parametrize("name,fill", SAMPLERS, ids=[s[0] for s in SAMPLERS])
def test_generator_gives_reproducible_draws(backend, name, fill):
    a = fill(tl.empty(8, 6), tl.Generator().manual_seed(123))
    b = fill(tl.empty(8, 6), tl.Generator().manual_seed(123))
    c = fill(tl.empty(8, 6), tl.Generator().manual_seed(124))
    np.testing.assert_array_equal(to_np(a), to_np(b))
    assert not np.array_equal(to_np(a), to_np(c))
    # the generator's stream, not the default one: drawing from it leaves the default alone
    tl.manual_seed(0)
    before = to_np(tl.rand(4))
    tl.manual_seed(0)
    fill(tl.empty(8, 6), tl.Generator().manual_seed(5))
    np.testing.assert_array_equal(to_np(tl.rand(4)), before)


def test_initializers_do_not_record_on_the_tape():
    w = tl.nn.Parameter(tl.empty(4, 4))
    for fill in (I.trunc_normal_, I.orthogonal_, I.eye_, lambda t: I.sparse_(t, 0.5)):
        out = fill(w)
        assert out is w and w.grad_fn is None and w.requires_grad
    d = tl.nn.Parameter(tl.empty(2, 2, 3))
    assert I.dirac_(d) is d and d.grad_fn is None
