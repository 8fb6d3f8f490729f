"""Issue 12's shape and indexing ops beyond the fuzz (tests/opinfo_shape.py): views that share
storage with their base (a write through the view changes the base, as torch), the in-place
view methods (squeeze_, unsqueeze_, t_), keyword arguments, errors, torch's in-place functions
of its namespace, Tensor metadata (stride, is_contiguous, element_size, type_as), float64
gradcheck and second order of the scatter family."""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite.autograd import gradcheck, gradgradcheck


def pair(values, dtype="float64", requires_grad=False):
    a = np.asarray(values, dtype=dtype)
    return (tl.tensor(a.copy(), requires_grad=requires_grad),
            torch.tensor(a.copy(), requires_grad=requires_grad))


def same(a, e):
    assert tuple(a.shape) == tuple(e.shape), (a.shape, e.shape)
    np.testing.assert_allclose(np.asarray(a.detach().numpy() if hasattr(a, "detach") else a),
                               e.detach().numpy(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- views
VIEWS = {
    "narrow": lambda x: x.narrow(1, 1, 2),
    "unbind": lambda x: x.unbind(1)[2],
    "movedim": lambda x: x.movedim(0, -1),
    "moveaxis": lambda x: x.moveaxis(2, 0),
    "swapaxes": lambda x: x.swapaxes(0, 2),
    "swapdims": lambda x: x.swapdims(1, 2),
    "t": lambda x: x[0].t(),
    "mT": lambda x: x.mT,
    "unflatten": lambda x: x.unflatten(2, (2, 2)),
    "unfold": lambda x: x.unfold(2, 2, 1),
    "broadcast_to": lambda x: x[:, :1].broadcast_to((2, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_shares_storage_with_its_base(name):
    """Writing through the view changes the base, as in torch (checked against torch)."""
    x, xt = pair(np.arange(24.0).reshape(2, 3, 4))
    v, vt = VIEWS[name](x), VIEWS[name](xt)
    same(v, vt)
    if name == "broadcast_to":  # torch refuses writes into an expanded view (read-only here)
        assert v._base is x
        return
    v.fill_(-1.0) if name != "unfold" else v[0, 0, 0].fill_(-1.0)
    vt.fill_(-1.0) if name != "unfold" else vt[0, 0, 0].fill_(-1.0)
    same(x, xt)
    assert (x == -1.0).any().item()


def test_unfold_shape_step_and_gradient_of_overlaps():
    x, xt = pair(np.arange(10.0), requires_grad=True)
    y, yt = x.unfold(0, 3, 2), xt.unfold(0, 3, 2)
    same(y, yt)
    g = np.random.default_rng(0).standard_normal(tuple(yt.shape))
    y.backward(tl.tensor(g))
    yt.backward(torch.tensor(g))
    same(x.grad, xt.grad)  # overlapping windows add their gradients
    x2 = tl.tensor(np.random.default_rng(1).standard_normal((3, 5)), requires_grad=True)
    assert gradcheck(lambda t: t.unfold(1, 2, 1) * 1.0, (x2,))
    assert gradgradcheck(lambda t: (t.unfold(1, 3, 2) ** 2), (x2,))


def test_unfold_errors_as_torch():
    x = tl.ones(4)
    with pytest.raises(RuntimeError, match="size"):
        x.unfold(0, 5, 1)
    with pytest.raises(RuntimeError, match="step"):
        x.unfold(0, 2, 0)
    with pytest.raises(IndexError):
        x.unfold(1, 2, 1)


def test_in_place_view_methods():
    x, xt = pair(np.arange(6.0).reshape(2, 3))
    for a in (x, xt):
        assert a.unsqueeze_(0) is a
    same(x, xt)
    for a in (x, xt):
        assert a.squeeze_() is a and a.t_() is a
    same(x, xt)
    assert x.stride() == xt.stride() == (1, 3)
    # recorded: gradients flow through the changed tensor
    w, wt = pair(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y, yt = w * 2, wt * 2
    y.t_().unsqueeze_(1)
    yt.t_().unsqueeze_(1)
    g = np.random.default_rng(0).standard_normal((3, 1, 2))
    (y * tl.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    same(w.grad, wt.grad)
    # a leaf that requires grad is refused, as torch
    with pytest.raises(RuntimeError, match="leaf"):
        w.unsqueeze_(0)
    with pytest.raises(RuntimeError):
        wt.unsqueeze_(0)
    # the version moves, so a backward that saved the old shape refuses
    for lib, leaf in ((tl, w), (torch, wt)):
        z = leaf * 1
        e = z.sin()  # saves z
        z.unsqueeze_(0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            e.backward(lib.ones_like(e))


def test_t_refuses_more_than_two_dims():
    with pytest.raises(RuntimeError):
        tl.ones(2, 2, 2).t_()
    with pytest.raises(RuntimeError, match="matrices"):
        tl.ones(3).mT


def test_view_refuses_a_non_viewable_input():
    x = tl.ones(3, 4).t()
    assert not x.is_contiguous() and x.contiguous().is_contiguous()
    with pytest.raises(RuntimeError, match="reshape"):
        x.view(12)
    with pytest.raises(RuntimeError):
        torch.ones(3, 4).t().view(12)
    assert x.reshape(12).shape == (12,)


# ----------------------------------------------------------------------------- metadata
def test_stride_contiguity_element_size_type_as():
    for shape, perm in (((2, 3, 4), (0, 1, 2)), ((2, 3, 4), (2, 0, 1)), ((1, 3, 1), (1, 0, 2)),
                        ((1, 3), (1, 0))):
        x, xt = tl.zeros(shape).permute(perm), torch.zeros(shape).permute(perm)
        assert x.stride() == xt.stride(), (shape, perm)
        assert x.stride(-1) == xt.stride(-1)
        assert x.is_contiguous() == xt.is_contiguous(), (shape, perm)
    assert tl.zeros(3)[::2].stride() == (2,)
    assert tl.zeros(3, dtype=tl.float64).element_size() == 8
    assert tl.zeros(3, dtype=tl.int32).element_size() == 4
    assert tl.zeros(3, dtype=tl.bool).element_size() == 1
    y = tl.tensor([1.5, 2.5]).type_as(tl.tensor([1, 2]))
    assert y.dtype == tl.int64 and y.tolist() == [1, 2]
    with pytest.raises(IndexError):
        tl.zeros(2).stride(1)


def test_new_constructors_keep_dtype_and_device():
    x = tl.zeros(2, dtype=tl.float64)
    assert x.new_zeros(3).dtype == tl.float64 and x.new_ones((2, 2)).shape == (2, 2)
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_empty(4).shape == (4,)
    assert x.new_tensor([1, 2]).dtype == tl.float64  # self's dtype, as torch


# ----------------------------------------------------------------------------- keywords
def test_keyword_arguments_as_torch():
    x, xt = pair(np.arange(12.0).reshape(3, 4))
    i, it = tl.tensor([[0, 2, 1, 0]]), torch.tensor([[0, 2, 1, 0]])
    s, st = pair(np.arange(4.0).reshape(1, 4) + 10)
    same(tl.scatter_reduce(x, 0, i, s, reduce="amax", include_self=False),
         torch.scatter_reduce(xt, 0, it, st, reduce="amax", include_self=False))
    same(x.scatter(dim=0, index=i, src=s), xt.scatter(dim=0, index=it, src=st))
    same(x.scatter(0, i, value=2.5), xt.scatter(0, it, value=2.5))
    same(x.scatter(0, i, s, reduce="add"), xt.scatter(0, it, st, reduce="add"))
    same(x.scatter(0, i, s, reduce="multiply"), xt.scatter(0, it, st, reduce="multiply"))
    same(x.index_add(1, tl.tensor([0, 0]), tl.ones(3, 2, dtype=tl.float64), alpha=3),
         xt.index_add(1, torch.tensor([0, 0]), torch.ones(3, 2, dtype=torch.float64), alpha=3))
    same(x.roll(shifts=(1, -1), dims=(0, 1)), xt.roll(shifts=(1, -1), dims=(0, 1)))
    same(x.rot90(k=3, dims=[1, 0]), xt.rot90(k=3, dims=[1, 0]))
    same(tl.flip(x, dims=[0, 1]), torch.flip(xt, dims=[0, 1]))
    same(x.repeat_interleave(2, dim=1, output_size=8),
         xt.repeat_interleave(2, dim=1, output_size=8))
    same(tl.concatenate([x, x], axis=1), torch.concatenate([xt, xt], axis=1))
    same(tl.concat((x, x), dim=-1), torch.concat((xt, xt), dim=-1))
    same(x.take_along_dim(tl.tensor([[0], [1], [2]]), dim=1),
         xt.take_along_dim(torch.tensor([[0], [1], [2]]), dim=1))
    same(x.narrow(dim=0, start=tl.tensor(1), length=2), xt.narrow(0, torch.tensor(1), 2))
    same(x.unflatten(1, sizes=(2, -1)), xt.unflatten(1, (2, -1)))
    same(x.movedim(source=(0, 1), destination=(1, 0)), xt.movedim((0, 1), (1, 0)))
    for a, e in zip(x.nonzero(as_tuple=True), xt.nonzero(as_tuple=True)):
        same(a, e)
    for a, e in zip(tl.meshgrid(x[0], x[:, 0], indexing="xy"),
                    torch.meshgrid(xt[0], xt[:, 0], indexing="xy")):
        same(a, e)


def test_meshgrid_warns_without_indexing_as_torch():
    with pytest.warns(UserWarning, match="indexing"):
        tl.meshgrid(tl.arange(2), tl.arange(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.meshgrid(tl.arange(2), tl.arange(3), indexing="ij")


# ----------------------------------------------------------------------------- errors
ERRORS = [
    ("scatter index dtype", lambda lib: lib.zeros(3).scatter(0, lib.tensor([0.0]),
                                                             lib.ones(1)), RuntimeError),
    ("index_fill int32 index", lambda lib: lib.zeros(3).index_fill(
        0, lib.tensor([0], dtype=lib.int32), 1.0), IndexError),
    ("scatter dtype", lambda lib: lib.zeros(3).scatter(0, lib.tensor([0]),
                                                       lib.ones(1, dtype=lib.float64)),
     RuntimeError),
    ("scatter out of range", lambda lib: lib.zeros(3).scatter(0, lib.tensor([3]), lib.ones(1)),
     RuntimeError),
    ("scatter_reduce reduce", lambda lib: lib.zeros(3).scatter_reduce(0, lib.tensor([0]),
                                                                      lib.ones(1), "maximum"),
     RuntimeError),
    ("index_select 2-d index", lambda lib: lib.zeros(3).index_select(0, lib.tensor([[0]])),
     IndexError),
    ("index_select out of range", lambda lib: lib.zeros(3).index_select(0, lib.tensor([3])),
     IndexError),
    ("index_add shape", lambda lib: lib.zeros(3, 2).index_add(0, lib.tensor([0]), lib.ones(1, 3)),
     RuntimeError),
    ("index_copy int32 index", lambda lib: lib.zeros(3).index_copy(
        0, lib.tensor([0], dtype=lib.int32), lib.ones(1)), RuntimeError),
    ("index_fill 1-d value", lambda lib: lib.zeros(3).index_fill(0, lib.tensor([0]),
                                                                 lib.ones(2)), RuntimeError),
    ("masked_select mask dtype", lambda lib: lib.zeros(3).masked_select(lib.ones(3)),
     RuntimeError),
    ("take index dtype", lambda lib: lib.zeros(3).take(lib.tensor([0], dtype=lib.int32)),
     RuntimeError),
    ("take_along_dim ndim", lambda lib: lib.zeros(3, 2).take_along_dim(lib.tensor([0]), dim=0),
     RuntimeError),
    ("narrow past the end", lambda lib: lib.zeros(3).narrow(0, 2, 2), RuntimeError),
    ("narrow 0-d", lambda lib: lib.zeros(()).narrow(0, 0, 1), RuntimeError),
    ("unbind 0-d", lambda lib: lib.zeros(()).unbind(), IndexError),
    ("movedim counts", lambda lib: lib.zeros(2, 3).movedim((0, 1), (0,)), RuntimeError),
    ("movedim repeated", lambda lib: lib.zeros(2, 3).movedim((0, 0), (0, 1)), RuntimeError),
    ("unflatten sizes", lambda lib: lib.zeros(2, 6).unflatten(1, (4, 2)), RuntimeError),
    ("roll alignment", lambda lib: lib.zeros(2, 3).roll((1, 2), 0), RuntimeError),
    ("rot90 dims", lambda lib: lib.zeros(2, 3).rot90(1, (0, 0)), RuntimeError),
    ("rot90 1-d", lambda lib: lib.zeros(3).rot90(), RuntimeError),
    ("fliplr 1-d", lambda lib: lib.zeros(3).fliplr(), RuntimeError),
    ("repeat_interleave negative", lambda lib: lib.zeros(3).repeat_interleave(-1), RuntimeError),
    ("repeat_interleave sizes", lambda lib: lib.zeros(3).repeat_interleave(lib.tensor([1, 2]),
                                                                           dim=0), RuntimeError),
    ("broadcast_tensors", lambda lib: lib.broadcast_tensors(lib.zeros(2), lib.zeros(3)),
     RuntimeError),
    ("broadcast_to", lambda lib: lib.zeros(2, 3).broadcast_to((3, 3)), RuntimeError),
    ("meshgrid 2-d", lambda lib: lib.meshgrid(lib.zeros(2, 2), indexing="ij"), RuntimeError),
    ("meshgrid dtypes", lambda lib: lib.meshgrid(lib.zeros(2), lib.zeros(2, dtype=lib.float64),
                                                 indexing="ij"), RuntimeError),
]


@pytest.mark.parametrize("name,fn,exc", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_torch(name, fn, exc):
    with pytest.raises(exc):
        fn(torch)
    with pytest.raises(exc) as info:
        fn(tl)
    assert str(info.value).strip()


def test_error_messages_name_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"narrow.*\(3\)"):
        tl.zeros(3).narrow(0, 2, 2)
    with pytest.raises(RuntimeError, match=r"scatter.*index \[1, 2\].*self \[1\]"):
        tl.zeros(1).scatter(0, tl.tensor([[0, 0]]), tl.ones(1, 2))
    with pytest.raises(RuntimeError, match=r"index_add.*\[1, 3\].*\[3, 2\]"):
        tl.zeros(3, 2).index_add(0, tl.tensor([0]), tl.ones(1, 3))


# ----------------------------------------------------------------------------- in-place namespace
def test_torch_namespace_in_place_functions():
    names = [n for n in dir(torch) if n.endswith("_") and not n.startswith("_")
             and callable(getattr(torch, n)) and hasattr(tl.Tensor, n)]
    assert {"exp_", "clamp_", "index_put_", "zero_", "fill_", "relu_", "sigmoid_"} <= set(names)
    for n in names:
        assert getattr(tl, n, None) is not None, f"tensorlite.{n} missing (torch.{n} exists)"
    x, xt = pair([0.5, -1.0, 2.0])
    assert tl.exp_(x) is x
    torch.exp_(xt)
    same(x, xt)
    tl.clamp_(x, min=1.0, max=3.0)
    torch.clamp_(xt, min=1.0, max=3.0)
    same(x, xt)
    tl.index_put_(x, (tl.tensor([0]),), tl.tensor([9.0], dtype=tl.float64))
    torch.index_put_(xt, (torch.tensor([0]),), torch.tensor([9.0], dtype=torch.float64))
    same(x, xt)
    y = tl.ones(2, requires_grad=True) * 2
    assert tl.detach_(y) is y and not y.requires_grad
    # names torch lacks are not invented
    assert not hasattr(torch, "scatter_") and not hasattr(tl, "scatter_")
    assert not hasattr(torch, "index_add_") and not hasattr(tl, "index_add_")


# ----------------------------------------------------------------------------- in-place forms
@pytest.mark.parametrize("name,args", [
    ("scatter_", (0, [[1, 0]], "src")),
    ("scatter_add_", (0, [[1, 1]], "src")),
    ("index_add_", (0, [1, 1], "src_rows")),
    ("index_copy_", (0, [1, 0], "src_rows")),
    ("index_fill_", (1, [0], 7.0)),
])
def test_in_place_forms_write_into_the_tensor_and_record(name, args):
    def run(lib):
        base = lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64, requires_grad=True)
        src = lib.tensor([[5.0, 6.0]], dtype=lib.float64, requires_grad=True)
        rows = lib.tensor([[5.0, 6.0], [7.0, 8.0]], dtype=lib.float64, requires_grad=True)
        y = base * 1
        dim, index, operand = args
        operand = {"src": src, "src_rows": rows}.get(operand, operand)
        out = getattr(y, name)(dim, lib.tensor(index), operand)
        assert out is y
        (y * lib.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=lib.float64)).sum().backward()
        return y, base.grad, src.grad, rows.grad
    for a, e in zip(run(tl), run(torch)):
        if e is None:
            assert a is None or not a.numpy().any()
        else:
            same(a, e)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_gradcheck_and_second_order(reduce, include_self):
    rng = np.random.default_rng(3)
    x = tl.tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    src = tl.tensor(rng.uniform(0.5, 2.0, (2, 4)), requires_grad=True)
    index = tl.tensor([[0, 1, 2, 0], [2, 1, 0, 0]])
    fn = lambda a, b: a.scatter_reduce(0, index, b, reduce, include_self=include_self)
    assert gradcheck(fn, (x, src))
    if reduce not in ("amax", "amin"):
        assert gradgradcheck(fn, (x, src))
    # second order against torch
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    st = torch.tensor(src.detach().numpy(), requires_grad=True)
    it = torch.tensor(index.numpy())
    yt = xt.scatter_reduce(0, it, st, reduce, include_self=include_self)
    y = fn(x, src)
    g = rng.standard_normal((3, 4))
    gx, gs = tl.autograd.grad((y * y).sum() if reduce != "sum" else (y * y * y).sum(),
                              (x, src), create_graph=True)
    gxt, gst = torch.autograd.grad((yt * yt).sum() if reduce != "sum" else
                                   (yt * yt * yt).sum(), (xt, st), create_graph=True)
    same(gx, gxt)
    same(gs, gst)
    h = tl.autograd.grad((gx * tl.tensor(g)).sum(), (x, src), allow_unused=True)
    ht = torch.autograd.grad((gxt * torch.tensor(g)).sum(), (xt, st), allow_unused=True)
    for a, e in zip(h, ht):
        if e is None:
            assert a is None or not a.numpy().any()
        else:
            same(a, e)


@pytest.mark.parametrize("fn", [
    lambda x: x.flip(0, 1), lambda x: x.roll((1, 2), (0, 1)), lambda x: x.rot90(1),
    lambda x: x.tile(2, 1, 1), lambda x: x.repeat_interleave(2, dim=1),
    lambda x: tl.take(x, tl.tensor([[0, 5], [5, 11]])),
    lambda x: x.index_select(1, tl.tensor([3, 0, 3])),
    lambda x: x.masked_select(x > 0),
    lambda x: x.index_add(0, tl.tensor([0, 0, 2]), x * x),
    lambda x: x.index_copy(1, tl.tensor([1, 0, 3, 2]), x.exp()),
    lambda x: x.index_fill(0, tl.tensor([1]), 2.0),
    lambda x: x.scatter(1, tl.tensor([[1, 0], [2, 3], [0, 1]]), x[:, :2] * 3),
    lambda x: tl.vstack([x, x * 2]), lambda x: tl.dstack([x, x]),
    lambda x: tl.column_stack([x[:, 0], x]),
    lambda x: tl.broadcast_tensors(x, x[:1])[1],
])
def test_gradcheck(fn):
    x = tl.tensor(np.random.default_rng(5).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(fn, (x,))


# ----------------------------------------------------------------------------- CuPy (host stand-in)
from cupy_standin import host_cuda, host_cupy  # noqa: E402,F401  (pytest fixtures used by name)


def test_shape_ops_on_the_cupy_host_stand_in(host_cuda):
    """The new ops on the CuPy backend's code (device arrays that refuse host arrays) give the
    CPU's values and gradients: no host array leaks into a device computation (the stand-in
    runs NumPy underneath, so CuPy's own coverage of ufunc.at is not what this checks)."""
    v = np.random.default_rng(4).standard_normal((3, 4))
    ops = [
        lambda x, d: x.flip(0) + x.roll(1, 1) + x.rot90(2) + x.tile(1, 1),
        lambda x, d: x.unfold(1, 2, 1).sum(-1).sum(-1) + x.narrow(1, 0, 1).squeeze(1),
        lambda x, d: x.repeat_interleave(2, dim=0).sum(0)
        + x.index_select(0, tl.tensor([2, 0], device=d)).sum(0),
        lambda x, d: x.take(tl.tensor([[0, 5]], device=d)).sum()
        + x.masked_select(x > 0).sum() + x.take_along_dim(tl.tensor([[1], [0], [3]],
                                                                    device=d), 1).sum(),
        lambda x, d: x.scatter_reduce(0, tl.tensor([[0, 1, 2, 0]], device=d), x[:1] * 2, "amax",
                                      include_self=False)
        + x.scatter_add(1, tl.tensor([[0, 0], [1, 1], [3, 3]], device=d), x[:, :2])
        + x.index_add(0, tl.tensor([0, 0], device=d), x[:2]).index_fill(
            1, tl.tensor([1], device=d), 0.5),
        lambda x, d: x.scatter_reduce(1, tl.tensor([[0, 0], [1, 1], [3, 3]], device=d),
                                      x[:, 1:3].exp(), "mean")
        + x.index_copy(1, tl.tensor([3, 1], device=d), x[:, :2] * 3),
    ]
    for fn in ops:
        results = []
        for device in ("cuda", "cpu"):
            x = tl.tensor(v, device=device, requires_grad=True)
            out = fn(x, device)
            g = np.linspace(-1.0, 1.0, out.numel()).reshape(tuple(out.shape))
            out.backward(tl.tensor(g, device=device))
            assert out.device == device
            results.append((out.detach().cpu().numpy(), x.grad.cpu().numpy()))
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
