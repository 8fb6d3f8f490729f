"""Linear algebra: matrix products, einsum, diagonals and triangles, and the decompositions
behind ``tensorlite.linalg`` (inverse, determinant, solve, Cholesky, QR, SVD, eigh, pinv).

Each decomposition is one backend primitive (NumPy/CuPy ``linalg`` underneath) with PyTorch's
gradient formula (torch's FunctionsManual: inverse, det, slogdet, solve, cholesky, qr, svd,
eigh, pinv), written with tensor ops so it is differentiable again.  An op with several
differentiable outputs (qr, svd, eigh) records one node per output: the gradient is linear in
the outputs' gradients, so the nodes' contributions add up to PyTorch's.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .. import dtypes
from ..autograd.graph import record
from ..tensor import Tensor, describe, wrap
from .common import backend_of, binary, dims, unbroadcast
from .registry import op

if TYPE_CHECKING:
    from ..autograd.graph import Context
    from ..dtypes import DTypeLike
    from ..tensor import DeviceLike

F = TypeVar("F", bound=Callable[..., Any])


class LinAlgError(RuntimeError):
    """A linear algebra routine failed on its input (a singular matrix, a matrix that is not
    positive-definite): PyTorch's ``torch.linalg.LinAlgError``, a RuntimeError."""


LinAlgError.__module__ = "tensorlite.linalg"


# PyTorch's result types (torch.return_types.*): tuples with named fields
linalg_slogdet = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
linalg_qr = namedtuple("linalg_qr", ["Q", "R"])
linalg_svd = namedtuple("linalg_svd", ["U", "S", "Vh"])
linalg_eigh = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
linalg_lstsq = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


# ----------------------------------------------------------------------------- helpers
def _const(like: Tensor, data: Any) -> Tensor:
    """A constant tensor (no history) on ``like``'s device."""
    return wrap(data, like.device)


def _eye(like: Tensor, n: int) -> Tensor:
    return _const(like, backend_of(like, "eye").eye(n, dtype=like.dtype))


def _check_float(op: str, *tensors: Tensor) -> None:
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
        if dtypes.kind(t.dtype) != 2:
            raise RuntimeError(f"{op}: Expected a floating point tensor as input. Got {t.dtype} "
                               f"({describe(t)}); convert it with .double() or .float()")


def _check_matrix(op: str, A: Tensor, square: bool = True, name: str = "A") -> None:
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {name} must have at least 2 dimensions "
                           f"(got shape {list(A.shape)}); a matrix or a batch of matrices")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: {name} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _same_dtype(op: str, *tensors: Tensor) -> None:
    dts = {t.dtype for t in tensors}
    if len(dts) > 1:
        raise RuntimeError(f"{op}: Expected all tensors to have the same dtype, got "
                           + ", ".join(describe(t) for t in tensors)
                           + "; convert them with .to(dtype)")


def _lapack(op: str, why: str, fn: Any, *args: Any, **kw: Any) -> Any:
    """``fn(*args)``; the array module's LinAlgError (singular or not positive-definite input)
    becomes tensorlite.linalg.LinAlgError naming the op."""
    try:
        return fn(*args, **kw)
    except Exception as e:  # noqa: BLE001  numpy.linalg.LinAlgError (CuPy raises the same)
        if type(e).__name__ == "LinAlgError":
            raise LinAlgError(f"{op}: {why}") from None
        raise


def _broadcast_shapes(op: str, *shapes: Sequence[int]) -> tuple[int, ...]:
    n = builtins.max((len(s) for s in shapes), default=0)
    out = []
    for i in range(n):
        sizes = {s[len(s) - n + i] for s in shapes if len(s) - n + i >= 0} - {1}
        if len(sizes) > 1:
            raise RuntimeError(f"{op}: the batch shapes {[list(s) for s in shapes]} cannot be "
                               "broadcast together")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _scaled(t: Any, s: Any) -> Tensor:
    return t if s == 1 else t * s


def _mH(x: Any) -> Tensor:
    return x.transpose(-2, -1)


# ----------------------------------------------------------------------------- products
@op()
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """PyTorch's matmul: 1-D operands are promoted to a matrix and the added dim removed again;
    batch dims broadcast.  A sparse COO first operand multiplies as ``tensorlite.sparse.mm``."""
    if getattr(input, "is_sparse", False):
        from .. import sparse
        return sparse.matmul(input, other)  # type: ignore[arg-type]
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        _same_dtype("matmul", input, other)  # PyTorch does not promote: float32 @ float64 raises
    a, b, B = binary("matmul", input, other)
    if a.dtype == dtypes.bool_:
        raise NotImplementedError(f"matmul: not implemented for bool tensors ({describe(a)} and "
                                  f"{describe(b)}); convert them with .long() or .float()")
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes "
                           f"{list(a.shape)} and {list(b.shape)}")
    if a.ndim == 1 or b.ndim == 1:
        out = matmul(a.unsqueeze(0) if a.ndim == 1 else a, b.unsqueeze(-1) if b.ndim == 1 else b)
        if b.ndim == 1:
            out = out.squeeze(-1)
        return out.squeeze(-2 if b.ndim > 1 else -1) if a.ndim == 1 else out
    try:
        data = B.matmul(a._data, b._data)
    except ValueError:
        raise RuntimeError(f"matmul: shapes {list(a.shape)} and {list(b.shape)} cannot be "
                           f"multiplied ({a.shape[-2]}x{a.shape[-1]} and "
                           f"{b.shape[-2]}x{b.shape[-1]}; the inner sizes must match)") from None
    sa, sb = a.shape, b.shape
    return record("matmul", data, (a, b),
                  lambda ctx, g: unbroadcast(ctx, (lambda: g @ ctx.b.mT, sa),
                                             (lambda: ctx.a.mT @ g, sb)),
                  save={"a": a, "b": b})


def _need(op: str, t: Any, ndim: int, what: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor for {what}, got {type(t).__name__}")
    if t.ndim != ndim:
        raise RuntimeError(f"{op}: {what} must be a {ndim}-D tensor, got shape {list(t.shape)}")


@op()
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    if getattr(input, "is_sparse", False):
        from .. import sparse
        return sparse.mm(input, mat2)  # type: ignore[arg-type]
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expects two matrices, got shapes {list(input.shape)} and "
                           f"{list(mat2.shape)}")
    return matmul(input, mat2)


@op()
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    _need("bmm", input, 3, "input")
    _need("bmm", mat2, 3, "mat2")
    _same_dtype("bmm", input, mat2)
    if input.shape[0] != mat2.shape[0] or input.shape[2] != mat2.shape[1]:
        raise RuntimeError(f"bmm: shapes {list(input.shape)} and {list(mat2.shape)} do not "
                           "match: expected (b, n, m) and (b, m, p)")
    return matmul(input, mat2)


@op()
def dot(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: expects two 1-D tensors, got shapes {list(input.shape)} and "
                           f"{list(other.shape)}")
    return matmul(input, other)


@op()
def vdot(input: Tensor, other: Tensor) -> Tensor:
    """The dot product of two 1-D tensors, the first conjugated (real tensors: ``dot``)."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"vdot: expects two 1-D tensors, got shapes {list(input.shape)} and "
                           f"{list(other.shape)}")
    return dot(input, other)


@op()
def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix (n, m) times vector (m,)."""
    _need("mv", input, 2, "input")
    _need("mv", vec, 1, "vec")
    _same_dtype("mv", input, vec)
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"mv: size mismatch, got input ({input.shape[0]}x{input.shape[1]}) "
                           f"and vec ({vec.shape[0]})")
    return matmul(input, vec)


