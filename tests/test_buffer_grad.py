"""Gradients through assignment into a buffer (issue 17, item 1): writing a value that requires
grad into a plain tensor (setitem with basic, advanced and boolean indices, index_put_,
masked_scatter_, copy_, in-place ops whose other operand requires grad), directly or through
a view of it, records the write on the tape as PyTorch does (CopySlices): the buffer then
requires grad, the written values get the gradient of the elements they fill and the
overwritten old values none.  Every program runs on every backend and is compared with
PyTorch (forward, gradients for a random upstream gradient, and a gradcheck)."""
import warnings

import numpy as np
import pytest
import torch

import tensorlite as tl
from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)
from helpers import N, P, check_op, check_second_order


def _zeros(lib, like, *shape):
    return lib.zeros(*shape, dtype=like.dtype)


def _idx(lib, *values):
    return lib.tensor(list(values))


def _attention_loop(lib, enc, q):
    """An attention seq2seq's encoder buffer, filled one step at a time."""
    buf = _zeros(lib, enc, 4, 3)
    for i in range(4):
        buf[i] = enc[0, i].tanh()
    return (buf @ q).softmax(0)


def _later_write_wins(lib, a, b):
    buf = _zeros(lib, a, 3, 2)
    buf[1] = a  # overwritten below: a gets the gradient of row 2 only
    buf[1] = b
    buf[2] = 2 * a
    return buf


def _old_values_overwritten(lib, base, v):
    buf = base * 1.5  # requires grad: the overwritten elements must get no gradient
    buf[1, 1:] = v
    buf[[0, 2], 0] = v[0]
    return buf


def _row_view(lib, v, w):
    buf = _zeros(lib, v, 2, 3)
    row = buf[0]
    row[1:] = v
    row[0] = w[0] * 2  # (torch's row.mul_(w) here wrongly calls row a leaf)
    return buf, row * w  # the base sees the writes, and the view carries them too


def _view_written_twice(lib, a, b):
    buf = _zeros(lib, a, 3, 2)
    row = buf[2]
    row[0] = a[0]
    row[1] = b[1]
    return buf.exp()


def _base_then_view(lib, a, b):
    buf = _zeros(lib, a, 3, 2)
    buf[0] = a
    buf[1][1] = b[0]
    buf[0][0] = b[1]  # through a view, over what the base write put there
    return buf * buf


def _augmented_into_view(lib, w):
    buf = lib.ones(3, 4, dtype=w.dtype)
    buf[1] += w  # getitem, iadd on the view, setitem of the view back
    buf[2] *= w
    return buf


def _view_of_written_buffer(lib, x, v):
    buf = _zeros(lib, x, 2, 3)
    buf.copy_(x * 2)  # requires grad now, its last change a write
    buf[0][1] = v[0]  # a view of it: its history is rebased
    row = buf[1]
    row.add_(v)
    buf.index_put_((_idx(lib, 0),), v.exp())
    buf[1][2] = v[2]
    return buf.sin()


