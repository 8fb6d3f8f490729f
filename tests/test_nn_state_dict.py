"""Module.load_state_dict against torch's: copies cast to the module's dtypes, torch's missing
and unexpected keys and messages, assign=True, and nothing changed when anything is wrong."""
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tensorlite as tl
import tensorlite.nn as nn
from helpers import to_np


def tl_of(arr, **kw):
    return tl.tensor(arr, device=tl.get_backend().device, **kw)


def net(lib):
    return lib.Sequential(OrderedDict([
        ("a", lib.Linear(2, 3)),
        ("b", lib.Sequential(lib.Linear(3, 1), lib.BatchNorm1d(1))),
    ]))


def as_tl(sd):
    return OrderedDict((k, tl_of(v.numpy())) for k, v in sd.items())


def snapshot(module):
    return {k: (id(v), v.dtype, to_np(v).copy())
            for k, v in module.state_dict(keep_vars=True).items()}


def test_a_float64_checkpoint_loads_into_a_float32_model(backend):
    th, ours = net(torch.nn), net(nn)
    sd = OrderedDict((k, v.double() + 0.1 if v.is_floating_point() else v + 3)
                     for k, v in th.state_dict().items())
    sd["b.1.num_batches_tracked"] = torch.tensor(5.7, dtype=torch.float64)  # cast to int64
    before = {k: id(v) for k, v in ours.state_dict(keep_vars=True).items()}
    th.load_state_dict(sd)
    result = ours.load_state_dict(as_tl(sd))
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, got), want in zip(ours.state_dict(keep_vars=True).items(), th.state_dict().values()):
        assert id(got) == before[k], f"{k}: copied into the tensor already there"
        assert str(got.dtype) == str(want.dtype).removeprefix("torch."), k
        assert got.device == backend.device
        np.testing.assert_array_equal(to_np(got), want.numpy(), err_msg=k)
    assert isinstance(ours.a.weight, nn.Parameter) and ours.a.weight.requires_grad
    # and the other way: a float32 checkpoint into a float64 model
    ours64 = net(nn).double()
    ours64.load_state_dict(ours.state_dict())
    assert ours64.a.weight.dtype == tl.float64
    np.testing.assert_array_equal(to_np(ours64.a.weight), to_np(ours.a.weight).astype(np.float64))


def test_missing_and_unexpected_keys_as_torch(backend):
    th = net(torch.nn)
    sd = th.state_dict()
    for k in ("a.bias", "b.1.running_var"):
        del sd[k]
    for k in ("b.0.extra", "zzz", "b.5.weight", "a.bias.x", "b.1.num_batches_tracked.y"):
        sd[k] = torch.zeros(1)
    results = {}
    for lib, model, checkpoint in ((torch, th, sd), (tl, net(nn), as_tl(sd))):
        with pytest.raises(RuntimeError) as e:
            model.load_state_dict(checkpoint)
        results[lib] = (str(e.value), model.load_state_dict(checkpoint, strict=False))
    (msg, got), (want_msg, want) = results[tl], results[torch]
    assert msg == want_msg
    assert got.missing_keys == want.missing_keys == ["a.bias", "b.1.running_var"]
    assert got.unexpected_keys == want.unexpected_keys
    assert type(got).__name__ == "_IncompatibleKeys" and got._fields == want._fields
    assert repr(got) == repr(want)


def test_shape_errors_change_nothing_and_name_both_shapes(backend):
    ours = net(nn)
    sd = OrderedDict((k, v.clone() + 1) for k, v in ours.state_dict().items())
    sd["b.0.weight"] = tl_of(np.zeros((3, 1)))
    sd["b.1.num_batches_tracked"] = tl_of(np.array(1))
    sd["a.weight"] = np.zeros((3, 2))  # not a tensor
    snap = snapshot(ours)
    for strict in (True, False):
        with pytest.raises(RuntimeError) as e:
            ours.load_state_dict(sd, strict=strict)
        msg = str(e.value)
        assert msg.startswith("Error(s) in loading state_dict for Sequential:\n\t")
        assert ("size mismatch for b.0.weight: copying a param with shape [3, 1] from "
                "checkpoint, the shape in current model is [1, 3].") in msg
        assert 'While copying the parameter named "a.weight", expected Tensor' in msg
        assert snapshot(ours).keys() == snap.keys()
        for k, (ident, dtype, arr) in snapshot(ours).items():
            assert (ident, dtype) == snap[k][:2] and np.array_equal(arr, snap[k][2]), k
    th = net(torch.nn)
    with pytest.raises(RuntimeError, match="size mismatch for b.0.weight"):
        th.load_state_dict({**th.state_dict(), "b.0.weight": torch.zeros(3, 1)})


def test_assign_puts_the_checkpoint_tensors_in_place(backend):
    results = {}  # per library: (key, dtype, is a Parameter) of every entry after loading
    for lib in (tl, torch):
        model = net(lib.nn)
        model.a.weight.requires_grad_(False)
        make = tl_of if lib is tl else torch.from_numpy
        sd = OrderedDict((k, make(np.asarray(to_np(v).astype(np.float64) + 1)))
                         for k, v in model.state_dict().items())
        sd["b.1.num_batches_tracked"] = make(np.array(4))
        sd["b.0.bias"] = lib.nn.Parameter(make(np.array([2.5])))
        model.load_state_dict(sd, assign=True)
        w, b = model.a.weight, model.b[0].bias
        assert isinstance(w, lib.nn.Parameter) and not w.requires_grad, "requires_grad kept"
        assert isinstance(model.a.bias, lib.nn.Parameter) and model.a.bias.requires_grad
        assert b is sd["b.0.bias"] and b.requires_grad
        assert model.b[1].running_mean is sd["b.1.running_mean"], "a buffer is the tensor given"
        assert str(w.dtype).endswith("float64"), "assign keeps the checkpoint's dtype"
        before = to_np(w).copy()
        with lib.no_grad():
            sd["a.weight"].add_(1.0)  # the parameter shares the checkpoint's storage
        np.testing.assert_array_equal(to_np(w), before + 1)
        assert [n for n, _ in model.named_parameters()] == list(
            k for k in sd if "running" not in k and "tracked" not in k)
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(to_np(v), to_np(sd[k]), err_msg=k)
        results[lib] = [(k, str(v.dtype).split(".")[-1], isinstance(v, lib.nn.Parameter))
                        for k, v in model.state_dict(keep_vars=True).items()]
    assert results[tl] == results[torch]


def test_zero_dim_entry_from_a_one_element_checkpoint(backend):
    for lib, make in ((nn, tl_of), (torch.nn, torch.from_numpy)):
        bn = lib.BatchNorm1d(2)
        sd = bn.state_dict()
        sd["num_batches_tracked"] = make(np.array([7]))
        bn.load_state_dict(sd)
        assert bn.num_batches_tracked.shape == () and int(bn.num_batches_tracked.item()) == 7


def test_state_dict_must_be_a_mapping():
    sd = nn.Linear(2, 2).state_dict()
    nn.Linear(2, 2).load_state_dict(types.MappingProxyType(sd))
    for lib in (nn, torch.nn):
        with pytest.raises(TypeError, match="Expected state_dict to be dict-like, got "
                                            "<class 'list'>."):
            lib.Linear(2, 2).load_state_dict([1, 2])