def _add_product(op: str, input: Tensor, product: Tensor, beta: float, alpha: float) -> Tensor:
    """beta * input + alpha * product; input broadcasts to the product's shape only; with
    beta == 0 the input is ignored (NaN and inf in it do not propagate), as PyTorch."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(input).__name__}")
    _same_dtype(op, input, product)
    try:
        shape = _broadcast_shapes(op, input.shape, product.shape)
    except RuntimeError:
        shape = None
    if shape != tuple(product.shape):
        raise RuntimeError(f"{op}: the input of shape {list(input.shape)} does not broadcast to "
                           f"the product's shape {list(product.shape)}")
    if dtypes.kind(product.dtype) < 2 and (isinstance(alpha, float) or isinstance(beta, float)):
        raise RuntimeError(f"{op}: for integral input tensors, argument alpha and beta must not "
                           f"be a floating point number (got alpha={alpha}, beta={beta})")
    out = _scaled(product, alpha)
    if beta == 0:  # the input is not read (no gradient either: PyTorch's is zero)
        return out
    return _scaled(input, beta) + out


@op(inplace=True)
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1
         ) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    return _add_product("addmm", input, mm(mat1, mat2), beta, alpha)


@op(inplace=True)
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: float = 1, alpha: float = 1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _add_product("addmv", input, mv(mat, vec), beta, alpha)


@op(inplace=True)
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1
           ) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2)."""
    return _add_product("baddbmm", input, bmm(batch1, batch2), beta, alpha)


@op(inplace=True)
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1
          ) -> Tensor:
    """beta * input + alpha * the sum over the batch of bmm(batch1, batch2)."""
    return _add_product("addbmm", input, bmm(batch1, batch2).sum(0), beta, alpha)


@op(aliases=("ger",))
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """The outer product of two 1-D tensors."""
    _need("outer", input, 1, "input")
    _need("outer", vec2, 1, "vec2")
    return input.unsqueeze(-1) * vec2.unsqueeze(0)


def _dim_list(d: Any) -> list[int]:
    return [d] if isinstance(d, int) else list(d)


@op()
def tensordot(a: Tensor, b: Tensor, dims: int | Sequence[Any] | Tensor = 2) -> Tensor:
    """Sum over the dims ``dims`` of ``a`` and ``b`` (an int n: a's last n with b's first n;
    or two lists of dims)."""
    _same_dtype("tensordot", a, b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot: dims={dims} exceeds the dims of the operands "
                               f"({list(a.shape)} and {list(b.shape)})")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be an int or a pair of dim lists, got "
                               f"{dims!r}")
        da, db = _dim_list(dims[0]), _dim_list(dims[1])
        if len(da) != len(db):
            raise RuntimeError(f"both dimension lists should have same length, got {da} and {db}")
        da, db = list(_axes("tensordot", da, a.ndim)), list(_axes("tensordot", db, b.ndim))
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has "
                               f"size {a.shape[x]} in dim {x} and second has size {b.shape[y]} "
                               f"in dim {y}")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [i for i in range(b.ndim) if i not in db]
    k = math.prod(a.shape[i] for i in da)
    out_shape = tuple(a.shape[i] for i in fa) + tuple(b.shape[i] for i in fb)
    am = a.permute(fa + da).reshape(math.prod(a.shape[i] for i in fa), k)
    bm = b.permute(db + fb).reshape(k, math.prod(b.shape[i] for i in fb))
    return matmul(am, bm).reshape(out_shape)


def _axes(op: str, d: Any, ndim: int) -> tuple[int, ...]:
    """The dims of list ``d`` normalized (an empty list: none, not every dim)."""
    return dims(op, tuple(d), ndim) if d else ()


@op()
def inner(input: Tensor, other: Tensor) -> Tensor:
    """Dot products over the last dims (a 0-d operand: the product)."""
    _same_dtype("inner", input, other)
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


@op()
def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product: blocks ``input[i] * other``."""
    a, b, _ = binary("kron", input, other)
    n = builtins.max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + tuple(a.shape), (1,) * (n - b.ndim) + tuple(b.shape)
    a2 = a.reshape(tuple(x for s in sa for x in (s, 1)))
    b2 = b.reshape(tuple(x for s in sb for x in (1, s)))
    return (a2 * b2).reshape(tuple(x * y for x, y in zip(sa, sb)))


def _cross(op: str, input: Tensor, other: Tensor, dim: Any) -> Tensor:
    _same_dtype(op, input, other)
    a, b, _ = binary(op, input, other)
    shape = _broadcast_shapes(op, a.shape, b.shape)
    if dim is None:  # (PyTorch looks at the first input's sizes only)
        dim = next((i for i, n in enumerate(a.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError(f"{op}: no dimension of size 3 in input of shapes "
                               f"{list(a.shape)} and {list(b.shape)}; pass dim=")
    if a.ndim != b.ndim:
        raise RuntimeError(f"{op}: inputs must have the same number of dimensions, got shapes "
                           f"{list(a.shape)} and {list(b.shape)}")
    (d,) = dims(op, dim, len(shape))
    if (len(shape) - a.ndim > d or a.shape[d - len(shape) + a.ndim] != 3) or \
            (len(shape) - b.ndim > d or b.shape[d - len(shape) + b.ndim] != 3):
        raise RuntimeError(f"{op}: inputs dimension {dim} must have length 3, got shapes "
                           f"{list(a.shape)} and {list(b.shape)}")
    a, b = a.expand(shape), b.expand(shape)
    lead = (slice(None),) * d

    def pick(t: Any, order: Any) -> Any:
        return t[lead + (order,)]
    return pick(a, [1, 2, 0]) * pick(b, [2, 0, 1]) - pick(a, [2, 0, 1]) * pick(b, [1, 2, 0])


@op()
def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (None: the first dim of size 3)."""
    return _cross("cross", input, other, dim)


