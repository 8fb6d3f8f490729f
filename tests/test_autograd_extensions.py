"""The rest of PyTorch's autograd surface beside Function, against torch: grad_fn introspection
and node hooks, post-accumulate-grad hooks, inference_mode, the default dtype, tensorlite.device
and tensorlite.utils.data."""
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

import tensorlite as tl
from helpers import assert_close, to_np

TOL = dict(rtol=1e-10, atol=1e-12)


def pair(rng, *shape, requires_grad=True):
    """The same float64 values as a tensorlite tensor (on the backend's device) and a torch one."""
    x = rng.standard_normal(shape)
    return (tl.tensor(x, device=tl.get_backend().device, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


# ----------------------------------------------------------------------------- grad_fn
def _shape_of(fn, depth=3):
    """next_functions as nested kinds: 'leaf' (AccumulateGrad), None, or a node's inputs."""
    if fn is None:
        return None
    if hasattr(fn, "variable"):
        return "leaf"
    return tuple((_shape_of(f, depth - 1) if depth else "node", nr)
                 for f, nr in fn.next_functions)


def test_next_functions_have_torch_structure(backend, rng):
    (x, tx), (w, tw) = pair(rng, 3), pair(rng, 3)
    (c, tc) = pair(rng, 3, requires_grad=False)
    for build in (lambda lib, x, w, c: ((x * w + c).exp() * 2.0).sum(),
                  lambda lib, x, w, c: (x * c).tanh() - w.sum()):
        mine, theirs = build(tl, x, w, c), build(torch, tx, tw, tc)
        assert _shape_of(mine.grad_fn) == _shape_of(theirs.grad_fn)
    y = x * w
    (fx, nx), (fw, nw) = y.grad_fn.next_functions
    assert fx.variable is x and fw.variable is w and nx == nw == 0
    assert fx.next_functions == () and fx.name() == "AccumulateGrad"
    assert repr(fx).startswith("<AccumulateGrad")
    z = y.exp() * 3
    assert z.grad_fn.next_functions[0][0].next_functions[0][0] is y.grad_fn


def test_grad_fn_name_is_the_repr_name(backend, rng):
    x, tx = pair(rng, 3)
    for y, ty in ((x * 2, tx * 2), (x.exp(), tx.exp()), (x.sum(), tx.sum()), (x[1:], None),
                  (x.log_softmax(0), tx.log_softmax(0))):
        name = y.grad_fn.name()  # PyTorch's name where the op is PyTorch's last node too
        assert name.endswith("Backward0") and (ty is None or name == ty.grad_fn.name())
        assert f"grad_fn=<{name}>" in repr(y)
        assert repr(y.grad_fn) == f"<{name}>"


def test_neural_networks_tutorial_walks_the_graph_to_every_parameter(backend):
    """PyTorch's "Neural Networks" tutorial prints loss.grad_fn.next_functions[0][0]; following
    next_functions from the loss reaches each parameter, as AccumulateGrad.variable."""
    reached = {}
    for lib in (tl, torch):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.ReLU(), lib.nn.Linear(8, 2))
        if lib is tl:
            net = net.to(backend.device)
        x = lib.randn(5, 4, device=backend.device if lib is tl else "cpu")
        loss = lib.nn.functional.mse_loss(net(x), lib.zeros(5, 2, device=x.device))
        assert loss.grad_fn.next_functions[0][0] is not None
        leaves, stack = [], [loss.grad_fn]
        while stack:
            fn = stack.pop()
            for nxt, _ in fn.next_functions:
                if nxt is None:
                    continue
                if hasattr(nxt, "variable"):
                    leaves.append(nxt.variable)
                else:
                    stack.append(nxt)
        params = list(net.parameters())
        assert all(any(p is v for v in leaves) for p in params)
        reached[lib] = len({id(v) for v in leaves})
    assert reached[tl] == reached[torch] == 4


def test_node_prehook_and_hook_as_torch(backend, rng):
    (x, tx), (w, tw) = pair(rng, 3), pair(rng, 3)
    seen = {tl: [], torch: []}
    for lib, a, b in ((tl, x, w), (torch, tx, tw)):
        y = a * b
        z = y.exp()
        # copies: a gradient may become .grad and take the next backward's sum in place
        pre = y.grad_fn.register_prehook(
            lambda go, lib=lib: (seen[lib].append(to_np(go[0]).copy()), (go[0] * 3,))[1])
        post = y.grad_fn.register_hook(
            lambda gi, go, lib=lib: (seen[lib].append([to_np(g).copy() for g in gi + go]),
                                     (gi[0] * 2, gi[1]))[1])
        z.sum().backward(retain_graph=True)
        pre.remove(), post.remove()
        z.sum().backward()  # without the hooks: the plain gradient accumulates on top
    assert_close(x.grad, tx.grad, **TOL)
    assert_close(w.grad, tw.grad, **TOL)
    np.testing.assert_allclose(seen[tl][0], seen[torch][0], **TOL)
    for mine, theirs in zip(seen[tl][1], seen[torch][1]):
        np.testing.assert_allclose(mine, theirs, **TOL)
    assert len(seen[tl]) == len(seen[torch]) == 2


# ----------------------------------------------------------------------------- post-accumulate-grad hooks
def test_post_accumulate_grad_hook_sees_the_accumulated_grad(backend, rng):
    (x, tx), (w, tw) = pair(rng, 3), pair(rng, 3)
    seen = {tl: [], torch: []}
    for lib, a, b in ((tl, x, w), (torch, tx, tw)):
        handle = a.register_post_accumulate_grad_hook(
            lambda t, lib=lib: seen[lib].append(to_np(t.grad).copy()))
        for _ in range(2):
            (a * b).sum().backward()
        handle.remove()
        (a * b).sum().backward()
    assert len(seen[tl]) == len(seen[torch]) == 2
    for mine, theirs in zip(seen[tl], seen[torch]):
        np.testing.assert_allclose(mine, theirs, **TOL)
    assert_close(x.grad, tx.grad, **TOL)


def test_post_accumulate_grad_hook_steps_a_parameter_in_backward(backend, rng):
    """The use torch documents: an update per parameter as soon as its gradient is ready."""
    (x, tx), (w, tw) = pair(rng, 4), pair(rng, 4)

    def step(t):
        with (tl if isinstance(t, tl.Tensor) else torch).no_grad():
            t.sub_(0.1 * t.grad)
        t.grad = None

    for lib, a, b in ((tl, x, w), (torch, tx, tw)):
        a.register_post_accumulate_grad_hook(step)
        for _ in range(3):
            ((a * b).tanh() * a).sum().backward()
        assert a.grad is None
    assert_close(x.detach(), tx.detach(), **TOL)


def test_post_accumulate_grad_hook_errors_as_torch(backend, rng):
    (x, tx) = pair(rng, 3)
    (c, tc) = pair(rng, 3, requires_grad=False)
    for mine, theirs in ((x * 2, tx * 2), (c, tc)):
        with pytest.raises(RuntimeError):
            theirs.register_post_accumulate_grad_hook(lambda t: None)
        with pytest.raises(RuntimeError, match="register_post_accumulate_grad_hook"):
            mine.register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_grad_hook_leaves_gradient_hooks_alone(backend, rng):
    (x, tx) = pair(rng, 3)
    for lib, a in ((tl, x), (torch, tx)):
        a.register_hook(lambda g: g * 10)
        a.register_post_accumulate_grad_hook(lambda t: None)
        (a * a).sum().backward()
    assert_close(x.grad, tx.grad, **TOL)


# ----------------------------------------------------------------------------- inference_mode
def _modes(lib):
    return lib.is_grad_enabled(), lib.is_inference_mode_enabled()


def test_inference_mode_states_as_torch(backend, rng):
    (x, tx) = pair(rng, 3)
    states = {tl: [], torch: []}
    for lib, a in ((tl, x), (torch, tx)):
        s = states[lib]
        s.append(_modes(lib))
        with lib.inference_mode():
            s.append(_modes(lib))
            s.append((a * 2).requires_grad)
            with lib.inference_mode(False):
                s.append(_modes(lib))
            with lib.no_grad(), lib.inference_mode(mode=False):
                s.append(_modes(lib))
            s.append(_modes(lib))
        s.append(_modes(lib))

        @lib.inference_mode()
        def called(t):
            return (t * 2).requires_grad, _modes(lib)

        @lib.inference_mode
        def bare(t):
            return (t * 2).requires_grad, _modes(lib)
        s += [called(a), bare(a), _modes(lib)]
    assert states[tl] == states[torch]
    assert tl.autograd.grad_mode.inference_mode is tl.inference_mode
    assert tl.autograd.inference_mode is tl.inference_mode


def test_inference_mode_restores_on_exception_and_is_thread_local(backend):
    with pytest.raises(ValueError):
        with tl.inference_mode():
            raise ValueError
    assert _modes(tl) == (True, False)
    seen = []
    with tl.inference_mode():
        thread = threading.Thread(target=lambda: seen.append(_modes(tl)))
        thread.start()
        thread.join()
    assert seen == [(True, False)]


# ----------------------------------------------------------------------------- default dtype
@pytest.fixture
def default_dtype():
    """Set the default dtype in both libraries; restore float32 whatever happens."""
    def set_both(name):
        tl.set_default_dtype(getattr(tl, name))
        torch.set_default_dtype(getattr(torch, name))
    try:
        yield set_both
    finally:
        tl.set_default_dtype(tl.float32)
        torch.set_default_dtype(torch.float32)


FACTORIES = {
    "tensor_float": lambda lib, d: lib.tensor([1.5, 2.0], device=d),
    "tensor_scalar": lambda lib, d: lib.tensor(2.5, device=d),
    "tensor_mixed": lambda lib, d: lib.tensor([1, 2.5], device=d),
    "tensor_int": lambda lib, d: lib.tensor([1, 2], device=d),
    "tensor_of_float32_array": lambda lib, d: lib.tensor(np.ones(2, np.float32), device=d),
    "zeros": lambda lib, d: lib.zeros(2, 3, device=d),
    "ones": lambda lib, d: lib.ones((2,), device=d),
    "empty": lambda lib, d: lib.empty(2, device=d),
    "full_float": lambda lib, d: lib.full((2,), 1.5, device=d),
    "full_int": lambda lib, d: lib.full((2,), 3, device=d),
    "rand": lambda lib, d: lib.rand(3, device=d),
    "randn": lambda lib, d: lib.randn(3, device=d),
    "linspace": lambda lib, d: lib.linspace(0, 1, 5, device=d),
    "arange_float": lambda lib, d: lib.arange(0.5, 3, device=d),
    "arange_int": lambda lib, d: lib.arange(3, device=d),
    "eye": lambda lib, d: lib.eye(2, device=d),
    "zeros_like_int": lambda lib, d: lib.zeros_like(lib.tensor([1, 2], device=d)),
    "randint": lambda lib, d: lib.randint(0, 5, (3,), device=d),
    "int_times_float": lambda lib, d: lib.tensor([1, 2], device=d) * 1.5,
    "float32_times_float": lambda lib, d: lib.ones(2, dtype=lib.float32, device=d) * 1.5,
}


@pytest.mark.parametrize("name", ["float64", "float16", "float32"])
@pytest.mark.parametrize("factory", FACTORIES, ids=list(FACTORIES))
def test_factories_use_the_default_dtype_as_torch(backend, default_dtype, name, factory):
    default_dtype(name)
    mine, theirs = FACTORIES[factory](tl, backend.device), FACTORIES[factory](torch, "cpu")
    assert str(mine.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert tl.get_default_dtype() == getattr(tl, name)
    assert ("dtype=" in repr(mine)) == ("dtype=" in repr(theirs))


@pytest.mark.parametrize("make", [
    lambda lib: lib.nn.Linear(3, 2),
    lambda lib: lib.nn.Conv2d(2, 3, 3),
    lambda lib: lib.nn.LayerNorm(4),
    lambda lib: lib.nn.BatchNorm2d(3),
    lambda lib: lib.nn.Embedding(5, 2),
], ids=["Linear", "Conv2d", "LayerNorm", "BatchNorm2d", "Embedding"])
def test_layers_made_after_set_default_dtype_take_it(backend, default_dtype, make):
    default_dtype("float64")
    mine, theirs = make(tl), make(torch)
    dtypes = lambda m: {n: str(t.dtype).removeprefix("torch.")  # noqa: E731
                        for n, t in (*m.named_parameters(), *m.named_buffers())}
    assert dtypes(mine) == dtypes(theirs)
    assert "float64" in dtypes(mine).values()


@pytest.mark.parametrize("bad", ["int64", "int32", "bool"])
def test_set_default_dtype_takes_only_floating_types(default_dtype, bad):
    with pytest.raises(TypeError):
        torch.set_default_dtype(getattr(torch, bad))
    with pytest.raises(TypeError, match="only floating-point types"):
        tl.set_default_dtype(getattr(tl, bad))
    with pytest.raises(TypeError, match="only floating-point types"):
        tl.set_default_dtype(None)
    assert tl.get_default_dtype() == tl.float32


# ----------------------------------------------------------------------------- device
@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0)])
def test_device_as_torch(args):
    mine, theirs = tl.device(*args), torch.device(*args)
    assert (str(mine), repr(mine), mine.type, mine.index) == \
        (str(theirs), repr(theirs), theirs.type, theirs.index)


