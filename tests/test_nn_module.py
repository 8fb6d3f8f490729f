"""tensorlite.nn.Module, Parameter and the containers, against torch.nn's behaviour."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn as nn
from helpers import to_np


def tl_of(arr, **kw):
    return tl.tensor(arr, device=tl.get_backend().device, **kw)


class Block(nn.Module):
    """A linear layer, a BatchNorm and a non-persistent buffer, in either library."""

    def __init__(self, lib=nn):
        super().__init__()
        self.fc = lib.Linear(3, 4)
        self.bn = lib.BatchNorm1d(4)
        self.register_buffer("scratch", lib.Linear(1, 1).weight.detach() * 0,
                             persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)).relu()


class TorchBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.bn = torch.nn.BatchNorm1d(4)
        self.register_buffer("scratch", torch.zeros(1, 1), persistent=False)

    def forward(self, x):
        return self.bn(self.fc(x)).relu()


def make_net(lib, block):
    return lib.Sequential(lib.Linear(2, 3), block, lib.Dropout(0.1), lib.Linear(4, 2))


def snapshot(module):
    """Every parameter and buffer as a NumPy copy, with the identity of the objects."""
    sd = module.state_dict(keep_vars=True)
    return {k: (id(v), v.dtype, to_np(v).copy()) for k, v in sd.items()}


def assert_unchanged(module, snap):
    now = snapshot(module)
    assert list(now) == list(snap)
    for k, (ident, dtype, arr) in snap.items():
        assert now[k][0] == ident and now[k][1] == dtype, f"{k} was replaced"
        assert np.array_equal(now[k][2], arr), f"{k} changed"
        assert now[k][2].tobytes() == arr.tobytes(), f"{k} is not bit-identical"


# ----------------------------------------------------------------------------- Parameter
def test_parameter_shares_data_and_is_leaf(backend):
    t = tl.zeros(2, 3, device=backend.device)
    p = nn.Parameter(t)
    assert isinstance(p, tl.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    t[0, 0] = 5.0
    assert to_np(p)[0, 0] == 5.0, "Parameter(t) must share t's storage"
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert "requires_grad=True" in repr(p)
    y = p * 2  # ops on parameters give plain tensors
    assert type(y) is tl.Tensor and y.grad_fn is not None
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(tl.tensor([1, 2], device=backend.device))
    assert nn.Parameter().shape == (0,)


def test_parameter_deepcopy_and_pickle(backend):
    p = nn.Parameter(tl.randn(3, device=backend.device))
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q is not p and q.requires_grad
    assert np.array_equal(to_np(q), to_np(p))
    q.detach()[0] = 100.0
    assert to_np(p)[0] != 100.0, "deepcopy must not share storage"
    if backend.device == "cpu":
        r = pickle.loads(pickle.dumps(p))
        assert type(r) is nn.Parameter and np.array_equal(to_np(r), to_np(p))


# ----------------------------------------------------------------------------- registration
def test_registration_and_traversal(backend):
    net = make_net(nn, Block())
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.fc.weight", "1.fc.bias", "1.bn.weight",
                     "1.bn.bias", "3.weight", "3.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "1.scratch", "1.bn.running_mean", "1.bn.running_var", "1.bn.num_batches_tracked"]
    assert len(list(net.parameters())) == 8 and len(list(net.buffers())) == 4
    assert list(net[1].parameters(recurse=False)) == []
    assert [n for n, _ in net[1].named_parameters(recurse=False)] == []
    assert [n for n, _ in net[1].bn.named_parameters(prefix="bn")] == ["bn.weight", "bn.bias"]
    assert [n for n, _ in net.named_children()] == ["0", "1", "2", "3"]
    assert list(net.children())[1] is net[1]
    assert [n for n, _ in net.named_modules()] == ["", "0", "1", "1.fc", "1.bn", "2", "3"]
    assert len(list(net.modules())) == 7
    assert net.get_submodule("1.bn") is net[1].bn
    assert net.get_parameter("1.fc.bias") is net[1].fc.bias
    assert net.get_buffer("1.bn.running_var") is net[1].bn.running_var
    # the same names and order as torch
    th = make_net(torch.nn, TorchBlock())
    assert names == [n for n, _ in th.named_parameters()]
    assert [n for n, _ in net.named_buffers()] == [n for n, _ in th.named_buffers()]
    assert [n for n, _ in net.named_modules()] == [n for n, _ in th.named_modules()]


def test_get_submodule_parameter_and_buffer_by_dotted_name():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert model.get_submodule("1") is model[1]
    assert model.get_parameter("0.weight") is model[0].weight
    assert model.get_buffer("1.running_mean") is model[1].running_mean
    for getter, target, words in ((model.get_parameter, "0.running_mean", "no parameter"),
                                  (model.get_buffer, "0.weight", "no buffer"),
                                  (model.get_parameter, "2.weight", "no submodule '2'")):
        with pytest.raises(AttributeError, match=words):
            getter(target)


def test_shared_parameters_and_modules_come_once(backend):
    lin = nn.Linear(2, 2)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(net.parameters())) == 2
    assert len(list(net.modules())) == 3
    assert [n for n, _ in net.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_setattr_rules(backend):
    m = nn.Module()
    m.w = nn.Parameter(tl.ones(2, device=backend.device))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("buf", tl.zeros(2, device=backend.device))
    m.plain = 3
    assert set(m._parameters) == {"w"} and set(m._modules) == {"sub"}
    assert set(m._buffers) == {"buf"} and m.plain == 3
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'w'"):
        m.w = tl.ones(2, device=backend.device)  # a plain tensor is no Parameter
    m.w = None
    assert m.w is None and list(m.parameters()) == list(m.sub.parameters())
    with pytest.raises(TypeError, match="child module 'sub'"):
        m.sub = 5
    m.buf = tl.ones(3, device=backend.device)  # a buffer may be replaced by any tensor
    assert m.buf.shape == (3,)
    with pytest.raises(TypeError, match="buffer 'buf'"):
        m.buf = 1.0
    m.sub = nn.Parameter(tl.ones(1, device=backend.device))  # re-registered as a parameter
    assert "sub" in m._parameters and "sub" not in m._modules
    del m.sub
    assert "sub" not in m._parameters
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        m.nothing
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", tl.zeros(1))
    with pytest.raises(KeyError, match="must not contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("q", tl.zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(NotImplementedError, match="forward"):
        m(1)


def test_assign_before_init_fails():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tl.zeros(1))
    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Bad()


def test_custom_module_forward_and_backward(backend):
    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(tl.tensor([2.0], device=backend.device))
            self.inner = nn.Linear(3, 1)

        def forward(self, x):
            return self.inner(x) * self.scale

    m = Affine()
    x = tl.randn(4, 3, device=backend.device)
    m(x).sum().backward()
    expected = to_np(m.inner(x).detach().sum())
    np.testing.assert_allclose(to_np(m.scale.grad), [expected], rtol=1e-5)
    assert all(p.grad is not None for p in m.parameters())


# ----------------------------------------------------------------------------- state_dict
def test_state_dict_keys_match_torch(backend):
    net, th = make_net(nn, Block()), make_net(torch.nn, TorchBlock())
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == list(th.state_dict())
    assert "1.scratch" not in sd, "non-persistent buffers are not saved"
    assert "1.bn.num_batches_tracked" in sd and sd["1.bn.num_batches_tracked"].dtype == tl.int64
    for k, v in sd.items():
        assert type(v) is tl.Tensor and not v.requires_grad and v.grad_fn is None, k
    # detached views of the live tensors, as torch
    sd["0.bias"][0] = 42.0
    assert to_np(net[0].bias)[0] == 42.0
    assert net.state_dict(keep_vars=True)["0.weight"] is net[0].weight


def test_state_dict_round_trip(backend):
    a, b = make_net(nn, Block()), make_net(nn, Block())
    a.train()
    a(tl.randn(5, 2, device=backend.device))  # move a's running statistics
    assert int(a[1].bn.num_batches_tracked.item()) == 1
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(to_np(va), to_np(vb)), ka
    a.eval(), b.eval()
    x = tl.randn(3, 2, device=backend.device)
    assert np.array_equal(to_np(a(x)), to_np(b(x)))
    # loading copies: b's tensors do not alias a's
    with tl.no_grad():
        a[0].weight.add_(1.0)
    assert not np.array_equal(to_np(a[0].weight), to_np(b[0].weight))


def test_load_torch_state_dict_gives_torch_outputs(backend):
    th = make_net(torch.nn, TorchBlock()).double().eval()
    net = make_net(nn, Block()).double().eval()
    with torch.no_grad():
        th[1].bn.running_mean.normal_()
        th[1].bn.running_var.uniform_(0.5, 2)
    net.load_state_dict({k: tl_of(v.numpy()) for k, v in th.state_dict().items()})
    x = np.random.standard_normal((4, 2))
    np.testing.assert_allclose(to_np(net(tl_of(x))), th(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


def _bad(net, **edits):
    sd = OrderedDict((k, v.clone()) for k, v in net.state_dict().items())
    for k, v in edits.items():
        k = k.replace("__", ".")
        if v is None:
            del sd[k]
        else:
            sd[k] = v
    return sd


def test_load_state_dict_missing_key(backend):
    net = make_net(nn, Block())
    sd = _bad(net, **{"3__bias": None, "1__bn__running_var": None})
    for k in sd:  # every valid entry differs, so a partial copy would show
        if sd[k].dtype == tl.float32:
            sd[k] = sd[k] + 1.0
    snap = snapshot(net)
    with pytest.raises(RuntimeError, match="Missing key") as e:
        net.load_state_dict(sd)
    assert '"3.bias"' in str(e.value) and '"1.bn.running_var"' in str(e.value)
    assert_unchanged(net, snap)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["1.bn.running_var", "3.bias"]
    assert result.unexpected_keys == []
    assert np.array_equal(to_np(net[0].weight), to_np(sd["0.weight"]))


def test_load_state_dict_unexpected_key(backend):
    net = make_net(nn, Block())
    sd = _bad(net, extra=tl.zeros(2, device=backend.device), **{"1__fc__foo": tl.zeros(1)})
    sd["0.weight"] = sd["0.weight"] * 3
    snap = snapshot(net)
    with pytest.raises(RuntimeError, match="Unexpected key") as e:
        net.load_state_dict(sd)
    assert '"extra"' in str(e.value) and '"1.fc.foo"' in str(e.value)
    assert "Missing" not in str(e.value)
    assert_unchanged(net, snap)
    result = net.load_state_dict(sd, strict=False)
    assert result.unexpected_keys == ["extra", "1.fc.foo"] and result.missing_keys == []
    assert np.array_equal(to_np(net[0].weight), to_np(sd["0.weight"]))


def test_load_state_dict_wrong_shape_and_dtype(backend):
    net = make_net(nn, Block())
    sd = _bad(net, **{"1__fc__weight": tl.zeros(3, 3, device=backend.device),
                      "3__bias": tl.zeros(2, dtype=tl.float64, device=backend.device)})
    sd["0.weight"] = sd["0.weight"] + 1.0  # valid, and placed before the bad entries
    snap = snapshot(net)
    for strict in (True, False):  # a wrong shape is an error even when not strict
        with pytest.raises(RuntimeError) as e:
            net.load_state_dict(sd, strict=strict)
        msg = str(e.value)
        assert "size mismatch for 1.fc.weight" in msg
        assert "[3, 3]" in msg and "[4, 3]" in msg, "both shapes must be named"
        # a float64 entry is no error: as torch, it is cast into the float32 parameter
        # (tests/test_nn_state_dict.py); the shape error above still changes nothing
        assert "3.bias" not in msg
        assert msg.startswith("Error(s) in loading state_dict for Sequential")
        assert_unchanged(net, snap)


def test_load_state_dict_all_errors_at_once(backend):
    net = make_net(nn, Block())
    sd = _bad(net, **{"0__bias": None, "0__weight": tl.zeros(1, device=backend.device)},
              junk=tl.zeros(1, device=backend.device))
    snap = snapshot(net)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert '"0.bias"' in msg and '"junk"' in msg and "size mismatch for 0.weight" in msg
    assert_unchanged(net, snap)
    with pytest.raises(TypeError, match="dict"):
        net.load_state_dict([1, 2])


def test_load_state_dict_matches_torch_error_cases():
    """torch raises for the same three cases (missing, unexpected, wrong shape)."""
    th = torch.nn.Linear(2, 3)
    sd = th.state_dict()
    for bad in ({"weight": sd["weight"]}, {**sd, "x": sd["bias"]},
                {"weight": torch.zeros(3, 3), "bias": sd["bias"]}):
        with pytest.raises(RuntimeError):
            th.load_state_dict(bad)
        with pytest.raises(RuntimeError):
            nn.Linear(2, 3).load_state_dict({k: tl.tensor(v.numpy()) for k, v in bad.items()})


# ----------------------------------------------------------------------------- modes and grads
def test_train_eval_propagate(backend):
    net = make_net(nn, Block())
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    x = tl.randn(6, 2, device=backend.device)
    np.testing.assert_array_equal(to_np(net(x)), to_np(net(x)))  # deterministic in eval
    assert int(net[1].bn.num_batches_tracked.item()) == 0
    net.train()
    assert all(m.training for m in net.modules())
    net(x)
    assert int(net[1].bn.num_batches_tracked.item()) == 1
    net[1].train(False)
    assert net.training and not net[1].training and not net[1].bn.training
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_zero_grad(backend):
    net = make_net(nn, Block())
    net(tl.randn(4, 2, device=backend.device)).sum().backward()
    params = list(net.parameters())
    assert all(p.grad is not None for p in params)
    grads = [p.grad for p in params]
    net.zero_grad(set_to_none=False)
    for p, g in zip(params, grads):
        assert p.grad is g and not np.any(to_np(p.grad))
    net(tl.randn(4, 2, device=backend.device)).sum().backward()
    net.zero_grad()
    assert all(p.grad is None for p in params)


def test_requires_grad_and_apply(backend):
    net = make_net(nn, Block())
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Linear", "BatchNorm1d", "Block", "Dropout", "Linear", "Sequential"]

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
    net.apply(init_linear)
    assert not np.any(to_np(net[3].bias)) and not np.any(to_np(net[1].fc.bias))


def test_to_dtype_keeps_parameter_identity(backend):
    net = make_net(nn, Block())
    net(tl.randn(4, 2, device=backend.device)).sum().backward()
    params = list(net.parameters())
    before = [to_np(p).copy() for p in params]
    assert net.to(tl.float64) is net
    after = list(net.parameters())
    assert all(a is b for a, b in zip(params, after)), "the same Parameter objects"
    for p, old in zip(after, before):
        assert type(p) is nn.Parameter and p.dtype == tl.float64 and p.requires_grad
        np.testing.assert_array_equal(to_np(p), old.astype(np.float64))
        assert p.grad.dtype == tl.float64
    assert net[1].bn.running_mean.dtype == tl.float64
    assert net[1].bn.num_batches_tracked.dtype == tl.int64, "integer buffers keep their dtype"
    out = net(tl.randn(4, 2, dtype=tl.float64, device=backend.device))
    assert out.dtype == tl.float64
    net.float()
    assert net[0].weight.dtype == tl.float32 and net[0].weight is params[0]
    net.to(backend.device)
    assert net[0].weight.device == backend.device and net[0].weight is params[0]
    net.to(device=backend.device, dtype=tl.float64)
    assert net[3].bias.dtype == tl.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(tl.int64)


def test_deepcopy_and_pickle_module(backend):
    net = make_net(nn, Block()).eval()
    twin = copy.deepcopy(net)
    x = tl.randn(3, 2, device=backend.device)
    np.testing.assert_array_equal(to_np(net(x)), to_np(twin(x)))
    assert twin[0].weight is not net[0].weight
    assert isinstance(twin[0].weight, nn.Parameter)
    with tl.no_grad():
        twin[0].weight.add_(1.0)
    assert not np.array_equal(to_np(net[0].weight), to_np(twin[0].weight))
    if backend.device == "cpu":
        back = pickle.loads(pickle.dumps(net))
        np.testing.assert_array_equal(to_np(net(x)), to_np(back(x)))


# ----------------------------------------------------------------------------- containers
def test_sequential(backend):
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    x = tl.randn(4, 2, device=backend.device)
    np.testing.assert_array_equal(to_np(s(x)), to_np(c(b(a(x)))))
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    head = s[:2]
    assert type(head) is nn.Sequential and list(head) == [a, b] and head[0] is a
    assert list(s[::-1]) == [c, b, a]
    with pytest.raises(IndexError, match="out of range"):
        s[3]
    s.append(nn.Sigmoid())
    assert len(s) == 4 and [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]
    del s[1]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2"] and s[1] is c
    s[2] = nn.Tanh()
    assert isinstance(s[2], nn.Tanh)
    s.insert(1, nn.Identity())
    assert isinstance(s[1], nn.Identity) and s[2] is c
    s.extend(nn.Sequential(nn.ReLU()))
    assert len(s) == 5
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]
    assert len(nn.Sequential(a) + nn.Sequential(c)) == 2
    assert nn.Sequential()(x) is x


def test_module_list(backend):
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert len(layers) == 5 and isinstance(layers[-1], nn.Tanh)
    assert type(layers[1:3]) is nn.ModuleList and len(layers[1:3]) == 2
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity) and len(list(layers.parameters())) == 4
    del layers[0]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3"]
    layers.insert(0, nn.Sigmoid())
    assert isinstance(layers[0], nn.Sigmoid) and len(layers) == 5
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(nn.ReLU())
    with pytest.raises(NotImplementedError):
        layers(tl.zeros(1))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

        def forward(self, x):
            for blk in self.blocks:
                x = blk(x)
            return x
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]
    assert net(tl.randn(3, 2, device=backend.device)).shape == (3, 2)


def test_module_dict(backend):
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    assert list(d.keys()) == ["enc", "act"] and "enc" in d and len(d) == 2
    assert list(d) == ["enc", "act"] and isinstance(d["enc"], nn.Linear)
    d["dec"] = nn.Linear(3, 2)
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight",
                                                     "dec.bias"]
    d.update([("out", nn.Sigmoid())])
    assert list(d) == ["enc", "act", "dec", "out"]
    assert isinstance(d.pop("act"), nn.ReLU) and "act" not in d
    del d["out"]
    assert [k for k, _ in d.items()] == ["enc", "dec"] and len(list(d.values())) == 2
    d.clear()
    assert len(d) == 0


def _same_entries(ours, theirs):
    """Two containers' entries agree: keys (state_dict, named_parameters), kinds and values."""
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        np.testing.assert_array_equal(to_np(a), b.numpy())


