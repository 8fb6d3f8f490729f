"""Random sampling: Generator objects, generator=, the rng state, and every sampler's
distribution, shape, dtype and errors (value streams differ from torch's by design)."""
import numpy as np
import pytest
import torch

import tensorlite as tl

BACKENDS = ["numpy", "numba"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    with tl.use_backend(request.param):
        yield request.param


def test_generator_streams_are_independent_and_repeatable(backend):
    g = tl.Generator().manual_seed(7)
    a = tl.randn_like(tl.zeros(5), generator=g)
    tl.manual_seed(0)
    tl.rand(100)  # the default stream moving does not move g
    b = tl.randn_like(tl.zeros(5), generator=g)
    g.manual_seed(7)
    assert np.array_equal(tl.randn_like(tl.zeros(5), generator=g).numpy(), a.numpy())
    assert np.array_equal(tl.randn_like(tl.zeros(5), generator=g).numpy(), b.numpy())
    assert g.initial_seed() == 7


def test_one_seed_one_stream_on_numpy_and_numba():
    draws = []
    for name in BACKENDS:
        with tl.use_backend(name):
            g = tl.Generator().manual_seed(11)
            draws.append(tl.empty(6).normal_(generator=g).numpy())
    assert np.array_equal(*draws)


def test_state_round_trip(backend):
    g = tl.Generator().manual_seed(1)
    state = g.get_state()
    x = tl.empty(4).uniform_(generator=g)
    assert not np.array_equal(tl.empty(4).uniform_(generator=g).numpy(), x.numpy())
    g.set_state(state)
    assert np.array_equal(tl.empty(4).uniform_(generator=g).numpy(), x.numpy())
    s = tl.get_rng_state()
    y = tl.rand(3)
    tl.set_rng_state(s)
    assert np.array_equal(tl.rand(3).numpy(), y.numpy())


def test_default_generator_is_the_global_stream(backend):
    tl.default_generator.manual_seed(5)
    a = tl.rand(3)
    tl.manual_seed(5)
    assert np.array_equal(tl.rand(3).numpy(), a.numpy())
    assert tl.default_generator.initial_seed() == 5


def _moments(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(), x.std()


def test_distributions(backend):
    tl.manual_seed(0)
    n = 200_000
    m, s = _moments(tl.normal(2.0, 3.0, (n,)).numpy())
    assert abs(m - 2) < 0.05 and abs(s - 3) < 0.05
    m, s = _moments(tl.empty(n).uniform_(-1, 3).numpy())
    assert abs(m - 1) < 0.02 and abs(s - 4 / 12 ** 0.5) < 0.02
    m, _ = _moments(tl.empty(n).exponential_(2.0).numpy())
    assert abs(m - 0.5) < 0.01
    geo = tl.empty(n).geometric_(0.25).numpy()
    assert geo.min() == 1 and abs(geo.mean() - 4) < 0.05  # trials to the first success
    m, s = _moments(tl.poisson(tl.full((n,), 3.0)).numpy())
    assert abs(m - 3) < 0.03 and abs(s ** 2 - 3) < 0.05
    m, _ = _moments(tl.bernoulli(tl.full((n,), 0.3)).numpy())
    assert abs(m - 0.3) < 0.01
    m, _ = _moments(tl.empty(n).bernoulli_(0.7).numpy())
    assert abs(m - 0.7) < 0.01
    r = tl.empty(n, dtype=tl.int64).random_(3, 7).numpy()
    assert set(np.unique(r)) == {3, 4, 5, 6}


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial_frequencies(backend, replacement):
    tl.manual_seed(0)
    p = tl.tensor([1.0, 0.0, 3.0, 6.0])  # weights, not normalized
    draws = tl.multinomial(p.expand(50_000, 4), 1, replacement).numpy().ravel()
    freq = np.bincount(draws, minlength=4) / draws.size
    assert np.allclose(freq, [0.1, 0.0, 0.3, 0.6], atol=0.01)
    out = tl.multinomial(p, 3, replacement=False)
    assert out.dtype == tl.int64 and out.shape == (3,) and len(set(out.tolist())) == 3
    assert 1 not in out.tolist()  # a zero weight is never drawn without replacement


def test_shapes_and_dtypes_as_torch(backend):
    cases = [
        lambda lib: lib.bernoulli(lib.full((2, 3), 0.5, dtype=lib.float64)),
        lambda lib: lib.multinomial(lib.ones(2, 5), 3),
        lambda lib: lib.multinomial(lib.ones(5), 7, replacement=True),
        lambda lib: lib.poisson(lib.ones(4)),
        lambda lib: lib.normal(lib.zeros(2, 1), lib.ones(3)),
        lambda lib: lib.normal(lib.zeros(3, dtype=lib.float64), 2.0),
        lambda lib: lib.normal(0.0, 1.0, (2, 2)),
        lambda lib: lib.rand_like(lib.zeros(2, 3, dtype=lib.float64)),
        lambda lib: lib.randn_like(lib.zeros(2), dtype=lib.float64),
        lambda lib: lib.randint_like(lib.zeros(4), 10),
        lambda lib: lib.randint_like(lib.zeros(4, dtype=lib.int64), 3, 10),
        lambda lib: lib.empty(3, dtype=lib.int32).random_(),
        lambda lib: lib.empty(3).random_(5),
    ]
    for make in cases:
        ours, theirs = make(tl), make(torch)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]


@pytest.mark.parametrize("call", [
    lambda lib: lib.multinomial(lib.ones(3), 4),  # more than the categories, no replacement
    lambda lib: lib.multinomial(lib.tensor([1.0, -1.0]), 1),
    lambda lib: lib.multinomial(lib.zeros(3), 1),
    lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1),
    lambda lib: lib.bernoulli(lib.tensor([1.5])),
    lambda lib: lib.poisson(lib.tensor([-1.0])),
    lambda lib: lib.empty(3).exponential_(-1.0),
    lambda lib: lib.empty(3).geometric_(1.5),
    lambda lib: lib.empty(3).random_(5, 2),
    lambda lib: lib.normal(lib.zeros(2), -1.0),
])
def test_errors_as_torch(backend, call):
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError):
        call(tl)


def test_in_place_samplers_respect_autograd(backend):
    w = tl.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w.normal_()
    with tl.no_grad():
        w.normal_()  # as nn.init does
    assert w.requires_grad and w._version[0] == 1


def test_generator_device_must_match(backend):
    g = tl.Generator()
    g.device = "cuda"  # a stand-in: no GPU here
    with pytest.raises(RuntimeError, match="device type for generator"):
        tl.randn_like(tl.zeros(2), generator=g)
    with pytest.raises(TypeError, match="tensorlite.Generator"):
        tl.empty(2).normal_(generator=object())


def test_factories_take_a_generator(backend):
    g = tl.Generator().manual_seed(4)
    draws = [tl.rand(3, generator=g), tl.randn(2, 2, generator=g),
             tl.randint(0, 10, (5,), generator=g), tl.randperm(6, generator=g)]
    g.manual_seed(4)
    again = [tl.rand(3, generator=g), tl.randn(2, 2, generator=g),
             tl.randint(0, 10, (5,), generator=g), tl.randperm(6, generator=g)]
    for a, b in zip(draws, again):
        assert np.array_equal(a.numpy(), b.numpy())
    assert sorted(draws[3].tolist()) == list(range(6)) and draws[3].dtype == tl.int64
    # torch's keyword-only generator and argument order
    assert tl.randint(5, (3,), generator=g).shape == torch.randint(5, (3,)).shape