# ----------------------------------------------------------------------------- einsum
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _parse_einsum(equation: str, shapes: Any) -> Any:
    """The equation with every ellipsis and broadcast dim made explicit: (input subscripts,
    output subscripts, letter sizes)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(f"einsum(): {len(terms)} operands in the equation {equation!r} but "
                           f"{len(shapes)} tensors given")
    for t in terms + ([rhs] if arrow else []):
        bad = set(t.replace("...", "")) - set(_LETTERS)
        if bad or t.replace("...", "").count(".") or t.count("...") > 1:
            raise RuntimeError(f"einsum(): invalid subscript in {equation!r}: subscripts are "
                               "letters a-z, A-Z and at most one ellipsis per operand")
    used = set(eq) & set(_LETTERS)
    fresh = iter(c for c in _LETTERS if c not in used)
    ell_n = 0
    for t, s in zip(terms, shapes):
        named = len(t.replace("...", ""))
        if "..." in t:
            if named > len(s):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) "
                                   f"is more than the number of dimensions ({len(s)}) for "
                                   f"operand {terms.index(t)}")
            ell_n = builtins.max(ell_n, len(s) - named)
        elif named != len(s):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does "
                               f"not match the number of dimensions ({len(s)}) for operand "
                               f"{terms.index(t)} and no ellipsis was given")
    ell = [next(fresh) for _ in range(ell_n)]
    # letter -> its size over the operands (1 broadcasts)
    expanded = []
    for i, (t, s) in enumerate(zip(terms, shapes)):
        if "..." in t:
            pre, post = t.split("...")
            k = len(s) - len(pre) - len(post)
            t = pre + "".join(ell[ell_n - k:]) + post
        expanded.append(t)
    sizes: dict[str, int] = {}
    for i, (t, s) in enumerate(zip(expanded, shapes)):
        seen: dict[str, int] = {}
        for c, n in zip(t, s):
            if c in seen and seen[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the "
                                   f"sizes don't match, {n} != {seen[c]}")
            seen[c] = n
            if n != 1:
                if sizes.get(c, 1) not in (1, n):
                    raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} "
                                       f"which does not broadcast with previously seen size "
                                       f"{sizes[c]}")
                sizes[c] = n
            else:
                sizes.setdefault(c, 1)
    if arrow:
        if "..." in rhs:
            pre, post = rhs.split("...")
            out = pre + "".join(ell) + post
        else:
            out = rhs
            if ell and any(sizes[c] != 1 for c in ell):
                pass  # ellipsis dims left out of the output are summed
        for c in out:
            if c not in sizes:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
        if len(set(out)) != len(out):
            raise RuntimeError(f"einsum(): output subscript {out} appears more than once in the "
                               "output")
    else:
        counts: dict[str, int] = {}
        for t in terms:
            for c in t.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = "".join(ell) + "".join(sorted(c for c, k in counts.items() if k == 1))
    # size-1 dims against a larger size: a letter of their own (summed in that operand alone,
    # as PyTorch, which sums a dim out of the other operand where one operand's size is 1)
    final = []
    for t, s in zip(expanded, shapes):
        final.append("".join(next(fresh) if n == 1 and sizes[c] != 1 else c
                             for c, n in zip(t, s)))
    return final, out, sizes


def _einsum_raw(equation: str, *operands: Tensor) -> Tensor:
    """einsum of tensors whose subscripts are explicit and consistent (no broadcasting)."""
    B = backend_of(operands[0], "einsum")
    lhs, out = equation.split("->")
    terms = lhs.split(",")
    data = B.einsum(equation, *(t._data for t in operands))
    if not isinstance(data, type(operands[0]._data)):  # a 0-d result may come back as a scalar
        data = B.asarray(data)
    sizes = {c: n for t, x in zip(terms, operands) for c, n in zip(t, x.shape)}

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        grads: list[Tensor | None] = []
        for i, (t, need) in enumerate(zip(terms, ctx.needs_input_grad)):
            if not need:
                grads.append(None)
                continue
            others = [(terms[j], operands[j]) for j in range(len(terms)) if j != i]
            avail = set(out) | {c for s, _ in others for c in s}
            # the operand's subscripts with each repeated letter's later uses renamed (their
            # diagonal: an identity factor), and a letter summed only here (a ones factor)
            used = set(equation)
            fresh = iter(c for c in _LETTERS if c not in used)
            target, seen, extra = [], set(), []
            for c in t:
                if c in seen:
                    r = next(fresh)
                    extra.append((c + r, _eye(g, sizes[c])))
                    target.append(r)
                else:
                    seen.add(c)
                    target.append(c)
                    if c not in avail:
                        extra.append((c, _const(g, B.ones((sizes[c],), dtype=g.dtype))))
            subs = [out] + [s for s, _ in others] + [s for s, _ in extra]
            ts = [g] + [x for _, x in others] + [x for _, x in extra]
            grads.append(_einsum_raw(",".join(subs) + "->" + "".join(target), *ts))
        return tuple(grads)
    return record("einsum", data, tuple(operands), backward)


@op(method=False)
def einsum(equation: str, *operands: Tensor) -> Tensor:
    """Einstein summation (``einsum("bij,bjk->bik", a, b)``), with ellipses, broadcasting and
    the implicit output (the letters used once, sorted) as PyTorch; operands may also come as
    one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a string, got {type(equation).__name__}"
                        " (the sublist format is not supported)")
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    for t in operands:
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): expected Tensor operands, got {type(t).__name__}")
    _same_dtype("einsum()", *operands)
    if operands[0].dtype == dtypes.bool_:
        raise NotImplementedError("einsum(): not implemented for bool tensors; convert them "
                                  "with .long() or .float()")
    terms, out, _ = _parse_einsum(equation, [tuple(t.shape) for t in operands])
    # As PyTorch (without opt_einsum), so inf and NaN meet zeros where they do there: each
    # operand's dims used nowhere else are summed out first (and diagonals taken), then the
    # operands are contracted left to right, two at a time.
    ops = []
    for i, (sub, t) in enumerate(zip(terms, operands)):
        elsewhere = set(out).union(*(terms[:i] + terms[i + 1:]))
        keep = "".join(dict.fromkeys(c for c in sub if c in elsewhere))
        ops.append((keep, _einsum_raw(f"{sub}->{keep}", t) if keep != sub else t))
    sub, acc = ops[0]
    for i in range(1, len(ops)):
        later = set(out).union(*(s for s, _ in ops[i + 1:]))
        keep = "".join(dict.fromkeys(c for c in sub + ops[i][0] if c in later))
        acc, sub = _einsum_raw(f"{sub},{ops[i][0]}->{keep}", acc, ops[i][1]), keep
    return _einsum_raw(f"{sub}->{out}", acc) if sub != out else acc


# ----------------------------------------------------------------------------- diagonals
def _diag_length(shape: Any, offset: int, d1: int, d2: int) -> int:
    n1, n2 = shape[d1], shape[d2]
    return builtins.max(builtins.min(n1 - builtins.max(-offset, 0), n2 - builtins.max(offset, 0)),
                        0)


def _diagonal_embed(v: Any, shape: Any, offset: int, d1: int, d2: int) -> Tensor:
    B = backend_of(v, "diag_embed")
    return record("diag_embed", B.diagonal_embed(v._data, tuple(shape), offset, d1, d2), (v,),
                  lambda ctx, g: (diagonal(g, offset, d1, d2),))


@op()
def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The ``offset`` diagonal of the (dim1, dim2) planes, as the last dim: a view, as PyTorch's
    (``x.diagonal().zero_()`` changes ``x``)."""
    B = backend_of(input, "diagonal")
    if input.ndim < 2:
        raise IndexError(f"diagonal: expected a tensor of at least 2 dimensions, got shape "
                           f"{list(input.shape)}")
    d1, = dims("diagonal", dim1, input.ndim)
    d2, = dims("diagonal", dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape = tuple(input.shape)
    if _diag_length(shape, offset, d1, d2) == 0:  # NumPy refuses an offset beyond the matrix
        rest = tuple(n for i, n in enumerate(shape) if i not in (d1, d2))
        data = B.zeros(rest + (0,), dtype=input.dtype)
    else:
        data = B.diagonal(input._data, offset, d1, d2)
    return record("diagonal", data, (input,),
                  lambda ctx, g: (_diagonal_embed(g, shape, offset, d1, d2),),
                  view_of=None if _diag_length(shape, offset, d1, d2) == 0 else input)


@op()
def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A tensor whose (dim1, dim2) planes hold ``input``'s last dim on their ``offset``
    diagonal (zeros elsewhere)."""
    ndim = input.ndim + 1
    d1, = dims("diag_embed", dim1, ndim)
    d2, = dims("diag_embed", dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = (input.shape[-1] if input.ndim else 1) + abs(offset)
    rest = list(input.shape[:-1])
    shape = []
    for i in range(ndim):
        shape.append(n if i in (d1, d2) else rest.pop(0))
    return _diagonal_embed(input if input.ndim else input.reshape(1), shape, offset, d1, d2)


@op()
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: the square matrix with it on the ``diagonal`` diagonal; 2-D: that diagonal."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal, 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D (shape "
                       f"{list(input.shape)})")


@op()
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The flattened input on the ``offset`` diagonal of a square matrix."""
    return diag_embed(input.reshape(-1), offset, 0, 1)


@op()
def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal (integer inputs give int64)."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim} "
                           f"(shape {list(input.shape)})")
    if input.dtype == dtypes.bool_:
        raise NotImplementedError('"trace" not implemented for \'Bool\'')
    return diagonal(input).sum()


def _triangle(name: str, input: Tensor, k: int) -> Tensor:
    B = backend_of(input, name)
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got shape "
                           f"{list(input.shape)}")
    k = int(k)
    keep = getattr(B, name)
    return record(name, keep(input._data, k), (input,), lambda ctx, g: (_triangle(name, g, k),))


@op(inplace=True)
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (on and below the ``diagonal`` diagonal) of the last two dims."""
    return _triangle("tril", input, diagonal)