def _params(lib, *arrays, plain=()):
    """Parameters of ``arrays`` (plain tensors at the positions in ``plain``) in ``lib``."""
    make = (lambda a: tl_of(a)) if lib is nn else torch.from_numpy
    return [make(a) if i in plain else lib.Parameter(make(a)) for i, a in enumerate(arrays)]


def test_parameter_list(backend):
    a, b, c = np.arange(6.0).reshape(2, 3), np.ones(2), np.full((1,), 7.0)
    made = {}
    for lib in (nn, torch.nn):
        pa, pb, pc = _params(lib, a, b, c, plain=(1,))
        pl = lib.ParameterList([pa, pb])
        assert pl[0] is pa and isinstance(pl[1], lib.Parameter), "a tensor becomes a Parameter"
        assert pl[1].requires_grad and len(pl) == 2
        assert pl.append(pc) is pl and pl[-1] is pc and list(pl) == [pl[0], pl[1], pc]
        pl += [_params(lib, b)[0]]
        pl.extend(["not a tensor"])
        assert pl[4] == "not a tensor" and len(pl) == 5
        assert type(pl[1:3]) is lib.ParameterList and list(pl[1:3]) == [pl[1], pl[2]]
        pl[3] = _params(lib, b, plain=(0,))[0]
        assert isinstance(pl[3], lib.Parameter)
        with pytest.raises(IndexError, match="index 5 is out of range"):
            pl[5]
        with pytest.raises(TypeError, match="ParameterList.extend should be called with an "
                                            "iterable, but got int"):
            pl.extend(3)
        with pytest.raises(RuntimeError, match="ParameterList should not be called"):
            pl(1)
        assert "0" not in dir(pl)
        made[lib] = pl
    _same_entries(made[nn], made[torch.nn])
    ours, theirs = repr(made[nn]), repr(made[torch.nn])
    assert ours == theirs.replace("torch.", "tensorlite."), f"\n{ours}\n!=\n{theirs}"


