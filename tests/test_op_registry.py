"""The op registry (tensorlite/ops/registry.py): each op registers itself where it is defined, as
a function of tensorlite, a Tensor method and an in-place method, and REGISTRY lists them all."""
import numpy as np
import pytest

import tensorlite as tl
from tensorlite import ops
from tensorlite.ops import registry
from tensorlite.ops.registry import REGISTRY, op


def test_every_registered_op_is_installed_as_declared():
    for name, entry in REGISTRY.items():
        assert getattr(tl, name) is entry.fn and getattr(ops, name) is entry.fn, name
        if entry.method:
            assert getattr(tl.Tensor, name) is entry.fn, name
        if entry.inplace:
            assert getattr(tl.Tensor, entry.inplace).__name__ == entry.inplace
        if entry.alias_of:
            assert REGISTRY[entry.alias_of].fn is entry.fn


def test_the_registry_lists_functions_methods_in_place_variants_and_aliases():
    assert {"add", "exp", "sum", "matmul", "reshape", "gather", "copy_"} <= set(REGISTRY)
    assert not REGISTRY["where"].method and not REGISTRY["cat"].method  # functions only
    assert REGISTRY["add"].inplace == "add_" and REGISTRY["sum"].inplace is None
    assert REGISTRY["clip"].alias_of == "clamp"  # (view is its own op: it refuses a copy)
    assert REGISTRY["clip"].inplace == "clip_"
    assert set(ops._METHODS) == {n for n, e in REGISTRY.items()
                                 if e.method and not n.endswith("_")}


def test_an_in_place_op_with_a_fast_primitive_updates_the_storage():
    x = tl.tensor([1.0, 2.0])
    data, version = x._data, x._version[0]
    assert x.add_(tl.tensor([1.0, 1.0])) is x
    assert x._data is data and x._version[0] == version + 1 and x.tolist() == [2.0, 3.0]


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry, and Tensor methods installed by a test removed afterwards."""
    monkeypatch.setattr(registry, "REGISTRY", dict(REGISTRY))
    before = set(vars(tl.Tensor))
    yield registry.REGISTRY
    for name in set(vars(tl.Tensor)) - before:
        delattr(tl.Tensor, name)


def test_a_new_op_registers_where_it_is_defined(scratch_registry):
    @op(inplace=True, aliases=("double",))
    def twice(input):
        """2 * input."""
        return input * 2

    assert scratch_registry["twice"].inplace == "twice_"
    assert scratch_registry["double"].alias_of == "twice"
    x = tl.tensor([1.0, 3.0], requires_grad=True)
    y = x.twice()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    z = tl.tensor([1.0, 2.0])
    assert z.double_() is z and z.tolist() == [2.0, 4.0]


def test_a_name_is_registered_once(scratch_registry):
    def exp(input):
        return input

    with pytest.raises(ValueError, match="'exp' is registered twice"):
        op()(exp)