@op(inplace=True)
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (on and above the ``diagonal`` diagonal) of the last two dims."""
    return _triangle("triu", input, diagonal)


def _tri_indices(name: str, row: int, col: int, offset: int, dtype: DTypeLike | None,
                 device: DeviceLike | None) -> Tensor:
    from ..creation import _device
    for v, what in ((row, "row"), (col, "col"), (offset, "offset")):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{name}(): argument '{what}' must be int, not {type(v).__name__}")
    if row < 0 or col < 0:
        raise RuntimeError(f"{name}: row must be non-negative, got {row}" if row < 0 else
                           f"{name}: col must be non-negative, got {col}")
    dtype = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    if dtype not in (dtypes.int64, dtypes.int32):
        raise NotImplementedError(f"\"{name}\" not implemented for {dtype}; use "
                                  "dtype=tensorlite.long or tensorlite.int")
    device, B = _device(device)
    data = B.tri_indices(row, col, offset, name == "triu_indices")
    return wrap(data if dtype == dtypes.int64 else B.astype(data, dtype), device)


@op(method=False)
def tril_indices(row: int, col: int, offset: int = 0, *, dtype: DTypeLike | None = None,
                 device: DeviceLike | None = None, layout: Any = None) -> Tensor:
    """The (2, N) coordinates of the lower triangle of a row x col matrix, row by row."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device)


@op(method=False)
def triu_indices(row: int, col: int, offset: int = 0, *, dtype: DTypeLike | None = None,
                 device: DeviceLike | None = None, layout: Any = None) -> Tensor:
    """The (2, N) coordinates of the upper triangle of a row x col matrix, row by row."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device)


# ----------------------------------------------------------------------------- inverse, det
def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix of ``A`` (..., n, n)."""
    _check_float("linalg.inv", A)
    _check_matrix("linalg.inv", A)
    B = backend_of(A, "linalg.inv")
    data = _lapack("linalg.inv", "the input matrix is singular (a zero pivot in its LU "
                   "factorization), so it has no inverse; use linalg.pinv or linalg.lstsq for "
                   "singular or ill-conditioned matrices", B.inv, A._data)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        Ai = _mH(ctx.y)
        return (-(Ai @ g @ Ai),)
    return record("linalg_inv", data, (A,), backward, output="y")


@op()
def inverse(input: Tensor) -> Tensor:
    """``tensorlite.linalg.inv``."""
    return inv(input)


def _cofactor(A: Tensor, d: Any) -> Tensor:
    """det(A) * A^{-T}, the gradient of det at A, as PyTorch computes it: a 1 x 1 matrix gets
    1; a singular matrix (det exactly 0) gets 0 at first order (PyTorch's det times the
    solution of a perturbed system) and its adjugate (from the SVD) under create_graph."""
    from ..autograd.grad_mode import is_grad_enabled
    from .pointwise import where
    B = backend_of(A, "linalg.det")
    n = A.shape[-1]
    if A.numel() == 0:
        return A * 0
    if n == 1:
        return A * 0 + 1
    singular = d == 0
    if not bool(B.to_host(B.any(singular._data))):
        return d.unsqueeze(-1).unsqueeze(-1) * _mH(inv(A))
    mask = singular.unsqueeze(-1).unsqueeze(-1)
    regular = d.unsqueeze(-1).unsqueeze(-1) * _mH(inv(where(mask, _eye(A, n), A)))
    if not is_grad_enabled():
        return where(mask, 0.0, regular)
    # the adjugate: det(U) det(Vh) U diag(prod of the other singular values) Vh
    U, S, Vh = svd(A)
    others: list[Any] = []
    for i in range(n):
        p = None
        for j in range(n):
            if j != i:
                p = S[..., j:j + 1] if p is None else p * S[..., j:j + 1]
        others.append(p)
    from .movement import cat
    sign = (det(U.detach()) * det(Vh.detach())).unsqueeze(-1).unsqueeze(-1)
    adj = sign * ((U * cat(others, -1).unsqueeze(-2)) @ Vh)
    return where(mask, adj, regular)


def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix of ``A``."""
    _check_float("linalg.det", A)
    _check_matrix("linalg.det", A)
    B = backend_of(A, "linalg.det")
    data = B.det(A._data)
    if not isinstance(data, type(A._data)):
        data = B.asarray(data, dtype=A.dtype)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        return (g.unsqueeze(-1).unsqueeze(-1) * _cofactor(ctx.A, ctx.y),)
    return record("linalg_det", data, (A,), backward, save={"A": A}, output="y")


def slogdet(A: Tensor) -> Any:
    """(sign, log|det|) of each square matrix: ``(sign, logabsdet)``."""
    _check_float("linalg.slogdet", A)
    _check_matrix("linalg.slogdet", A)
    B = backend_of(A, "linalg.slogdet")
    sign, logabs = B.slogdet(A._data)
    sign, logabs = B.asarray(sign, dtype=A.dtype), B.asarray(logabs, dtype=A.dtype)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        return (g.unsqueeze(-1).unsqueeze(-1) * _mH(inv(ctx.A)),)
    return linalg_slogdet(wrap(sign, A.device),
                          record("linalg_slogdet", logabs, (A,), backward, save={"A": A}))


# Tensor methods and torch.* functions of the same names
@op(aliases=())
def logdet(input: Tensor) -> Tensor:
    """log(det(input)): NaN where the determinant is negative, -inf where it is 0."""
    sign, logabs = slogdet(input)
    from .pointwise import where
    return where(sign == -1, math.nan, logabs)


op()(det)
op(method=True)(slogdet)


# ----------------------------------------------------------------------------- solve
def _solve_raw(A: Tensor, Bm: Tensor) -> Tensor:
    """X with A @ X == Bm, both (..., n, *) with equal batch dims."""
    B = backend_of(A, "linalg.solve")
    data = _lapack("linalg.solve", "The solver failed because the input matrix is singular; "
                   "use linalg.lstsq for singular or ill-conditioned systems", B.solve,
                   A._data, Bm._data)

    def backward(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        need_a, need_b = ctx.needs_input_grad
        gB = _solve_raw(_mH(ctx.A), g)
        gA = -(gB @ _mH(ctx.y)) if need_a else None
        return gA, gB if need_b else None
    return record("linalg_solve", data, (A, Bm), backward, save={"A": A}, output="y")


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A @ X == B (``left=False``: X @ A == B); B a batch of vectors (..., n) or of
    matrices (..., n, k); batch dims broadcast."""
    _check_float("linalg.solve", A, B)
    _check_matrix("linalg.solve", A)
    _same_dtype("linalg.solve", A, B)
    if not left:
        if B.ndim < 2:
            raise RuntimeError(f"linalg.solve: with left=False, B must have at least 2 "
                               f"dimensions, got shape {list(B.shape)}")
        return _mH(solve(_mH(A), _mH(B)))
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    X = _solve_matrices(A, B.unsqueeze(-1) if vector else B)
    return X.squeeze(-1) if vector else X


def _solve_matrices(A: Tensor, Bm: Tensor) -> Tensor:
    """linalg.solve for a batch of right-hand-side matrices Bm (..., n, k)."""
    if Bm.ndim < 2 or Bm.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{Bm.shape[-2] if Bm.ndim >= 2 else Bm.shape[-1]}x{Bm.shape[-1]})")
    batch = _broadcast_shapes("linalg.solve", tuple(A.shape[:-2]), tuple(Bm.shape[:-2]))
    Ae = A if tuple(A.shape[:-2]) == batch else A.expand(batch + tuple(A.shape[-2:]))
    Be = Bm if tuple(Bm.shape[:-2]) == batch else Bm.expand(batch + tuple(Bm.shape[-2:]))
    if Ae.numel() == 0:  # (a right side with no columns still has A checked: below)
        X = _empty_solution(Ae, Be)
    else:
        X = _solve_raw(Ae, Be)
    return X