PROGRAMS = {
    # setitem into a plain buffer, every kind of index
    "int_rows_in_a_loop": (_attention_loop, (N(1, 4, 3), N(3))),
    "slice_with_step": (lambda lib, x: _set(lib, x, (slice(1, 3), slice(None, None, 2)), (3, 4)),
                        (N(2, 2),)),
    "negative_int_and_slice": (lambda lib, x: _set(lib, x, (-1, slice(1, None)), (3, 4)),
                               (N(3),)),
    "ellipsis_and_none": (lambda lib, x: _set(lib, x, (Ellipsis, None, 1), (2, 3)), (N(2, 1),)),
    "broadcast_value": (lambda lib, x: _set(lib, x, slice(0, 2), (3, 4)), (N(4),)),
    "int_tensor_index": (lambda lib, x: _set(lib, x, _idx(lib, 0, 2), (3, 4)), (N(2, 4),)),
    "int_list_index": (lambda lib, x: _set(lib, x, [2, 0], (3, 4)), (N(2, 4),)),
    "two_int_tensor_indices": (lambda lib, x: _set(lib, x, (_idx(lib, 0, 2, 1), _idx(lib, 3, 0, 3)),
                                                   (3, 4)), (N(3),)),
    "bool_mask_rows": (lambda lib, x: _set(lib, x, _idx(lib, True, False, True), (3, 4)),
                       (N(2, 4),)),
    "bool_mask_elements": (lambda lib, x: _set(
        lib, x, lib.tensor([[True, False], [False, True], [True, True]]), (3, 2)), (N(4),)),
    "bool_mask_zero_dim_value": (lambda lib, x: _set(lib, x.sum(), _idx(lib, False, True, True),
                                                     (3, 2)), (N(2),)),
    "int_then_list": (lambda lib, x: _set(lib, x, (1, [0, 3]), (3, 4)), (N(2),)),
    "later_write_wins": (_later_write_wins, (N(2), N(2))),
    "old_values_overwritten": (_old_values_overwritten, (N(3, 3), N(2))),
    # writes into a view of the buffer: the buffer sees them
    "view_chain_int_int": (lambda lib, v: _set_view(lib, v, lambda b: b[0], 1), (N(),)),
    "row_view": (_row_view, (N(2), N(3))),
    "view_written_twice": (_view_written_twice, (N(2), N(2))),
    "base_then_view": (_base_then_view, (N(2), N(2))),
    "transposed_view": (lambda lib, v: _set_view(lib, v, lambda b: b.t(), 1), (N(4),)),
    "view_of_view": (lambda lib, v: _set_view(lib, v, lambda b: b[1:3], (slice(None), 0)),
                     (N(2),)),
    "flat_view": (lambda lib, v: _set_view(lib, v, lambda b: b.view(-1), slice(3, 5)), (N(2),)),
    "reshape_view": (lambda lib, v: _set_view(lib, v, lambda b: b.reshape(2, 2, 3)[1], 0),
                     (N(3),)),
    "diagonal_view": (lambda lib, w: _inplace_diagonal(lib, w), (N(3),)),
    "augmented_into_view": (_augmented_into_view, (P(4),)),
    "view_of_buffer_that_took_writes": (_view_of_written_buffer, (N(2, 3), N(3))),
    "view_add_": (lambda lib, w: _inplace_view(lib, w, "add_"), (N(3),)),
    "view_copy_": (lambda lib, w: _inplace_view(lib, w, "copy_"), (N(3),)),
    "element_view_mul_": (lambda lib, w: _elem_mul(lib, w), (N(3),)),
    # in-place ops on the buffer whose other operand requires grad
    "add_": (lambda lib, w: _buffer(lib, w, 2, 3).add_(w), (N(3),)),
    "add_alpha": (lambda lib, w: _buffer(lib, w, 2, 3).add_(w, alpha=-2.5), (N(3),)),
    "imul": (lambda lib, w: _imul(_buffer(lib, w, 2, 3), w), (N(2, 1),)),
    "div_": (lambda lib, w: _buffer(lib, w, 2, 3).div_(w), (P(3),)),
    "copy_broadcast": (lambda lib, w: _buffer(lib, w, 2, 3).copy_(w), (N(3),)),
    # (a float32 buffer: no float64 finite-difference check)
    "copy_other_dtype": (lambda lib, w: lib.ones(2, 3, dtype=lib.float32).copy_(w).double(),
                         (N(2, 3),), {"gradcheck": False}),
    # index_put_, index_put, masked_scatter_, masked_scatter
    "index_put_": (lambda lib, v: _buffer(lib, v, 3, 2).index_put_((_idx(lib, 2, 0),), v),
                   (N(2, 2),)),
    "index_put_two_indices": (lambda lib, v: _buffer(lib, v, 3, 2).index_put_(
        (_idx(lib, 2, 0, 1), _idx(lib, 1, 1, 0)), v), (N(3),)),
    "index_put_bool": (lambda lib, v: _buffer(lib, v, 3, 2).index_put_(
        (_idx(lib, True, False, True),), v), (N(2),)),
    "index_put_accumulate_repeated": (lambda lib, v: _buffer(lib, v, 3, 2).index_put_(
        (_idx(lib, 2, 0, 2),), v, accumulate=True), (N(3, 2),)),
    "index_put_out_of_place": (lambda lib, x, v: x.index_put((_idx(lib, 1),), v), (N(3, 2), N(2))),
    "index_put_function_accumulate": (lambda lib, x, v: lib.index_put(
        x, (_idx(lib, 1, 1), _idx(lib, 0, 0)), v, accumulate=True), (N(3, 2), N(2))),
    "masked_scatter_": (lambda lib, s: _buffer(lib, s, 2, 3).masked_scatter_(
        lib.tensor([[True, False, True], [False, True, False]]), s), (N(2, 3),)),
    "masked_scatter_broadcast_mask": (lambda lib, s: _buffer(lib, s, 2, 3).masked_scatter_(
        lib.tensor([False, True, True]), s), (N(5),)),
    "masked_scatter_out_of_place": (lambda lib, x, s: x.masked_scatter(
        lib.tensor([[True], [False]]), s), (N(3), N(4))),
    "masked_scatter_view": (lambda lib, s: _set_masked_view(lib, s), (N(2),)),
}