def test_parameter_list_inside_a_module(backend):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList(nn.Parameter(tl.randn(2, 2, device=backend.device))
                                       for _ in range(3))

        def forward(self, x):
            for w in self.ws:
                x = x @ w
            return x
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["ws.0", "ws.1", "ws.2"]
    net(tl.randn(4, 2, device=backend.device)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.double()
    assert all(p.dtype == tl.float64 for p in net.ws)
    twin = Net()
    twin.load_state_dict(net.state_dict())
    for p, q in zip(net.ws, twin.ws):
        np.testing.assert_array_equal(to_np(p), to_np(q))
        assert q.dtype == tl.float32


def test_parameter_dict(backend):
    a, b, c = np.arange(6.0).reshape(2, 3), np.ones(2), np.full((1,), 7.0)
    made = {}
    for lib in (nn, torch.nn):
        pa, pb, pc = _params(lib, a, b, c, plain=(2,))
        pd = lib.ParameterDict({"zeta": pa, "alpha": pb})  # a plain dict: sorted, as torch
        assert list(pd) == ["alpha", "zeta"] and list(pd.keys()) == ["alpha", "zeta"]
        pd["mid"] = pc
        assert isinstance(pd["mid"], lib.Parameter) and "mid" in pd and len(pd) == 3
        pd.update(OrderedDict([("y", pb), ("x", pa)]))  # ordered: kept
        pd.update([("pair", pa)])
        assert list(pd) == ["alpha", "zeta", "mid", "y", "x", "pair"]
        assert [k for k, _ in pd.items()] == list(pd) and list(pd.values())[0] is pb
        assert pd.pop("y") is pb and "y" not in pd
        assert pd.popitem()[0] == "pair"
        assert pd.get("nope", 5) == 5 and pd.setdefault("obj", "text") == "text"
        del pd["obj"]
        assert list(reversed(pd)) == ["x", "mid", "zeta", "alpha"]
        merged = pd | lib.ParameterDict({"extra": pb})
        assert list(merged) == ["alpha", "zeta", "mid", "x", "extra"] and list(pd)[-1] == "x"
        copy_ = pd.copy()
        assert list(copy_) == list(pd) and copy_["x"] is pd["x"]
        assert list(pd.fromkeys(["k1", "k2"])) == ["k1", "k2"]
        with pytest.raises(TypeError, match="not a string"):
            pd[3]
        with pytest.raises(TypeError, match="should be called with an iterable"):
            pd.update(3)
        with pytest.raises(ValueError, match="has length 3; 2 is required"):
            pd.update([("a", pa, 1)])
        with pytest.raises(RuntimeError, match="ParameterDict should not be called"):
            pd(1)
        made[lib] = pd
    _same_entries(made[nn], made[torch.nn])
    ours, theirs = repr(made[nn]), repr(made[torch.nn])
    assert ours == theirs.replace("torch.DoubleTensor", "tensorlite.float64"), \
        f"\n{ours}\n!=\n{theirs}"
    made[nn].clear()
    assert len(made[nn]) == 0 and list(made[nn].parameters()) == []


# ----------------------------------------------------------------------------- repr
def _all_layers(lib):
    return lib.Sequential(OrderedDict([
        ("fc", lib.Linear(4, 8)), ("fc_nobias", lib.Linear(8, 8, bias=False)),
        ("relu", lib.ReLU()), ("relu_inplace", lib.ReLU(inplace=True)),
        ("bn", lib.BatchNorm1d(8)), ("bn2", lib.BatchNorm2d(3, momentum=None, affine=False)),
        ("ln", lib.LayerNorm(8)), ("ln2", lib.LayerNorm((2, 3), elementwise_affine=False)),
        ("drop", lib.Dropout(0.25)), ("emb", lib.Embedding(10, 4, padding_idx=0)),
        ("emb2", lib.Embedding(5, 2)), ("gelu", lib.GELU()), ("gelu_t", lib.GELU("tanh")),
        ("leaky", lib.LeakyReLU(0.2)), ("softplus", lib.Softplus(beta=2)),
        ("softmax", lib.Softmax(dim=1)), ("logsoftmax", lib.LogSoftmax(dim=-1)),
        ("sig", lib.Sigmoid()), ("tanh", lib.Tanh()), ("flat", lib.Flatten()),
        ("id", lib.Identity()),
        ("blocks", lib.ModuleList([lib.Linear(2, 2), lib.Linear(2, 2), lib.ReLU()])),
        ("heads", lib.ModuleDict({"a": lib.Linear(1, 1)})),
        ("empty", lib.ModuleList()),
    ]))


def test_repr_matches_torch():
    ours, theirs = repr(_all_layers(nn)), repr(_all_layers(torch.nn))
    assert ours == theirs, f"\n{ours}\n!=\n{theirs}"
    assert "(0-1): 2 x Linear(in_features=2, out_features=2, bias=True)" in ours
    assert repr(nn.Module()) == "Module()"