def _empty_solution(A: Tensor, Bm: Tensor) -> Tensor:
    """The solution of systems with a size-0 dim: zeros, with a zero gradient to A and B."""
    z = wrap(backend_of(A, "linalg.solve").zeros(Bm.shape, dtype=Bm.dtype), Bm.device)
    return z + (A.sum() + Bm.sum()) * 0 if (A.requires_grad or Bm.requires_grad) else z


# ----------------------------------------------------------------------------- Cholesky
def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The lower-triangular L with A == L @ L.mT (``upper``: U == L.mT) of each symmetric
    positive-definite matrix; only A's lower triangle is read."""
    _check_float("linalg.cholesky", A)
    _check_matrix("linalg.cholesky", A)
    B = backend_of(A, "linalg.cholesky")
    if A.shape[-1] == 0:
        L = A * 0 if A.requires_grad else wrap(B.copy(A._data), A.device)
        return L
    data = _lapack("linalg.cholesky", "The factorization could not be completed because the "
                   "input is not positive-definite", B.cholesky, A._data)

    def backward(ctx: Context, gL: Tensor) -> Sequence[Tensor | None]:
        L = ctx.L
        gA = (_mH(L) @ gL).tril()
        gA = 0.5 * (gA + _mH(gA.tril(-1)))
        Li = inv(L)
        return (_mH(Li) @ gA @ Li,)
    L = record("linalg_cholesky", data, (A,), backward, output="L")
    return _mH(L) if upper else L


# ----------------------------------------------------------------------------- QR
def _qr_square_backward(gQ: Tensor | None, gR: Tensor | None, Q: Tensor, R: Tensor
                        ) -> Tensor | None:
    """PyTorch's QR backward for m >= n (Q: m x n, R: n x n)."""
    M: Any = 0
    if gR is not None:
        M = gR @ _mH(R)
    if gQ is not None:
        M = M - _mH(Q) @ gQ
    if isinstance(M, int):
        return None
    # Q (triu(M) + tril(M.T, -1)), then + gQ, then times R^{-T}
    inner_ = M.triu() + _mH(M).tril(-1)
    gA = Q @ inner_
    if gQ is not None:
        gA = gA + gQ
    return _mH(solve(R, _mH(gA)))


def _qr_backward(gQ: Tensor | None, gR: Tensor | None, Q: Tensor, R: Tensor,
                 A_shape: tuple[int, ...], mode: str) -> Tensor | None:
    m, n = A_shape[-2], A_shape[-1]
    if mode == "complete" and m > n:
        raise RuntimeError("linalg.qr: The QR decomposition is not differentiable when "
                           "mode='complete' and nrows > ncols; use mode='reduced'")
    if m >= n:
        return _qr_square_backward(gQ, gR, Q, R)
    # m < n: A = Q [X | Y], R = [U | V]; X's QR is square, V = Q^T Y
    U, Vr = R[..., :, :m], R[..., :, m:]
    gU = gR[..., :, :m] if gR is not None else None
    gV = gR[..., :, m:] if gR is not None else None
    Y = Q @ Vr
    gQe = gQ
    if gV is not None:
        gQe = (Y @ _mH(gV)) if gQe is None else gQe + Y @ _mH(gV)
    gX = _qr_square_backward(gQe, gU, Q, U)
    gY = Q @ gV if gV is not None else Y * 0
    if gX is None:
        gX = Q @ U * 0
    from .movement import cat
    return cat([gX, gY], -1)


