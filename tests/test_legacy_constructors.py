"""PyTorch's legacy constructors and type API, against torch on every backend: ``Tensor(30, 40)``
(a size), ``Tensor([1, 2])`` (data), ``Tensor()``, ``FloatTensor``/``LongTensor``/... and
``isinstance`` by dtype, ``x.new(...)`` and the ``new_*`` factories, ``x.type()``, ``is_cuda``,
``is_sparse``, ``layout``, ``device.type``, and ``load(..., weights_only=False)``."""
import io

import numpy as np
import pytest
import torch

import tensorlite as tl

LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "BoolTensor"]


def same(t_tl, t_th, values=True):
    """Same shape, dtype and (unless torch's are uninitialized memory) values as torch's."""
    assert tuple(t_tl.shape) == tuple(t_th.shape)
    assert str(t_tl.dtype) == str(t_th.dtype).replace("torch.", "")
    if values:
        np.testing.assert_array_equal(np.asarray(t_tl.detach().cpu()), t_th.detach().numpy())


def sizes(args):
    """Whether legacy constructor arguments are sizes (torch leaves the memory uninitialized)."""
    return all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args)


def both(fn):
    """fn(lib) under tensorlite and torch: the same result, or the same exception type."""
    try:
        expected = fn(torch)
    except Exception as e:  # noqa: BLE001  (whatever torch raises, we raise the same type)
        with pytest.raises(type(e)):
            fn(tl)
        return None, None
    return fn(tl), expected


# -- Tensor(...) ------------------------------------------------------------------------------------
TENSOR_ARGS = [(30, 40), (3,), (), (0,), (2, 0, 3), ([1, 2],), ([[1.5, 2], [3, 4]],), ((2, 3),),
               ([True, False],), ([],), (np.array([1, 2]),), (np.arange(6.0).reshape(2, 3),),
               (np.int64(3), 2),
               # errors: a number as data, a str, a mixture, negative sizes, ragged lists
               (1.5,), (True,), ("a",), (2, "a"), ([1, 2], 3), (-1,), (2, -1), ([[1, 2], [3]],),
               (2.0, 3)]


@pytest.mark.parametrize("args", TENSOR_ARGS, ids=repr)
def test_tensor_constructor_matches_torch(backend, args):
    got, expected = both(lambda lib: lib.Tensor(*args))
    if expected is not None:
        same(got, expected, values=not sizes(args))
        assert got.device == backend.device
        if sizes(args):
            assert not got.any()  # tensorlite fills with zeros


def test_tensor_of_sizes_is_zero_filled_float32_on_the_default_device(backend):
    t = tl.Tensor(30, 40)
    assert t.shape == (30, 40) and t.dtype == tl.float32 and t.device == backend.device
    assert not t.requires_grad and t.is_leaf and t.sum().item() == 0
    assert tl.Tensor(size=(2, 3)).shape == torch.Tensor(size=(2, 3)).shape


def test_tensor_follows_the_default_dtype():
    before = tl.get_default_dtype()
    try:
        tl.set_default_dtype(tl.float64)
        assert tl.Tensor(2).dtype == tl.float64 and tl.Tensor([1]).dtype == tl.float64
        assert tl.FloatTensor(2).dtype == tl.float32  # a typed constructor keeps its dtype
    finally:
        tl.set_default_dtype(before)


def test_tensor_of_a_tensor_shares_its_storage_and_keeps_its_dtype(backend):
    src = tl.tensor([1, 2])
    t = tl.Tensor(src)
    assert t.dtype == tl.int64 and t.tolist() == [1, 2]
    assert torch.Tensor(torch.tensor([1, 2])).dtype == torch.int64
    src.add_(1)
    assert t.tolist() == [2, 3]  # an alias, as in torch


@pytest.mark.parametrize("kwargs", [{"dtype": "float64"}, {"requires_grad": True}])
def test_tensor_refuses_modern_keywords_as_torch(kwargs):
    th = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
    with pytest.raises(TypeError):
        torch.Tensor([1, 2], **th)
    with pytest.raises(TypeError, match="tensorlite.tensor"):
        tl.Tensor([1, 2], **{k: getattr(tl, v) if k == "dtype" else v for k, v in kwargs.items()})


def test_tensor_error_messages_say_what_to_do():
    with pytest.raises(TypeError, match=r"data must be a sequence \(got float\)"):
        tl.Tensor(1.5)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        tl.Tensor(2, -1)


def test_nothing_builds_tensors_with_the_old_positional_form():
    """Tensor(data, requires_grad) was the constructor once; now Tensor(2, 1) is a size."""
    assert tl.Tensor(2, 1).shape == (2, 1)
    with pytest.raises(TypeError):
        tl.Tensor([1.0], True)  # data then a flag: neither sizes nor data, as torch
    with pytest.raises(TypeError):
        torch.Tensor([1.0], True)


# -- FloatTensor, LongTensor, ... -------------------------------------------------------------------
@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("args", [(3,), (2, 3), ([1, 0, 2],), ([[1.7, -2.2]],), (), (-1,),
                                  (1.5,)], ids=repr)
def test_legacy_types_match_torch(backend, name, args):
    got, expected = both(lambda lib: getattr(lib, name)(*args))
    if expected is not None:
        same(got, expected, values=not sizes(args))
        assert got.device == "cpu"


