"""PyTorch's dtype and tensor queries, and the calls programs make to pick a device, compared
with torch: finfo, iinfo, promote_types, result_type, can_cast, is_tensor, is_floating_point,
numel, nelement, cuda.is_available, set_default_device."""
import itertools

import pytest
import torch

import tensorlite as tl

FLOATS = ("float16", "float32", "float64")
INTS = ("int32", "int64")
ALL = FLOATS + INTS + ("bool",)


@pytest.mark.parametrize("name", FLOATS)
def test_finfo(name):
    a, b = tl.finfo(getattr(tl, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert a.dtype == b.dtype


def test_finfo_default_and_errors():
    assert tl.finfo().dtype == "float32" == torch.finfo().dtype
    with pytest.raises(TypeError):
        tl.finfo(tl.int64)
    with pytest.raises(TypeError):
        tl.iinfo(tl.float32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo(name):
    a, b = tl.iinfo(getattr(tl, name)), torch.iinfo(getattr(torch, name))
    assert (a.bits, a.max, a.min, a.dtype) == (b.bits, b.max, b.min, b.dtype)


def _name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


@pytest.mark.parametrize("a,b", list(itertools.product(ALL, ALL)))
def test_promote_types_and_can_cast(a, b):
    assert _name(tl.promote_types(getattr(tl, a), getattr(tl, b))) == \
        _name(torch.promote_types(getattr(torch, a), getattr(torch, b)))
    assert tl.can_cast(getattr(tl, a), getattr(tl, b)) == \
        torch.can_cast(getattr(torch, a), getattr(torch, b))


@pytest.mark.parametrize("make", [
    lambda lib: (lib.ones(2, dtype=lib.int32), 2.5),
    lambda lib: (lib.ones(2, dtype=lib.int64), True),
    lambda lib: (lib.ones(2, dtype=lib.float16), lib.tensor(1.0, dtype=lib.float64)),
    lambda lib: (lib.tensor(1, dtype=lib.int64), lib.ones(2, dtype=lib.int32)),
    lambda lib: (3, lib.ones(2, dtype=lib.bool)),
    lambda lib: (2, 3.5),
])
def test_result_type(make):
    assert _name(tl.result_type(*make(tl))) == _name(torch.result_type(*make(torch)))


def test_tensor_queries():
    x = tl.ones(2, 3)
    assert tl.is_tensor(x) and not tl.is_tensor([1.0]) and not tl.is_tensor(x.numpy())
    assert tl.numel(x) == x.nelement() == 6 == torch.numel(torch.ones(2, 3))
    assert tl.is_floating_point(x) and not tl.is_floating_point(tl.ones(2, dtype=tl.int64))


def test_device_choice_as_programs_write_it():
    device = "cuda" if tl.cuda.is_available() else "cpu"
    assert tl.cuda.is_available() == ("cupy" in tl.available())
    assert tl.cuda.device_count() == int(tl.cuda.is_available())
    assert tl.zeros(2, device=device).device == device
    tl.set_default_device("cpu")
    assert tl.zeros(1).device == "cpu"
    if not tl.cuda.is_available():
        with pytest.raises(RuntimeError, match="cuda"):
            tl.set_default_device("cuda")
        assert tl.zeros(1).device == "cpu"  # a refused change changes nothing