def qr(A: Tensor, mode: str = "reduced") -> Any:
    """A == Q @ R with Q's columns orthonormal and R upper triangular: ``(Q, R)``; ``mode``
    "reduced" (k = min(m, n) columns), "complete" (Q square) or "r" (Q empty)."""
    _check_float("linalg.qr", A)
    _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    B = backend_of(A, "linalg.qr")
    m, n = A.shape[-2], A.shape[-1]
    shape = tuple(A.shape)
    if 0 in shape:
        k = builtins.min(m, n)
        qm = m if mode == "complete" else k
        q = B.zeros(shape[:-2] + (m, qm), dtype=A.dtype)
        if qm and mode != "r":
            q = q + B.eye(m, qm, dtype=A.dtype)
        r = B.zeros(shape[:-2] + ((m if mode == "complete" else k), n), dtype=A.dtype)
    else:
        q, r = B.qr(A._data, "complete" if mode == "complete" else "reduced")
    holder: dict[str, Any] = {}

    def back_q(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        return (_qr_backward(g, None, holder["Q"], holder["R"], shape, mode),)

    def back_r(ctx: Context, g: Tensor) -> Sequence[Tensor | None]:
        if mode == "r":
            raise RuntimeError("linalg.qr: The derivative of linalg.qr depends on Q, which is "
                               "not computed when mode='r'. Please use linalg.qr(A, "
                               "mode='reduced') if you are going to differentiate through "
                               "linalg.qr.")
        return (_qr_backward(None, g, holder["Q"], holder["R"], shape, mode),)
    if mode == "r":
        Q = wrap(B.zeros((0,), dtype=A.dtype), A.device)
    else:
        Q = record("linalg_qr", q, (A,), back_q)
    R = record("linalg_qr", r, (A,), back_r)
    holder["Q"], holder["R"] = Q, R
    return linalg_qr(Q, R)


# ----------------------------------------------------------------------------- SVD, eigh
def _svd_backward(gU: Tensor | None, gS: Tensor | None, gVh: Tensor | None, U: Tensor, S: Tensor,
                  Vh: Tensor) -> Tensor | None:
    """PyTorch's svd_backward (real case) for the reduced factors U (m, k), S (k), Vh (k, n)."""
    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:
        return (U * gS.unsqueeze(-2)) @ Vh  # type: ignore[union-attr]  # gS is given here
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
    k = S.shape[-1]
    E = E + _eye(S, k)  # E_jk = S_k^2 - S_j^2, 1 on the diagonal
    skew = (lambda X: X - _mH(X))
    UhgU = skew(_mH(U) @ gU) if gU is not None else None
    VhgV = skew(Vh @ _mH(gVh)) if gVh is not None else None
    if UhgU is not None and VhgV is not None:
        gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
    elif UhgU is not None:
        gA = (UhgU / E) * S.unsqueeze(-2)
    else:
        gA = S.unsqueeze(-1) * (VhgV / E)
    if gS is not None:
        gA = gA + diag_embed(gS)
    if m > n and gU is not None:
        gA = U @ gA
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - U @ (_mH(U) @ gUSinv)
        gA = gA @ Vh
    elif m < n and gVh is not None:
        gA = gA @ Vh
        SinvgVh = gVh / S.unsqueeze(-1)
        gA = gA + SinvgVh - (SinvgVh @ _mH(Vh)) @ Vh
        gA = U @ gA
    else:
        gA = U @ (gA @ Vh) if m >= n else (U @ gA) @ Vh
    return gA


def svd(A: Tensor, full_matrices: bool = True, *, driver: str | None = None) -> Any:
    """A == U @ diag(S) @ Vh, singular values S descending: ``(U, S, Vh)``;
    ``full_matrices=False`` gives the reduced factors (k = min(m, n))."""
    _check_float("linalg.svd", A)
    _check_matrix("linalg.svd", A, square=False)
    B = backend_of(A, "linalg.svd")
    shape = tuple(A.shape)
    m, n = shape[-2], shape[-1]
    k = builtins.min(m, n)
    if 0 in shape:
        um, vn = (m, n) if full_matrices else (k, k)
        u = B.zeros(shape[:-2] + (m, um), dtype=A.dtype)
        vh = B.zeros(shape[:-2] + (vn, n), dtype=A.dtype)
        if full_matrices:
            u, vh = u + B.eye(m, dtype=A.dtype), vh + B.eye(n, dtype=A.dtype)
        s = B.zeros(shape[:-2] + (k,), dtype=A.dtype)
    else:
        u, s, vh = _lapack("linalg.svd", "The algorithm failed to converge because the input "
                           "matrix is ill-conditioned or has too many repeated singular values",
                           B.svd, A._data, full_matrices)
    holder: dict[str, Any] = {}

    def reduced() -> Any:
        U, S, Vh = holder["U"], holder["S"], holder["Vh"]
        if full_matrices:
            U, Vh = U[..., :, :k], Vh[..., :k, :]
        return U, S, Vh

    def narrow_u(g: Tensor) -> Tensor:
        return g[..., :, :k] if full_matrices else g

    def narrow_v(g: Tensor) -> Tensor:
        return g[..., :k, :] if full_matrices else g
    U = record("linalg_svd", u, (A,), lambda ctx, g: (_svd_backward(narrow_u(g), None, None,
                                                                    *reduced()),))
    S = record("linalg_svd", s, (A,), lambda ctx, g: (_svd_backward(None, g, None,
                                                                    *reduced()),))
    Vh = record("linalg_svd", vh, (A,), lambda ctx, g: (_svd_backward(None, None, narrow_v(g),
                                                                      *reduced()),))
    holder.update(U=U, S=S, Vh=Vh)
    return linalg_svd(U, S, Vh)


def svdvals(A: Tensor, *, driver: str | None = None) -> Tensor:
    """The singular values of each matrix, descending."""
    _check_float("linalg.svdvals", A)
    return svd(A, full_matrices=False).S


def _eigh_backward(gL: Tensor | None, gV: Tensor | None, L: Tensor, V: Tensor) -> Tensor | None:
    """PyTorch's linalg_eig_backward for a symmetric input."""
    if gV is None:
        return (V * gL.unsqueeze(-2)) @ _mH(V)  # type: ignore[union-attr]  # gL is given here
    VhgV = _mH(V) @ gV
    VhgV = 0.5 * (VhgV - _mH(VhgV))
    n = L.shape[-1]
    E = L.unsqueeze(-2) - L.unsqueeze(-1)  # E_ij = L_j - L_i
    E = E + _eye(L, n)
    inner_ = VhgV / E
    inner_ = inner_ - inner_ * _eye(L, n)  # (the diagonal: gL's, or 0)
    if gL is not None:
        inner_ = inner_ + diag_embed(gL)
    return V @ inner_ @ _mH(V)


def eigh(A: Tensor, UPLO: str = "L") -> Any:
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of each symmetric matrix:
    ``(eigenvalues, eigenvectors)``; only the ``UPLO`` triangle is read."""
    _check_float("linalg.eigh", A)
    _check_matrix("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: Expected UPLO argument to be 'L' or 'U', but got "
                           f"{UPLO}")
    B = backend_of(A, "linalg.eigh")
    n = A.shape[-1]
    if n == 0:
        w, v = B.zeros(tuple(A.shape[:-1]), dtype=A.dtype), B.zeros(tuple(A.shape), dtype=A.dtype)
    else:
        w, v = _lapack("linalg.eigh", "The algorithm failed to converge because the input matrix "
                       "is ill-conditioned or has too many repeated eigenvalues", B.eigh,
                       A._data, UPLO)
    holder: dict[str, Any] = {}
    L = record("linalg_eigh", w, (A,),
               lambda ctx, g: (_eigh_backward(g, None, holder["L"], holder["V"]),))
    V = record("linalg_eigh", v, (A,),
               lambda ctx, g: (_eigh_backward(None, g, holder["L"], holder["V"]),))
    holder.update(L=L, V=V)
    return linalg_eigh(L, V)


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of each symmetric matrix."""
    return eigh(A, UPLO).eigenvalues


# ----------------------------------------------------------------------------- pinv, lstsq
def _pinv_backward(g: Any, pinvA: Tensor, A: Tensor) -> Tensor:
    """PyTorch's pinv_backward."""
    m, n = A.shape[-2], A.shape[-1]
    pinvAh, gh = _mH(pinvA), _mH(g)
    if m <= n:
        K = gh @ pinvA
        KpinvAh = K @ pinvAh
        return (-_mH(pinvA @ K) + KpinvAh - (A @ pinvA) @ KpinvAh
                + (pinvAh @ pinvA) @ (gh - K @ A))
    K = pinvA @ gh
    pinvAhK = pinvAh @ K
    return (-_mH(K @ pinvA) + (gh - A @ K) @ pinvA @ pinvAh + pinvAhK
            - pinvAhK @ pinvA @ A)


def _number(v: Any) -> Any:
    if isinstance(v, Tensor):
        return v.item()
    return v


def pinv(A: Tensor, *, atol: Tensor | float | None = None, rtol: Tensor | float | None = None,
         hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse: singular values at or below max(atol, rtol * the
    largest) are dropped; rtol defaults to eps * max(m, n) when neither is given."""
    _check_float("linalg.pinv", A)
    _check_matrix("linalg.pinv", A, square=hermitian)
    B = backend_of(A, "linalg.pinv")
    m, n = A.shape[-2], A.shape[-1]
    atol, rtol = _number(atol), _number(rtol)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else _eps(A) * builtins.max(m, n)
    atol = 0.0 if atol is None else atol
    if 0 in A.shape:
        data = B.zeros(tuple(A.shape[:-2]) + (n, m), dtype=A.dtype)
    else:
        data = B.pinv(A._data, atol, rtol)
    return record("linalg_pinv", data, (A,),
                  lambda ctx, g: (_pinv_backward(g, ctx.y, ctx.A),), save={"A": A}, output="y")


def _eps(A: Tensor) -> float:
    return {dtypes.float64: 2.220446049250313e-16, dtypes.float32: 1.1920928955078125e-07,
            dtypes.float16: 0.0009765625}[A.dtype]


@op()
def pinverse(input: Tensor, rcond: float | None = 1e-15) -> Tensor:
    """``linalg.pinv`` with relative tolerance ``rcond``."""
    return pinv(input, rtol=rcond)


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *, driver: str | None = None) -> Any:
    """The least-squares solution X of A @ X ~= B: ``(solution, residuals, rank,
    singular_values)`` as PyTorch's CPU drivers give them ("gelsy" by default)."""
    _check_float("linalg.lstsq", A, B)
    _check_matrix("linalg.lstsq", A, square=False)
    _same_dtype("linalg.lstsq", A, B)
    driver = driver or "gelsy"
    if driver not in ("gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           f"gelsy, gelsd, gelss), got {driver!r}")
    vector = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vector else B
    m, n = A.shape[-2], A.shape[-1]
    if Bm.ndim < 2 or Bm.shape[-2] != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2), "
                           f"got shapes {list(A.shape)} and {list(B.shape)}")
    batch = _broadcast_shapes("linalg.lstsq", tuple(A.shape[:-2]), tuple(Bm.shape[:-2]))
    if rcond is None:
        rcond = _eps(A) * builtins.max(m, n)
    P = pinv(A, rtol=rcond)
    X = P @ Bm
    Bk = backend_of(A, "linalg.lstsq")
    k = builtins.min(m, n)
    S = svdvals(A.detach()) if k and 0 not in A.shape else \
        wrap(Bk.zeros(tuple(A.shape[:-2]) + (k,), dtype=A.dtype), A.device)
    if k and 0 not in A.shape:
        top = S[..., :1]
        rank = (S > top * rcond).sum(-1)
    else:
        rank = wrap(Bk.zeros(tuple(A.shape[:-2]), dtype=dtypes.int64), A.device)
    empty = wrap(Bk.zeros((0,), dtype=A.dtype), A.device)
    residuals = empty
    if driver != "gelsy" and m > n:
        full = bool(Bk.to_host(Bk.all(Bk.eq(rank._data, n)))) if rank.numel() else True
        if full:
            residuals = ((A @ X - Bm) ** 2).sum(-2)
    if driver == "gels":
        rank = wrap(Bk.zeros((0,), dtype=dtypes.int64), A.device)
    sv = S if driver in ("gelsd", "gelss") else empty
    if X.shape[:-2] != batch:
        X = X.expand(batch + tuple(X.shape[-2:]))
    return linalg_lstsq(X.squeeze(-1) if vector else X, residuals, rank, sv)


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """X with A @ X == B (``left=False``: X @ A == B) reading only A's upper (``upper``) or
    lower triangle (its diagonal taken as ones with ``unitriangular``); the gradient of A is
    that triangle's, as PyTorch's."""
    _check_float("linalg.solve_triangular", A, B)
    _check_matrix("linalg.solve_triangular", A)
    if B.ndim < 2:
        raise RuntimeError(f"linalg.solve_triangular: The input tensor B must have at least 2 "
                           f"dimensions, got shape {list(B.shape)}")
    T = A.triu(1 if unitriangular else 0) if upper else A.tril(-1 if unitriangular else 0)
    if unitriangular:
        T = T + _eye(A, A.shape[-1])
    _same_dtype("linalg.solve_triangular", A, B)
    return _solve_matrices(T, B) if left else _mH(_solve_matrices(_mH(T), _mH(B)))