@pytest.mark.parametrize("name", LEGACY)
def test_isinstance_of_a_legacy_type_checks_the_dtype_as_torch(name):
    for dtype in ("float32", "float64", "float16", "int64", "int32", "bool"):
        x_tl, x_th = tl.zeros(2, dtype=getattr(tl, dtype)), torch.zeros(2, dtype=getattr(torch, dtype))
        assert isinstance(x_tl, getattr(tl, name)) == isinstance(x_th, getattr(torch, name)), dtype
    assert not isinstance([1.0], getattr(tl, name))
    assert not issubclass(getattr(tl, name), tl.Tensor) and not issubclass(
        getattr(torch, name), torch.Tensor)
    assert type(getattr(tl, name)(2)) is tl.Tensor


def test_a_legacy_type_of_a_tensor_checks_its_dtype():
    assert tl.FloatTensor(tl.zeros(2)).dtype == tl.float32
    with pytest.raises(TypeError):
        torch.FloatTensor(torch.zeros(2, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"\.to\(float32\)"):
        tl.FloatTensor(tl.zeros(2, dtype=tl.float64))


def test_legacy_types_are_cpu_types():
    with pytest.raises(RuntimeError, match="expects device type: cpu"):
        torch.FloatTensor(2, device="cuda")
    with pytest.raises(RuntimeError, match="expects device type: cpu"):
        tl.FloatTensor(2, device="cuda")


@pytest.mark.parametrize("name", ["ByteTensor", "CharTensor", "ShortTensor", "BFloat16Tensor"])
def test_legacy_types_of_small_dtypes_match_torch(name):
    for args in ((3,), ([1, 2, 3],), ([[1], [2]],)):
        got, want = getattr(tl, name)(*args), getattr(torch, name)(*args)
        assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
        assert got.shape == tuple(want.shape)
        if isinstance(args[0], list):
            assert got.tolist() == want.tolist()
    assert isinstance(getattr(tl, name)(2), getattr(tl, name))
    assert not isinstance(tl.zeros(2, dtype=tl.int64), getattr(tl, name))
    assert getattr(tl, name)(2).type() == getattr(torch, name)(2).type()


# -- x.new(...), new_* ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
@pytest.mark.parametrize("args", [(3,), (2, 3), ([1, 2],), (), (-1,)], ids=repr)
def test_new_matches_torch(backend, dtype, args):
    got, expected = both(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype)).new(*args))
    if expected is not None:
        same(got, expected, values=not sizes(args))


@pytest.mark.parametrize("call", [
    lambda x: x.new_tensor([1, 2]), lambda x: x.new_tensor([1.5], dtype=x.new_tensor(1).dtype),
    lambda x: x.new_zeros(2, 3), lambda x: x.new_zeros((2, 3)), lambda x: x.new_ones(4),
    lambda x: x.new_full((2,), 3), lambda x: x.new_full((2, 2), 1.5),
    lambda x: x.new_empty(3).zero_(), lambda x: x.new_zeros(2, dtype=None),
])
@pytest.mark.parametrize("dtype", ["float64", "int64", "float32"])
def test_new_factories_match_torch(backend, call, dtype):
    got, expected = both(lambda lib: call(lib.zeros(2, dtype=getattr(lib, dtype))))
    same(got, expected)
    assert got.device == backend.device


def test_new_factories_take_dtype_and_requires_grad():
    x = tl.zeros(2, dtype=tl.int64)
    y = x.new_ones(3, dtype=tl.float32, requires_grad=True)
    assert y.dtype == tl.float32 and y.requires_grad and y.is_leaf


# -- type(), is_cuda, is_sparse, layout, device ---------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "bool"])
def test_type_names_match_torch(dtype):
    assert tl.zeros(2, dtype=getattr(tl, dtype)).type() == \
        torch.zeros(2, dtype=getattr(torch, dtype)).type()


@pytest.mark.parametrize("target", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
                                    "torch.FloatTensor", "torch.IntTensor", "float64"])
def test_type_converts_as_torch(target):
    def conv(lib):
        x = lib.tensor([1.5, -2.0])
        if target.startswith("torch."):
            return x.type(target)
        return x.type(getattr(lib, target) if target[0].isupper() else getattr(lib, target))
    got, expected = both(conv)
    same(got, expected)


def test_is_cuda_is_sparse_layout_and_device_type(backend):
    x = tl.zeros(2)
    assert x.is_cuda == (backend.device == "cuda") and x.is_sparse is False
    assert x.layout is tl.strided and repr(x.layout) == "tensorlite.strided"
    assert x.device.type == backend.device and x.device == backend.device
    assert (x + 1).device.type == backend.device  # results of ops carry it too
    assert x.to("cpu").device.type == "cpu" and x.cpu().is_cuda is False
    assert tl.device("cpu").type == "cpu" == torch.device("cpu").type
    assert repr(tl.zeros(1).cpu().device) == repr(torch.zeros(1).device)


def test_a_device_still_is_the_device_string():
    x = tl.zeros(2).cpu()
    assert x.device == "cpu" and str(x.device) == "cpu" and f"{x.device}" == "cpu"
    assert {x.device: 1}["cpu"] == 1 and x.device.split(":")[0] == "cpu"
    y = tl.zeros(2).to(tl.device("cpu"))
    assert y.device == "cpu" and y.device.type == "cpu"


def test_load_accepts_weights_only_false():
    buf = io.BytesIO()
    tl.save({"w": tl.arange(3)}, buf)
    for flag in (True, False):
        buf.seek(0)
        assert tl.load(buf, weights_only=flag)["w"].tolist() == [0, 1, 2]
