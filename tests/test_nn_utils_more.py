"""tensorlite.nn.utils against torch.nn.utils: parameters_to_vector / vector_to_parameters,
clip_grad_*(foreach=...), the hook forms of weight_norm / spectral_norm, parametrize and
parametrizations.weight_norm / spectral_norm (values, gradients, state_dict keys, removal)."""
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite.nn import utils as U
from tensorlite.nn.utils import parametrizations as P
from tensorlite.nn.utils import parametrize


def N(t):
    if isinstance(t, np.ndarray):
        return t
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.detach())


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(N(a), N(b), rtol=tol, atol=tol)


def twins(kind, dtype=torch.float64):
    """A torch module and a tensorlite one with the same weights."""
    torch.manual_seed(0)
    if kind == "linear":
        t, m = torch.nn.Linear(5, 4), tl.nn.Linear(5, 4)
    elif kind == "conv":
        t, m = torch.nn.Conv2d(3, 4, 3), tl.nn.Conv2d(3, 4, 3)
    else:
        t, m = torch.nn.ConvTranspose2d(3, 4, 3), tl.nn.ConvTranspose2d(3, 4, 3)
    t = t.to(dtype)
    m = m.to(tl.float64 if dtype == torch.float64 else tl.float32)
    m.load_state_dict({k: tl.tensor(v.numpy()) for k, v in t.state_dict().items()})
    return t, m


def inputs(kind, dtype=np.float64):
    shape = (2, 5) if kind == "linear" else (2, 3, 6, 6)
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    return torch.tensor(x, requires_grad=True), tl.tensor(x, requires_grad=True)


def copy_state(t, m):
    m.load_state_dict({k: tl.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})


def check_step(t, m, kind, params):
    """One forward and backward with a random upstream gradient: outputs and the gradients of
    the input and of every named parameter agree."""
    xt, xm = inputs(kind)
    yt, ym = t(xt), m(xm)
    close(yt, ym)
    g = np.random.default_rng(2).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(g))
    ym.backward(tl.tensor(g))
    close(xt.grad, xm.grad)
    tp, mp = dict(t.named_parameters()), dict(m.named_parameters())
    assert sorted(tp) == sorted(mp) == sorted(params)
    for k in params:
        close(tp[k].grad, mp[k].grad)
        tp[k].grad = None
        mp[k].grad = None


# -- convert_parameters ------------------------------------------------------------------------
def test_parameters_to_vector_and_back():
    t, m = twins("conv")
    vt, vm = torch.nn.utils.parameters_to_vector(t.parameters()), \
        U.parameters_to_vector(m.parameters())
    close(vt, vm)
    assert vm.shape == (4 * 3 * 9 + 4,)
    (vm * tl.arange(vm.shape[0], dtype=tl.float64)).sum().backward()
    np.testing.assert_array_equal(N(m.bias.grad), np.arange(108, 112))
    new = tl.arange(112, dtype=tl.float64)
    U.vector_to_parameters(new, m.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(112, dtype=torch.float64), t.parameters())
    close(t.weight, m.weight)
    close(t.bias, m.bias)
    assert isinstance(m.weight, tl.nn.Parameter) and m.weight.requires_grad
    new[108] = -1.0  # the parameters are views of the vector, as in torch
    assert float(m.bias[0]) == -1.0
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        U.vector_to_parameters(np.zeros(112), m.parameters())


@pytest.mark.parametrize("foreach", [None, True, False])
def test_clip_grad_takes_foreach(foreach):
    t, m = twins("linear")
    xt, xm = inputs("linear")
    (t(xt) ** 2).sum().backward()
    (m(xm) ** 2).sum().backward()
    nt = torch.nn.utils.clip_grad_norm_(t.parameters(), 0.5, foreach=foreach)
    nm = U.clip_grad_norm_(m.parameters(), 0.5, foreach=foreach)
    close(nt, nm)
    close(t.weight.grad, m.weight.grad)
    torch.nn.utils.clip_grad_value_(t.parameters(), 0.01, foreach=foreach)
    U.clip_grad_value_(m.parameters(), 0.01, foreach=foreach)
    close(t.weight.grad, m.weight.grad)
    close(torch.nn.utils.get_total_norm([t.weight.grad], 1.0, foreach=foreach),
          U.get_total_norm([m.weight.grad], 1.0, foreach=foreach))
    m.weight.grad[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match="non-finite"):
        U.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True, foreach=foreach)