def matrix_rank(A: Tensor, *, atol: Tensor | float | None = None,
                rtol: Tensor | float | None = None, hermitian: bool = False) -> Tensor:
    """The number of singular values above max(atol, rtol * the largest) (rtol defaults to
    eps * max(m, n) when neither is given), as int64."""
    _check_float("linalg.matrix_rank", A)
    _check_matrix("linalg.matrix_rank", A, square=hermitian)
    m, n = A.shape[-2], A.shape[-1]
    atol, rtol = _number(atol), _number(rtol)
    if rtol is None:
        rtol = 0.0 if atol is not None and atol > 0 else _eps(A) * builtins.max(m, n)
    S = svdvals(A.detach())
    if S.shape[-1] == 0:
        return wrap(backend_of(A, "linalg.matrix_rank").zeros(tuple(S.shape[:-1]),
                                                              dtype=dtypes.int64), A.device)
    cut = (S[..., :1] * rtol).clamp(min=0.0 if atol is None else atol)
    return (S > cut).sum(-1)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot products of ``x`` and ``y`` (broadcast) along ``dim``."""
    _check_float("linalg.vecdot", x, y)
    if x.ndim == 1 and y.ndim == 1 and x.shape != y.shape:  # (PyTorch's dot: no broadcasting)
        raise RuntimeError(f"linalg.vecdot: inconsistent tensor size, expected vectors of the "
                           f"same size, got {list(x.shape)} and {list(y.shape)}")
    return (x * y).sum(dim)


def multi_dot(tensors: Sequence[Tensor]) -> Tensor:
    """The product of a chain of matrices (the first and last may be vectors), left to right."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        want = (1, 2) if i in (0, len(tensors) - 1) else (2,)
        if t.ndim not in want:
            raise RuntimeError(f"multi_dot(): tensor {i} must be "
                               f"{'1D or 2D' if len(want) == 2 else '2D'} but got "
                               f"{t.ndim}D (shape {list(t.shape)})")
    _same_dtype("multi_dot()", *tensors)
    first, last = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = list(tensors)
    if first:
        mats[0] = mats[0].unsqueeze(0)
    if last:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i].shape)} and {list(tensors[i + 1].shape)} "
                               "cannot be multiplied")
    out = _chain(mats)
    if first:
        out = out.squeeze(0)
    if last:
        out = out.squeeze(-1)
    return out


def _chain(mats: Any) -> Any:
    """The product of matrices in PyTorch's order (the cheapest, its tie rules), so inf and NaN
    meet zeros where they do there."""
    n = len(mats)
    if n == 2:
        return mats[0] @ mats[1]
    p = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    if n == 3:
        a, b, c, d = p
        return mats[0] @ (mats[1] @ mats[2]) if a * c * (b + d) > b * d * (a + c) else \
            (mats[0] @ mats[1]) @ mats[2]
    cost: list[list[Any]] = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                q = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                if cost[i][j] is None or q < cost[i][j]:
                    cost[i][j], split[i][j] = q, k

    def product(i: Any, j: Any) -> Any:
        if i == j:
            return mats[i]
        k = split[i][j]
        return product(i, k) @ product(k + 1, j)
    return product(0, n - 1)


def cond(A: Tensor, p: float | str | None = None) -> Tensor:
    """The condition number in the ``p`` norm (None or 2: the ratio of the extreme singular
    values, -2 its inverse; "fro", "nuc", inf, -inf, 1, -1: norm(A) * norm(inv(A)), inf for
    a singular matrix)."""
    _check_float("linalg.cond", A)
    _check_matrix("linalg.cond", A, square=p not in (None, 2, -2))
    if A.numel() == 0:  # zeros without a gradient, as PyTorch
        return _const(A, backend_of(A, "linalg.cond").zeros(tuple(A.shape[:-2]), dtype=A.dtype))
    if p in (None, 2, -2):
        S = svdvals(A)
        big, small = S[..., 0], S[..., -1]
        return big / small if p != -2 else small / big
    from .pointwise import where
    n = A.shape[-1]
    singular = det(A.detach()) == 0
    mask = singular.unsqueeze(-1).unsqueeze(-1)
    Ai = inv(where(mask, _eye(A, n), A))
    return where(singular, math.inf, matrix_norm(A, p) * matrix_norm(Ai, p))


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of ``A`` as a tensor of its first ``ind`` dims by its others: the result's
    shape is A.shape[ind:] + A.shape[:ind]."""
    if ind <= 0:
        raise RuntimeError(f"linalg.tensorinv: Expected a strictly positive integer for 'ind', "
                           f"but got {ind}")
    rows, cols = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if math.prod(rows) != math.prod(cols):
        raise RuntimeError(f"linalg.tensorinv: Expected self to satisfy the requirement "
                           f"prod(self.shape[ind:]) == prod(self.shape[:ind]), but got "
                           f"{math.prod(cols)} != {math.prod(rows)} (shape {list(A.shape)}, "
                           f"ind={ind})")
    return inv(A.reshape(math.prod(rows), math.prod(cols))).reshape(cols + rows)


def tensorsolve(A: Tensor, B: Tensor, dims: Sequence[int] | None = None) -> Tensor:
    """X with tensordot(A, X, X.ndim) == B; ``dims``: A's dims moved to the end first."""
    _same_dtype("linalg.tensorsolve", A, B)
    if dims is not None:
        moved = list(_axes("linalg.tensorsolve", list(dims), A.ndim))
        A = A.permute([i for i in range(A.ndim) if i not in moved] + moved)
    lead = tuple(A.shape[:B.ndim])
    if lead != tuple(B.shape):
        raise RuntimeError(f"linalg.tensorsolve: the leading dims of A {list(A.shape)} must be "
                           f"B's shape {list(B.shape)}")
    rest = tuple(A.shape[B.ndim:])
    if math.prod(rest) != math.prod(lead):
        raise RuntimeError(f"linalg.tensorsolve: Expected self to satisfy the requirement "
                           f"prod(self.shape[other.ndim:]) == prod(self.shape[:other.ndim]), "
                           f"but got {math.prod(rest)} != {math.prod(lead)}")
    k = math.prod(lead)
    return solve(A.reshape(k, k), B.reshape(k)).reshape(rest)