def test_device_goes_wherever_a_device_name_does(backend):
    t = tl.zeros(2, device=tl.device(backend.device))
    assert t.device == backend.device == tl.device(backend.device)
    assert t.to(tl.device("cpu")).device == "cpu"
    with pytest.raises(RuntimeError, match="abc"):
        tl.device("abc")


# ----------------------------------------------------------------------------- tensorlite.utils.data
PORTED = """
from torch.utils.data import DataLoader, TensorDataset, Dataset, random_split
import torch


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return torch.tensor([float(i)]), i * i


pairs = TensorDataset(torch.arange(10.0), torch.arange(10) ** 2)
batches = [(a.tolist(), b.tolist()) for a, b in DataLoader(pairs, batch_size=4)]
batches += [(a.tolist(), b.tolist()) for a, b in DataLoader(Squares(), batch_size=3)]
sizes = [len(s) for s in random_split(pairs, [0.7, 0.3])]
"""


def test_torch_data_code_ports_by_the_import_swap(backend):
    theirs, mine = {}, {}
    exec(PORTED, theirs)
    exec(PORTED.replace("torch", "tensorlite"), mine)
    assert mine["batches"] == theirs["batches"]
    assert mine["sizes"] == theirs["sizes"]


def test_data_is_the_same_package_as_utils_data():
    import tensorlite.data as old
    import tensorlite.utils.data as new
    from tensorlite.data import dataloader, dataset, sampler
    assert old is new is tl.data is tl.utils.data
    assert (dataloader, dataset, sampler) == (new.dataloader, new.dataset, new.sampler)
    assert old.DataLoader is new.dataloader.DataLoader


def test_data_submodules_are_shared_in_a_fresh_process():
    code = ("import tensorlite.data.sampler as a, tensorlite.utils.data.sampler as b; "
            "from tensorlite.data import RandomSampler; "
            "assert a is b and RandomSampler is b.RandomSampler, (a, b)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