def _buffer(lib, like, *shape):
    """A plain buffer (no grad) with distinct values, so an op that reads it shows it."""
    return lib.arange(1, 1 + int(np.prod(shape)), dtype=like.dtype).reshape(*shape) / 4


def _set(lib, x, index, shape):
    buf = _zeros(lib, x, *shape)
    buf[index] = x
    return buf


def _set_view(lib, v, view, index):
    buf = _buffer(lib, v, 4, 3)
    view(buf)[index] = v
    return buf * buf


def _inplace_view(lib, w, name):
    buf = _buffer(lib, w, 2, 3)
    getattr(buf[1], name)(w)
    return buf


def _inplace_diagonal(lib, w):
    buf = _buffer(lib, w, 3, 4)
    buf.diagonal(1).mul_(w)  # strided positions: every fifth element
    buf.diagonal(-1)[1] = w[0]
    return buf


def _imul(buf, w):
    buf *= w
    return buf


def _elem_mul(lib, w):
    buf = _buffer(lib, w, 2, 3)
    buf[1, 2].mul_(w[0])  # one element: a 0-d view
    return buf


def _set_masked_view(lib, s):
    buf = _buffer(lib, s, 3, 2)
    buf[1:].masked_scatter_(lib.tensor([[True, False], [False, True]]), s)
    return buf


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_gradient_through_buffer_write_matches_torch(backend, name):
    fn, specs, *opts = PROGRAMS[name]
    check_op(fn, *specs, **(opts[0] if opts else {}))


@pytest.mark.parametrize("name", ["int_rows_in_a_loop", "view_of_view", "base_then_view",
                                  "augmented_into_view", "view_of_buffer_that_took_writes",
                                  "index_put_accumulate_repeated", "masked_scatter_view"])
def test_second_order_through_buffer_write_matches_torch(backend, name):
    """The recorded writes are differentiable again (create_graph=True); the programs' outputs
    are squared so that their first-order gradients depend on the inputs."""
    fn, specs, *_ = PROGRAMS[name]

    def squared(lib, *args):
        out = fn(lib, *args)
        return (out[0] if isinstance(out, tuple) else out) ** 2
    check_second_order(squared, *specs)


@pytest.mark.parametrize("name", ["int_rows_in_a_loop", "int_tensor_index", "bool_mask_rows",
                                  "view_chain_int_int", "row_view", "add_", "copy_broadcast",
                                  "index_put_", "masked_scatter_", "element_view_mul_"])
def test_buffer_takes_the_write_onto_the_tape(backend, name):
    """The buffer itself requires grad afterwards, with a grad_fn (not a leaf), as in PyTorch;
    before, the write was silently left off the tape."""
    fn, specs, *_ = PROGRAMS[name]
    args = [tl.tensor(np.random.standard_normal(s.shape), requires_grad=True) for s in specs]
    out = fn(tl, *args)
    out = out[0] if isinstance(out, tuple) else out
    assert out.requires_grad and out.grad_fn is not None and not out.is_leaf
    out.sum().backward()
    assert all(a.grad is not None for a in args)


def test_write_into_row_of_plain_buffer_reaches_the_encoder(backend):
    """The issue's program: buf = zeros(L, H); buf[i] = enc_out[0, 0]."""
    enc_out = tl.randn(1, 2, 3, requires_grad=True)
    buf = tl.zeros(4, 3)
    buf[2] = enc_out[0, 0]
    assert buf.requires_grad and buf.grad_fn is not None
    (buf * tl.arange(12.0).reshape(4, 3)).sum().backward()
    expected = np.zeros((1, 2, 3), np.float32)
    expected[0, 0] = np.arange(6.0, 9.0)
    np.testing.assert_array_equal(enc_out.grad.numpy(), expected)