# ----------------------------------------------------------------------------- matrix_power
@op()
def matrix_power(input: Tensor, n: int) -> Tensor:
    """The matrix raised to the integer power ``n`` (0: the identity; negative: of the
    inverse), by repeated squaring."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    _check_matrix("linalg.matrix_power", input)
    if n == 0:
        data = backend_of(input, "linalg.matrix_power").copy(
            _eye(input, input.shape[-1]).expand(tuple(input.shape))._data)
        # the identity, recorded with a zero gradient (NaN in the input stays out of it)
        return record("linalg_matrix_power", data, (input,),
                      lambda ctx, g: (_const(g, backend_of(g, "linalg.matrix_power").zeros_like(
                          g._data)),)) if dtypes.kind(input.dtype) == 2 else \
            wrap(data, input.device)
    A = input
    if n < 0:
        A, n = inv(input), -n
    result: Any
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


# ----------------------------------------------------------------------------- torch.svd, qr, cholesky
# PyTorch's older top-level forms (still in real programs): torch.svd returns V, not Vh
svd_result = namedtuple("svd", ["U", "S", "V"])
qr_result = namedtuple("qr", ["Q", "R"])


def _legacy(name: str) -> Callable[[F], F]:
    """Register the function below as the op ``name`` (its linalg namesake keeps the module
    attribute of that name)."""
    def register(fn: F) -> F:
        fn.__name__ = fn.__qualname__ = name
        return op()(fn)
    return register


@_legacy("svd")
def _svd_op(input: Tensor, some: bool = True, compute_uv: bool = True) -> Any:
    """``torch.svd``: (U, S, V) with input == U diag(S) V^T, reduced unless ``some=False``;
    with ``compute_uv=False`` U and V are zero-filled (m, m) and (n, n) matrices."""
    _check_float("svd", input)
    _check_matrix("svd", input, square=False)
    if not compute_uv:
        B = backend_of(input, "svd")
        m, n = input.shape[-2], input.shape[-1]
        lead = tuple(input.shape[:-2])
        return svd_result(_const(input, B.zeros(lead + (m, m), dtype=input.dtype)),
                          svdvals(input),
                          _const(input, B.zeros(lead + (n, n), dtype=input.dtype)))
    U, S, Vh = svd(input, full_matrices=not some)
    return svd_result(U, S, _mH(Vh))


@_legacy("qr")
def _qr_op(input: Tensor, some: bool = True) -> Any:
    """``torch.qr``: linalg.qr with mode "reduced" (``some``) or "complete"."""
    return qr_result(*qr(input, "reduced" if some else "complete"))


@_legacy("cholesky")
def _cholesky_op(input: Tensor, upper: bool = False) -> Any:
    """``torch.cholesky``: linalg.cholesky (``upper``: the upper factor)."""
    return cholesky(input, upper=upper)


# ----------------------------------------------------------------------------- norms
def _norm_backward(g: Any, x: Any, p: Any, norm: Any, axes: Any, keepdim: bool) -> Tensor:
    """PyTorch's norm_backward."""
    if not keepdim and x.ndim:
        shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        g, norm = g.reshape(shape), norm.reshape(shape)
    if p == 0:
        return _const(x, backend_of(x, "linalg.vector_norm").zeros_like(x._data))
    if p == 1:
        return x.sign() * g
    if p == 2:
        return g * (x / norm).masked_fill(norm == 0, 0)
    if math.isinf(p):
        a = x.abs()
        mask = ((a == norm) | (a != a)).to(x.dtype)
        return x.sign() * ((g / mask.sum(axes, keepdim=True)) * mask)
    if p < 1:
        scaled = x.sign() * (x.abs() ** (p - 1)).masked_fill(x == 0, 0)
        return scaled * g * norm ** (1 - p)
    if p < 2:
        scaled = x.sign() * x.abs() ** (p - 1)
    else:
        scaled = x * x.abs() ** (p - 2)
    scale = (g / norm ** (p - 1)).masked_fill(norm == 0, 0)
    return scaled * scale


def vector_norm(x: Tensor, ord: float = 2, dim: int | Sequence[int] | None = None,
                keepdim: bool = False, *,
                dtype: DTypeLike | None = None) -> Tensor:
    """The ``ord``-norm of the elements over ``dim`` (None: all), as one vector."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.vector_norm: expected a Tensor, got {type(x).__name__}")
    if dtypes.kind(x.dtype) != 2:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {x.dtype}")
    if dtype is not None:
        x = x.to(dtype)
    p = float(ord)
    axes = dims("linalg.vector_norm", dim, x.ndim)
    if (p < 0 or math.isinf(p)) and (x.numel() == 0 and not axes or
                                     any(x.shape[a] == 0 for a in axes)):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                           "tensor because the operation does not have an identity")
    a = x.detach().abs()
    with _no_grad():
        if p == 0:
            y = (a != 0).to(x.dtype).sum(axes, keepdim=keepdim)
        elif math.isinf(p):
            y = a.amax(axes, keepdim=keepdim) if p > 0 else a.amin(axes, keepdim=keepdim)
        elif p == 1:
            y = a.sum(axes, keepdim=keepdim)
        elif p == 2:
            y = (a * a).sum(axes, keepdim=keepdim).sqrt()
        else:
            y = (a ** p).sum(axes, keepdim=keepdim) ** (1.0 / p)
    return record("linalg_vector_norm", y._data, (x,),
                  lambda ctx, g: (_norm_backward(g, ctx.x, p, ctx.y, axes, keepdim),),
                  save={"x": x}, output="y")


def _no_grad() -> Any:
    from ..autograd.grad_mode import no_grad
    return no_grad()


def matrix_norm(A: Tensor, ord: float | str = "fro", dim: Sequence[int] = (-2, -1),
                keepdim: bool = False, *,
                dtype: DTypeLike | None = None) -> Tensor:
    """The ``ord`` matrix norm ("fro", "nuc", inf, -inf, 1, -1, 2, -2) over the two dims."""
    _check_float("linalg.matrix_norm", A)
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 "
                           f"dimensions, got shape {list(A.shape)}")
    d0, d1 = dims("linalg.matrix_norm", tuple(dim), A.ndim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        x = A.permute([i for i in range(A.ndim) if i not in (d0, d1)] + [d0, d1])
        S = svdvals(x)
        if ord == 2 and S.shape[-1] == 0:  # PyTorch's max over no singular values: 0
            S = _const(S, backend_of(S, "linalg.matrix_norm").zeros(S.shape[:-1] + (1,),
                                                                     dtype=S.dtype))
        y = S.sum(-1) if ord == "nuc" else S.amax(-1) if ord == 2 else S.amin(-1)
        if keepdim:
            y = y.unsqueeze(builtins.min(d0, d1)).unsqueeze(builtins.max(d0, d1))
        return y
    if ord in (math.inf, -math.inf, 1, -1):
        if ord in (1, -1):
            d0, d1 = d1, d0
        s = A.abs().sum(d1, keepdim=True)
        if ord > 0 and A.shape[d0] == 0:  # PyTorch's max over an empty dim here: 0
            s = _const(s, backend_of(s, "linalg.matrix_norm").zeros(
                tuple(1 if i == d0 else n for i, n in enumerate(s.shape)), dtype=s.dtype))
        y = s.amax(d0, keepdim=True) if ord > 0 else s.amin(d0, keepdim=True)
        return y if keepdim else y.squeeze((d0, d1))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A: Tensor, ord: float | str | None = None, dim: int | Sequence[int] | None = None,
         keepdim: bool = False, *,
         dtype: DTypeLike | None = None) -> Tensor:
    """A vector norm (``dim`` an int, or ``ord`` None over everything) or a matrix norm
    (``dim`` two dims, or a 2-D input with ``ord`` given)."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 1 or (dim is None and ord is None):
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 2 for "
                               f"ord={ord!r}")
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None:
        if A.ndim == 1:
            return vector_norm(A, ord, None, keepdim, dtype=dtype)  # type: ignore[arg-type]
        if A.ndim != 2:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.ndim}D.")
        dim = (-2, -1)
    if len(dim) != 2:
        raise RuntimeError(f"linalg.norm: If dim is specified, it mut be of length 1 or 2. Got "
                           f"{list(dim)}")
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