# -- weight_norm -------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,dim", [("linear", 0), ("linear", 1), ("linear", None),
                                      ("conv", 0), ("conv", 2), ("conv", -2)])
def test_weight_norm_hooks_as_torch(kind, dim, backend):
    t, m = twins(kind)
    with pytest.warns(FutureWarning):
        torch.nn.utils.weight_norm(t, dim=dim)
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        assert U.weight_norm(m, dim=dim) is m
    assert list(m.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        close(v, m.state_dict()[k])
    check_step(t, m, kind, ["bias", "weight_g", "weight_v"])
    with torch.no_grad():
        t.weight_g.mul_(2)
    with tl.no_grad():
        m.weight_g.mul_(2)
    check_step(t, m, kind, ["bias", "weight_g", "weight_v"])
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            U.weight_norm(m, dim=dim)
    torch.nn.utils.remove_weight_norm(t)
    U.remove_weight_norm(m)
    assert list(m.state_dict()) == list(t.state_dict())
    assert isinstance(m.weight, tl.nn.Parameter)
    check_step(t, m, kind, ["bias", "weight"])
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        U.remove_weight_norm(m)


@pytest.mark.parametrize("kind,dim", [("linear", 0), ("conv", 1), ("conv", None)])
def test_parametrizations_weight_norm_as_torch(kind, dim, backend):
    t, m = twins(kind)
    torch.nn.utils.parametrizations.weight_norm(t, dim=dim)
    P.weight_norm(m, dim=dim)
    assert type(m).__name__ == type(t).__name__ == f"Parametrized{type(t).__bases__[0].__name__}"
    assert list(m.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        close(v, m.state_dict()[k])
    close(t.weight, m.weight)
    params = ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    check_step(t, m, kind, params)
    twin = copy.deepcopy(m)  # a replica with its own parametrizations, as torch's
    assert type(twin) is type(m) and twin.parametrizations.weight is not m.parametrizations.weight
    close(twin.weight, m.weight)
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)
    # assigning the weight goes through right_inverse (g and v from the new value)
    w = np.random.default_rng(3).standard_normal(tuple(t.weight.shape))
    with torch.no_grad():
        t.weight = torch.tensor(w)
    m.weight = tl.tensor(w)
    for k, v in t.state_dict().items():
        close(v, m.state_dict()[k])
    check_step(t, m, kind, params)
    # a state_dict moves between the two
    copy_state(t, m)
    torch.nn.utils.parametrize.remove_parametrizations(t, "weight")
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is type(twins(kind)[1]) and not parametrize.is_parametrized(m)
    assert list(m.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    check_step(t, m, kind, ["bias", "weight"])


# -- spectral_norm -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_spectral_norm_hooks_as_torch(kind, backend):
    t, m = twins(kind)
    torch.nn.utils.spectral_norm(t)
    U.spectral_norm(m)
    assert list(m.state_dict()) == list(t.state_dict()) == ["bias", "weight_orig", "weight_u",
                                                            "weight_v"]
    assert m.weight_u.shape == t.weight_u.shape and m.weight_v.shape == t.weight_v.shape
    np.testing.assert_allclose(float(m.weight_u.norm()), 1.0, rtol=1e-12)
    copy_state(t, m)  # the same random start vectors
    for _ in range(3):  # one power iteration per training forward
        check_step(t, m, kind, ["bias", "weight_orig"])
        close(t.weight_u, m.weight_u, 1e-9)
        close(t.weight_v, m.weight_v, 1e-9)
    t.eval()
    m.eval()
    check_step(t, m, kind, ["bias", "weight_orig"])
    close(t.weight_u, m.weight_u, 1e-9)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        U.spectral_norm(m)
    torch.nn.utils.remove_spectral_norm(t)
    U.remove_spectral_norm(m)
    assert list(m.state_dict()) == list(t.state_dict())
    check_step(t, m, kind, ["bias", "weight"])
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
        U.spectral_norm(m, n_power_iterations=0)


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_parametrizations_spectral_norm_as_torch(kind, backend):
    t, m = twins(kind)
    torch.nn.utils.parametrizations.spectral_norm(t)
    P.spectral_norm(m)
    assert list(m.state_dict()) == list(t.state_dict())
    assert m.parametrizations.weight[0].dim == t.parametrizations.weight[0].dim
    copy_state(t, m)
    params = ["bias", "parametrizations.weight.original"]
    for _ in range(3):
        check_step(t, m, kind, params)
        for k, v in t.state_dict().items():
            close(v, m.state_dict()[k], 1e-9)
    t.eval()
    m.eval()
    check_step(t, m, kind, params)
    # the largest singular value of the parametrized weight is ~1 after a few iterations
    m.train()
    for _ in range(20):
        w = m.weight
    mat = N(w).reshape(N(w).shape[0], -1) if kind != "convT" else \
        np.moveaxis(N(w), 1, 0).reshape(N(w).shape[1], -1)
    np.testing.assert_allclose(np.linalg.svd(mat, compute_uv=False)[0], 1.0, rtol=1e-4)
    with pytest.raises(IndexError, match="Dimension out of range"):
        P.spectral_norm(tl.nn.Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
        P.spectral_norm(tl.nn.Linear(2, 2), name="w")


# -- parametrize -------------------------------------------------------------------------------
def make_symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    class Scale(lib.nn.Module):
        def forward(self, X):
            return 2 * X

        def right_inverse(self, X):
            return X / 2

    return Symmetric, Scale


def test_register_parametrization_chains_caches_and_removes():
    TS, TScale = make_symmetric(torch)
    MS, MScale = make_symmetric(tl)
    torch.manual_seed(0)
    t = torch.nn.Linear(5, 5).double()
    m = tl.nn.Linear(5, 5).to(tl.float64)
    copy_state(t, m)
    for lib_mod, mod, S, Sc in ((torch.nn.utils.parametrize, t, TS, TScale),
                                (parametrize, m, MS, MScale)):
        lib_mod.register_parametrization(mod, "weight", Sc())
        lib_mod.register_parametrization(mod, "weight", S())
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert parametrize.type_before_parametrizations(m) is tl.nn.Linear
    assert list(m.state_dict()) == list(t.state_dict())
    close(t.weight, m.weight)
    np.testing.assert_array_equal(N(m.weight), N(m.weight).T)
    check_step(t, m, "linear", ["bias", "parametrizations.weight.original"])
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    # assigning goes through every right_inverse, last to first (Symmetric has none)
    w = np.random.default_rng(5).standard_normal((5, 5))
    with pytest.raises(RuntimeError, match="Symmetric does not implement right_inverse"):
        with torch.no_grad():
            t.weight = torch.tensor(w)
    with pytest.raises(RuntimeError, match="Symmetric does not implement right_inverse"):
        m.weight = tl.tensor(w)
    torch.nn.utils.parametrize.register_parametrization(t, "bias", TScale())
    parametrize.register_parametrization(m, "bias", MScale())
    b = np.arange(5.0)
    with torch.no_grad():
        t.bias = torch.tensor(b)
    m.bias = tl.tensor(b)
    close(t.parametrizations.bias.original, m.parametrizations.bias.original)
    close(m.bias, b)
    close(m.parametrizations.bias.original, b / 2)
    assert list(m.state_dict()) == list(t.state_dict())
    check_step(t, m, "linear", ["parametrizations.bias.original",
                                "parametrizations.weight.original"])
    torch.nn.utils.parametrize.remove_parametrizations(t, "bias")
    parametrize.remove_parametrizations(m, "bias")
    assert parametrize.is_parametrized(m) and type(m).__name__ == "ParametrizedLinear"
    original = m.parametrizations.weight.original
    torch.nn.utils.parametrize.remove_parametrizations(t, "weight", leave_parametrized=False)
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is tl.nn.Linear and m.weight is original  # the same Parameter object
    close(t.weight, m.weight)
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(m, "weight")
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        parametrize.register_parametrization(m, "nothing", MS())

    class Shrink(tl.nn.Module):
        def forward(self, X):
            return X[:2]

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(m, "weight", Shrink())
    parametrize.register_parametrization(m, "weight", Shrink(), unsafe=True)
    assert m.weight.shape == (2, 5)