def test_write_through_view_without_grad_changes_the_base(backend):
    buf = tl.zeros(2, 3)
    buf[0, 1].add_(1.0)  # one element: a 0-d view, not a copy
    row = buf[1]
    row[2] = 5.0
    buf.t()[0].fill_(-1.0)
    assert buf.tolist() == [[-1.0, 1.0, 0.0], [-1.0, 0.0, 5.0]]
    assert not buf.requires_grad and buf.grad_fn is None


def test_reading_a_view_after_the_write_gives_the_written_values(backend):
    w = tl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    buf = tl.zeros(2, 3)
    row = buf[0]
    row.copy_(w)
    (row * tl.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert w.grad.tolist() == [1.0, 10.0, 100.0]


def _leaf_cases(lib):
    def view_of_leaf():
        p = lib.zeros(3, requires_grad=True)
        p[0].mul_(2)

    def row_of_leaf():
        p = lib.zeros(2, 3, requires_grad=True)
        p[1][0] = lib.ones((), requires_grad=True)

    def setitem_on_leaf():
        p = lib.zeros(3, requires_grad=True)
        p[0] = 2.0

    def index_put_on_leaf():
        p = lib.zeros(3, requires_grad=True)
        p.index_put_((lib.tensor([0]),), lib.ones(1))
    return {"view_of_leaf": view_of_leaf, "row_of_leaf": row_of_leaf,
            "setitem_on_leaf": setitem_on_leaf, "index_put_on_leaf": index_put_on_leaf}


@pytest.mark.parametrize("name", list(_leaf_cases(torch)))
def test_changing_a_leaf_that_requires_grad_is_refused_as_torch(backend, name):
    with pytest.raises(RuntimeError, match="leaf"):
        _leaf_cases(torch)[name]()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        _leaf_cases(tl)[name]()


@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
def test_view_of_a_computed_tensor_written_while_a_gradient_flows(backend_name):
    """Writing through a view of a tensor another op computed, as PyTorch allows: the base's
    history takes the write, and the gradients match torch's."""
    rng = np.random.default_rng(1)
    w_np, up = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    writes = (lambda lib, b, w: b[0].mul_(2.0), lambda lib, b, w: b[0].__setitem__(1, w[0, 0]),
              lambda lib, b, w: b.t()[1].copy_(w[0, :2]))
    for write in writes:
        def run(lib):
            w = lib.tensor(w_np, requires_grad=True)
            buf = w * 2
            write(lib, buf, w)
            (buf * lib.tensor(up)).sum().backward()
            return buf.detach().numpy(), w.grad.numpy()
        with tl.use_backend(backend_name):
            ours = run(tl)
        for a, b in zip(ours, run(torch)):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_leaf_view_is_fine_under_no_grad(backend):
    p = tl.zeros(2, 3, requires_grad=True)
    with tl.no_grad():
        p[1][0] = 4.0
    assert p.tolist() == [[0.0, 0.0, 0.0], [4.0, 0.0, 0.0]] and p.is_leaf


def test_view_of_non_contiguous_storage_is_refused_not_silently_dropped(backend):
    a = np.zeros((3, 4), np.float32)[:, ::2]  # a strided base that owns no contiguous storage
    buf = tl.from_numpy(a).to(tl.get_backend().device)
    if buf._data.flags.c_contiguous:
        pytest.skip("this backend copies strided arrays into contiguous storage")
    w = tl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not contiguous"):
        buf[0].copy_(w)


def _error_cases(lib):
    m = [[True, False, True], [False, True, False]]
    return {
        "index_put_dtype": lambda: lib.zeros(3).index_put_((lib.tensor([0]),),
                                                            lib.ones(1, dtype=lib.float64)),
        "index_put_shape": lambda: lib.zeros(3, 2).index_put_((lib.tensor([0, 1]),), lib.ones(3)),
        "index_put_list_index": lambda: lib.zeros(3).index_put_(([0],), lib.ones(1)),
        "index_put_number_value": lambda: lib.zeros(3).index_put_((lib.tensor([0]),), 1.0),
        "masked_scatter_float_mask": lambda: lib.zeros(2, 3).masked_scatter_(
            lib.tensor(m).float(), lib.ones(6)),
        "masked_scatter_short_source": lambda: lib.zeros(2, 3).masked_scatter_(
            lib.tensor(m), lib.ones(2)),
        "masked_scatter_dtype": lambda: lib.zeros(2, 3).masked_scatter_(
            lib.tensor(m), lib.ones(6, dtype=lib.float64)),
        "masked_scatter__broadcast_self": lambda: lib.zeros(3).masked_scatter_(
            lib.tensor(m), lib.ones(6)),
        "cat_out_with_grad": lambda: lib.cat([lib.ones(2, requires_grad=True), lib.ones(1)],
                                             out=lib.zeros(3)),
        "cat_out_requiring_grad": lambda: lib.cat([lib.ones(2)],
                                                  out=lib.zeros(2, requires_grad=True)),
        "stack_out_with_grad": lambda: lib.stack([lib.ones(2, requires_grad=True)],
                                                 out=lib.zeros(1, 2)),
        "cat_out_narrower_dtype": lambda: lib.cat([lib.ones(2)],
                                                  out=lib.zeros(2, dtype=lib.int64)),
    }


# what the message says, beyond the exception type torch raises
_MESSAGES = {"index_put_dtype": "dtypes to match", "index_put_shape": "shape mismatch",
             "masked_scatter_short_source": "number of ones in mask",
             "masked_scatter_float_mask": "boolean masks", "cat_out_with_grad": "out=",
             "cat_out_requiring_grad": "out=", "stack_out_with_grad": "out=",
             "cat_out_narrower_dtype": "can't be cast"}


@pytest.mark.parametrize("name", list(_error_cases(torch)))
def test_errors_as_torch(backend, name):
    with pytest.raises(Exception) as expected:
        _error_cases(torch)[name]()
    with pytest.raises(expected.type, match=_MESSAGES.get(name)):
        _error_cases(tl)[name]()


@pytest.mark.parametrize("lib", [tl, torch], ids=["tensorlite", "torch"])
def test_cat_and_stack_into_out(backend, lib):
    """out= writes the result into the given tensor (no gradient involved: refused otherwise, as
    PyTorch), resizing it with a warning when its shape differs."""
    out = lib.zeros(2, 3)
    got = lib.cat([lib.ones(1, 3), lib.full((1, 3), 2.0)], out=out)
    assert got is out and out.tolist() == [[1.0] * 3, [2.0] * 3]
    out = lib.zeros(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lib.cat([lib.ones(2), lib.ones(1)], out=out)
    assert out.shape == (3,) and any("resized" in str(w.message) for w in caught)
    out = lib.zeros(2, 2, dtype=lib.float64)
    assert lib.stack([lib.ones(2), lib.zeros(2)], dim=1, out=out) is out
    assert out.dtype == lib.float64 and out.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    w = lib.ones(2, requires_grad=True)
    out = lib.zeros(4)
    with lib.no_grad():
        lib.cat([w, w], out=out)
    assert not out.requires_grad and out.tolist() == [1.0] * 4


@pytest.mark.parametrize("name", ["int_rows_in_a_loop", "bool_mask_elements", "view_chain_int_int",
                                  "transposed_view", "view_of_buffer_that_took_writes",
                                  "index_put_accumulate_repeated", "masked_scatter_view"])
def test_buffer_writes_on_the_device_backend_host_stand_in(host_cuda, name):
    """The device backend's path (views located through the CUDA array interface) on the host
    stand-in of tests/cupy_standin.py, against torch."""
    fn, specs, *opts = PROGRAMS[name]
    check_op(fn, *specs, **(opts[0] if opts else {}))


# -- a view taken before its base was written keeps up with the base's history ------------------
@pytest.mark.parametrize("backend_name", ["numpy", "numba"])
@pytest.mark.parametrize("case", ["row", "column", "transposed", "view_of_view", "two_writes"])
def test_a_view_taken_before_a_write_sees_it_on_the_tape(backend_name, case):
    rng = np.random.default_rng(0)
    enc_np, up = rng.standard_normal((2, 3)), rng.standard_normal(3)

    def run(lib):
        enc = lib.tensor(enc_np, requires_grad=True)
        buf = lib.zeros(2, 3, dtype=enc.dtype)
        view = {"row": lambda: buf[0], "column": lambda: buf[:, 1],
                "transposed": lambda: buf.t()[1],
                "view_of_view": lambda: buf[0][1:], "two_writes": lambda: buf[1]}[case]()
        buf[0, 1] = enc[0, 0] * 2
        buf[1] = enc[1] ** 2
        if case == "two_writes":
            buf[1, 2] = enc[0, 2]
        w = lib.tensor(up[:view.shape[0]])
        (view * w).sum().backward()
        return view.detach().numpy(), enc.grad.numpy()

    with tl.use_backend(backend_name):
        ours = run(tl)
    theirs = run(torch)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
