"""Fuzz entries of the linear algebra ops (tensorlite/ops/linalg.py and tensorlite.linalg),
merged into opinfo.TABLE: products (bmm, addmm, addmv, baddbmm, addbmm, mv, vdot, outer,
inner, tensordot, einsum, kron, cross), diagonals and triangles, and the decompositions.

The decompositions take ordinary values only (LAPACK's answers at inf/NaN are no property of
the op) and well-conditioned matrices: a random part plus a diagonal with distinct, separated
entries, so inverses, singular values and eigenvalues are far apart and their gradients are
stable to float64 rounding.  Factors defined up to a sign (singular vectors, eigenvectors) are
compared through sign-invariant functions of them, as torch's own tests do: u * u, U diag(f(S))
Vh.  Singular matrices (a zero row) are drawn now and then: inv and solve raise, det is 0."""
import numpy as np

from opinfo import ALL, F64, FLOAT, NUMERIC, Arg, OpInfo, _kw

MATRIX_DTYPES = (F64,)


# ----------------------------------------------------------------------------- samples
def _batch(g, max_dims=2):
    return g.shape(max_dims=max_dims, max_side=2)


def _mat(g, shape, kind="plain", mode=None, flip=True):
    """A data tensor of ``shape``; ``kind`` "plain" keeps the drawn values, "square" adds a
    separated diagonal (well conditioned), "singular" zeroes one row of some matrices."""
    arg = g.tensor(shape, mode=mode or ("normal" if kind != "plain" else None))
    if kind == "plain":
        return arg
    v = arg.values.astype(np.float64) * 0.25
    m, n = shape[-2], shape[-1]
    k = min(m, n)
    d = np.zeros((m, n))
    d[np.arange(k), np.arange(k)] = 2.0 * np.arange(k, 0, -1) + 1.0  # 2k+1, ..., 3
    if flip and g.flag():
        d = -d[:, ::-1].copy() if m == n else d  # negative determinants too
    v = v + d
    if kind == "singular" and k and g.int(0, 3) == 0:
        v[..., g.int(0, m - 1), :] = 0.0
    arg.values = v.astype(arg.dtype)
    return arg


def bmm_sample(g):
    b, n, m, p = g.int(0, 3), g.int(0, 3), g.int(0, 3), g.int(0, 3)
    m2 = m if g.int(0, 9) else g.int(0, 3)
    b2 = b if g.int(0, 9) else g.int(0, 3)
    return [g.tensor((b, n, m)), g.tensor((b2, m2, p))], {}


def _coeffs(g, shape, out):
    """beta and alpha; integer tensors take integer ones (torch truncates a float one or
    fails on a cast depending on the shapes; tensorlite raises).  The in-place form when the
    input has the result's shape (torch's answers for a broadcast or empty one vary)."""
    inplace = g.int(0, 3) == 0 and tuple(shape) == tuple(out) and 0 not in out
    if g.dtype.kind != "f":
        return {"beta": g.pick(1, 0, 2), "alpha": g.pick(1, 2, -1), "inplace": inplace}
    return {"beta": g.pick(1, 0, 2, 0.5), "alpha": g.pick(1, 2, 0.5, -1), "inplace": inplace}


def addmm_sample(g):
    n, m, p = g.int(0, 3), g.int(0, 3), g.int(0, 3)
    inp = g.broadcast_to_shape((n, p)) if g.int(0, 5) else (g.int(1, 3),)
    return [g.tensor(inp), g.tensor((n, m)), g.tensor((m, p))], _coeffs(g, inp, (n, p))


def addmv_sample(g):
    n, m = g.int(0, 3), g.int(0, 3)
    # (torch returns a 0-d result for a 0-d input and an empty product: a resize quirk)
    inp = g.broadcast_to_shape((n,)) if n and m else (n,)
    return [g.tensor(inp), g.tensor((n, m)),
            g.tensor((m if g.int(0, 9) else g.int(0, 3),))], _coeffs(g, inp, (n,))


def baddbmm_sample(g):
    b, n, m, p = g.int(0, 2), g.int(0, 3), g.int(0, 3), g.int(0, 3)
    inp = g.broadcast_to_shape((b, n, p))
    return [g.tensor(inp), g.tensor((b, n, m)), g.tensor((b, m, p))], _coeffs(g, inp, (b, n, p))


def addbmm_sample(g):
    b, n, m, p = g.int(0, 2), g.int(0, 3), g.int(0, 3), g.int(0, 3)
    inp = g.broadcast_to_shape((n, p))
    return [g.tensor(inp), g.tensor((b, n, m)), g.tensor((b, m, p))], _coeffs(g, inp, (n, p))


def mv_sample(g):
    n, m = g.int(0, 4), g.int(0, 4)
    return [g.tensor((n, m)), g.tensor((m if g.int(0, 9) else g.int(0, 4),))], {}


def vec_pair(g):
    n = g.int(0, 4)
    return [g.tensor((n,)), g.tensor((n if g.int(0, 9) else g.int(0, 4),))], {}


def outer_sample(g):
    return [g.tensor((g.int(0, 4),)), g.tensor((g.int(0, 4),))], {"form": g.pick("outer", "ger")}


def inner_sample(g):
    k = g.int(0, 3)
    sa = g.shape(max_dims=2, max_side=3) + ((k,) if g.int(0, 5) else ())
    sb = g.shape(max_dims=2, max_side=3) + ((k if g.int(0, 9) else g.int(0, 3),)
                                            if g.int(0, 5) else ())
    return [g.tensor(sa), g.tensor(sb)], {}


def tensordot_sample(g):
    k = g.int(0, 2)
    contracted = tuple(g.int(0, 3) for _ in range(k))
    fa, fb = g.shape(max_dims=2, max_side=3), g.shape(max_dims=2, max_side=3)
    if g.flag():  # dims as an int: a's last k with b's first k
        return [g.tensor(fa + contracted), g.tensor(contracted + fb)], {"dims": k}
    # dims as two lists, the contracted dims anywhere
    pa = list(g.draw(__import__("hypothesis").strategies.permutations(range(len(fa) + k))))
    pb = list(g.draw(__import__("hypothesis").strategies.permutations(range(len(fb) + k))))
    sa, sb = [None] * (len(fa) + k), [None] * (len(fb) + k)
    da, db = pa[:k], pb[:k]
    for pos, n in zip(da, contracted):
        sa[pos] = n
    for pos, n in zip(db, contracted):
        sb[pos] = n
    ia, ib = iter(fa), iter(fb)
    sa = [next(ia) if s is None else s for s in sa]
    sb = [next(ib) if s is None else s for s in sb]
    da = [d - len(sa) if g.flag() else d for d in da]
    return [g.tensor(tuple(sa)), g.tensor(tuple(sb))], {"dims": (da, db)}


_EINSUM = [
    ("ij,jk->ik", [("i", "j"), ("j", "k")]),
    ("bij,bjk->bik", [("b", "i", "j"), ("b", "j", "k")]),
    ("ij,kj", [("i", "j"), ("k", "j")]),
    ("i,i->", [("i",), ("i",)]),
    ("i,j->ij", [("i",), ("j",)]),
    ("ii->i", [("i", "i")]),
    ("ii", [("i", "i")]),
    ("iij->j", [("i", "i", "j")]),
    ("ij->ji", [("i", "j")]),
    ("ij->", [("i", "j")]),
    ("ijk->kj", [("i", "j", "k")]),
    ("ij,jk,kl->il", [("i", "j"), ("j", "k"), ("k", "l")]),
    ("ij,k->ik", [("i", "j"), ("k",)]),
    ("...ij,...jk->...ik", [("...", "i", "j"), ("...", "j", "k")]),
    ("...ii->...i", [("...", "i", "i")]),
    ("b...,b->...", [("b", "..."), ("b",)]),
    ("i...->...", [("i", "...")]),
    ("bn,anm,bm->ba", [("b", "n"), ("a", "n", "m"), ("b", "m")]),
]


def einsum_sample(g):
    eq, operands = _EINSUM[g.int(0, len(_EINSUM) - 1)]
    sizes = {c: g.int(0, 3) for c in "ijklbanm"}
    ell = g.shape(max_dims=2, max_side=3)
    shapes = []
    for subs in operands:
        shape = []
        for c in subs:
            if c == "...":  # broadcasting ellipsis dims (now and then not)
                shape += list(g.broadcast_to_shape(ell) if g.int(0, 9) else g.shape(max_dims=2))
            else:
                shape.append(sizes[c] if g.int(0, 7) else g.pick(1, 1, sizes[c] + 1))
        shapes.append(tuple(shape))
    return [g.tensor(s) for s in shapes], {"equation": eq, "list_form": g.int(0, 4) == 0}


def _einsum(lib, *ts, equation, list_form=False):
    return lib.einsum(equation, list(ts)) if list_form else lib.einsum(equation, *ts)


def kron_sample(g):
    # C-ordered: torch's kron views its (permuted) inputs and raises for some layouts
    return [g.tensor(g.shape(max_dims=3, max_side=3), layout="C"),
            g.tensor(g.shape(max_dims=3, max_side=3), layout="C")], {}


def cross_sample(g):
    (sa, sb), out = g.bshapes(2, min_dims=1, max_dims=3, max_side=3)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + tuple(sa), (1,) * (nd - len(sb)) + tuple(sb)
    d = g.int(0, nd - 1)
    sa, sb = list(sa), list(sb)
    sa[d] = 3
    sb[d] = 3 if g.int(0, 9) else g.pick(1, 2, 3)
    form = g.pick("cross", "cross_nodim", "linalg", "method")
    return [g.tensor(tuple(sa)), g.tensor(tuple(sb))], {"dim": d - nd if g.flag() else d,
                                                        "form": form}


def _cross(lib, a, b, dim, form):
    if form == "cross":
        return lib.cross(a, b, dim=dim)
    if form == "cross_nodim":
        return lib.cross(a, b)
    if form == "method":
        return a.cross(b, dim)
    return lib.linalg.cross(a, b, dim=dim)


def diag_sample(g):
    shape = g.shape(min_dims=1, max_dims=2 if g.int(0, 9) else 3)
    return [g.tensor(shape)], {"diagonal": g.int(-3, 3)}


def diagonal_sample(g):
    shape = g.shape(min_dims=2 if g.int(0, 9) else 1, max_dims=4, max_side=3)
    nd = len(shape)
    return [g.tensor(shape)], {"offset": g.int(-3, 3), "dim1": g.dim(nd), "dim2": g.dim(nd),
                               "form": g.pick("function", "method", "linalg")}


def _diagonal(lib, a, offset, dim1, dim2, form):
    if form == "method":
        return a.diagonal(offset, dim1, dim2)
    if form == "linalg":
        return lib.linalg.diagonal(a, offset=offset, dim1=dim1, dim2=dim2)
    return lib.diagonal(a, offset=offset, dim1=dim1, dim2=dim2)


def diag_embed_sample(g):
    shape = g.shape(min_dims=1, max_dims=3, max_side=3)
    nd = len(shape) + 1
    return [g.tensor(shape)], {"offset": g.int(-2, 2), "dim1": g.dim(nd), "dim2": g.dim(nd)}


def tri_sample(g):
    shape = g.shape(min_dims=2 if g.int(0, 9) else 1, max_dims=4, max_side=4)
    return [g.tensor(shape)], {"diagonal": g.int(-4, 4),
                               "form": g.pick("function", "method", "inplace")}


def _tri(name):
    def fn(lib, a, diagonal=0, form="function"):
        if form == "method":
            return getattr(a, name)(diagonal)
        if form == "inplace":
            c = a.clone()
            out = getattr(c, name + "_")(diagonal)
            assert out is c
            return c
        return getattr(lib, name)(a, diagonal=diagonal)
    return fn


def tri_indices_sample(g):
    return [], {"row": g.int(0, 5), "col": g.int(0, 5), "offset": g.int(-6, 6),
                "dtype": g.pick(None, "int32")}


def _tri_indices(name):
    def fn(lib, row, col, offset, dtype=None):
        return getattr(lib, name)(row, col, offset, **_kw(dtype=getattr(lib, dtype)
                                                             if dtype else None))
    return fn


def trace_sample(g):
    return [g.tensor(g.shape(min_dims=2 if g.int(0, 9) else 1, max_dims=2))], {}


# -- decompositions
def square_sample(kind="square", extra=None):
    def sample(g):
        n = g.int(0, 4)
        args = [_mat(g, _batch(g) + (n, n), kind)]
        kw = {k: f(g) for k, f in (extra or {}).items()}
        return args, kw
    return sample


def rect_sample(extra=None):
    def sample(g):
        shape = _batch(g) + (g.int(0, 4), g.int(0, 4))
        return [_mat(g, shape, "square")], {k: f(g) for k, f in (extra or {}).items()}
    return sample


def solve_sample(g):
    n = g.int(0, 4)
    ba = _batch(g)
    A = _mat(g, ba + (n, n), "singular")
    kind = g.pick("vector", "batched_vector", "matrix", "broadcast")
    if kind == "vector":
        bshape = (n if g.int(0, 9) else g.int(0, 4),)
    elif kind == "batched_vector":
        bshape = ba + (n,)
    elif kind == "matrix":
        bshape = ba + (n, g.int(0, 3))
    else:
        bshape = g.broadcast_to_shape(ba) + (n, g.int(0, 3))
    left = g.flag()
    if not left:  # X A = B: B's last dim is n
        bshape = ba + (g.int(0, 3), n)
    return [A, _mat(g, bshape, "plain", mode="normal")], {"left": left}


def _solve(lib, a, b, left=True):
    return lib.linalg.solve(a, b, left=left)


def cholesky_sample(g):
    n = g.int(0, 4)
    return [_mat(g, _batch(g) + (n, n), "square")], {"upper": g.flag(), "pd": g.int(0, 5) > 0}


def _cholesky(lib, a, upper=False, pd=True):
    # a symmetric positive-definite input built from ``a`` (the gradient flows through it)
    s = a @ a.mT + (1.0 if pd else -1.0) * lib.eye(a.shape[-1], dtype=a.dtype)
    if not pd:
        s = -s
    return lib.linalg.cholesky(s, upper=upper)


def _qr(lib, a, mode="reduced"):
    return tuple(lib.linalg.qr(a, mode=mode))


def _svd(lib, a, full_matrices=True):
    U, S, Vh = lib.linalg.svd(a, full_matrices=full_matrices)
    k = S.shape[-1]
    U, Vh = U[..., :, :k], Vh[..., :k, :]  # (full_matrices: the rest is any basis)
    # sign-invariant: each singular pair's outer product, the squared entries, and S
    return U * U, S, Vh * Vh, (U * S.unsqueeze(-2).sqrt()) @ Vh


def _eigh(lib, a, UPLO="L"):
    L, V = lib.linalg.eigh(a, UPLO=UPLO)
    return L, V * V, (V * L.unsqueeze(-2)) @ V.mT


def _lstsq(lib, a, b, driver=None):
    out = lib.linalg.lstsq(a, b, driver=driver)
    return out.solution, out.residuals, out.rank, out.singular_values


def lstsq_sample(g):
    m, n = g.int(1, 4), g.int(1, 4)
    ba = _batch(g, 1)
    A = _mat(g, ba + (m, n), "square")
    b = _mat(g, ba + (m, g.int(1, 3)) if g.int(0, 3) else ba + (m,), "plain", mode="normal")
    return [A, b], {"driver": g.pick(None, "gelsy", "gelsd", "gelss", "gels")}


def _det(form):
    def fn(lib, a):
        return {"linalg": lambda: lib.linalg.det(a), "method": lambda: a.det(),
                "function": lambda: lib.det(a)}[form]()
    return fn


def _slogdet(lib, a, form="linalg"):
    sign, logabs = lib.linalg.slogdet(a) if form == "linalg" else a.slogdet()
    return sign.detach(), logabs


def _matrix_power(lib, a, n, form="linalg"):
    return lib.linalg.matrix_power(a, n) if form == "linalg" else a.matrix_power(n)


def _pinv(lib, a, form="linalg", rtol=None):
    if form == "pinverse":
        return a.pinverse()
    return lib.linalg.pinv(a, **_kw(rtol=rtol))


def _vector_norm(lib, a, ord=2, dim=None, keepdim=False):
    return lib.linalg.vector_norm(a, ord, dim, keepdim)


def vector_norm_sample(g):
    shape = g.shape()
    return [g.tensor(shape)], {"ord": g.pick(2, 1, 3, 0.5, 0, -1, float("inf"), float("-inf")),
                               "dim": g.dims(len(shape)), "keepdim": g.flag()}


def matrix_norm_sample(g):
    shape = g.shape(min_dims=2, max_dims=3, min_side=1, max_side=3)
    ord_ = g.pick("fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf"))
    nd = len(shape)
    d0 = g.int(0, nd - 1)
    d1 = g.pick(*[d for d in range(nd) if d != d0])
    kind = "square" if ord_ in ("nuc", 2, -2) else "plain"
    return [_mat(g, shape, kind) if kind == "plain" else _rect(g, shape)], \
        {"ord": ord_, "dim": (d0, d1 - nd if g.flag() else d1), "keepdim": g.flag(),
         "form": g.pick("matrix_norm", "norm")}


def _rect(g, shape):
    """A tensor whose every 2-D slice has separated singular values (matrix norms 2, nuc)."""
    arg = g.tensor(shape, mode="normal")
    v = arg.values.astype(np.float64) * 0.25
    idx = np.indices(shape)
    v = v + np.where(idx[-1] == idx[-2], 2.0 * idx[-1] + 1.0, 0.0)
    arg.values = v.astype(arg.dtype)
    return arg


def _matrix_norm(lib, a, ord="fro", dim=(-2, -1), keepdim=False, form="matrix_norm"):
    if form == "norm":
        return lib.linalg.norm(a, ord, dim, keepdim)
    return lib.linalg.matrix_norm(a, ord, dim, keepdim)


def solve_triangular_sample(g):
    n = g.int(0, 4)
    ba = _batch(g)
    # (nonsingular: torch's triangular solve divides by a zero pivot, tensorlite's solver
    # raises LinAlgError)
    A = _mat(g, ba + (n, n), "square", flip=False)
    left = g.flag()
    k = g.int(0, 3)
    bshape = g.broadcast_to_shape(ba) + ((n, k) if left else (k, n))
    if g.int(0, 9) == 0:
        bshape = bshape[-1:]  # a 1-D right side: torch raises
    return [A, _mat(g, bshape, "plain", mode="normal")], {
        "upper": g.flag(), "left": left, "unitriangular": g.int(0, 3) == 0}


def _solve_triangular(lib, a, b, **kw):
    return lib.linalg.solve_triangular(a, b, **kw)


def matrix_rank_sample(g):
    shape = _batch(g) + (g.int(0, 4), g.int(0, 4))
    arg = _mat(g, shape, "singular" if shape[-1] == shape[-2] else "square")
    return [arg], _kw(atol=g.pick(None, 0.0, 4.0), rtol=g.pick(None, 0.0, 0.5))


def vecdot_sample(g):
    (sa, sb), out = g.bshapes(2, min_dims=1)
    return [g.tensor(sa), g.tensor(sb)], {"dim": g.dim(len(out))}


def multi_dot_sample(g):
    k = g.int(2, 4)
    sizes = [g.int(0, 3) for _ in range(k + 1)]
    shapes = [(sizes[i], sizes[i + 1]) for i in range(k)]
    if g.flag():
        shapes[0] = shapes[0][1:]
    if g.flag():
        shapes[-1] = shapes[-1][:1]
    return [g.tensor(s) for s in shapes], {}


def _svd_legacy(lib, a, some=True, compute_uv=True, form="function"):
    U, S, V = lib.svd(a, some=some, compute_uv=compute_uv) if form == "function" else \
        a.svd(some, compute_uv)
    if not compute_uv:
        return U, S, V  # (zero-filled U and V)
    k = S.shape[-1]
    U, V = U[..., :, :k], V[..., :, :k]
    return U * U, S, V * V, (U * S.unsqueeze(-2)) @ V.mT


def _qr_legacy(lib, a, some=True):
    return tuple(lib.qr(a, some=some))


def _cholesky_legacy(lib, a, upper=False, pd=True):
    s = a @ a.mT + lib.eye(a.shape[-1], dtype=a.dtype)
    return lib.cholesky(s, upper=upper) if pd else (-s).cholesky(upper)  # (-s: raises)


def tensorinv_sample(g):
    ind = g.int(1, 2)
    n = g.pick(1, 2, 4, 6)
    shapes = {1: [(n,)], 2: [(n,), (1, n)], 4: [(4,), (2, 2)], 6: [(6,), (2, 3), (3, 2)]}[n]
    rows, cols = g.pick(*shapes), g.pick(*shapes)
    if ind == 2 and len(rows) == 1:
        rows = (1,) + rows
    A = _mat(g, (n, n), "singular")
    A.values = A.values.reshape(rows + cols)
    A.layout = "C"
    return [A], {"ind": len(rows)}


def tensorsolve_sample(g):
    n = g.pick(1, 2, 4, 6)
    shapes = {1: [(1,)], 2: [(2,), (1, 2)], 4: [(4,), (2, 2)], 6: [(6,), (2, 3)]}[n]
    bshape, xshape = g.pick(*shapes), g.pick(*shapes)
    A = _mat(g, (n, n), "singular")
    A.values = A.values.reshape(bshape + xshape)
    A.layout = "C"
    kw = {}
    if g.flag() and len(xshape) > 0:  # move the solution dims from the front
        nd = len(bshape) + len(xshape)
        A.values = np.moveaxis(A.values, list(range(len(bshape), nd)),
                               list(range(len(xshape))))
        kw["dims"] = tuple(range(len(xshape)))
    return [A, _mat(g, bshape, "plain", mode="normal")], kw


def _mm_like(name):
    def fn(lib, *ts, inplace=False, **kw):
        if not inplace:
            return getattr(lib, name)(*ts, **kw)
        c = ts[0].clone()  # (a broadcast input cannot take the result: torch raises)
        out = getattr(c, name + "_")(*ts[1:], **kw)
        assert out is c
        return c
    return fn


TABLE = [
    # products
    OpInfo("bmm", lambda lib, a, b: a.bmm(b), bmm_sample, dtypes=NUMERIC, accum=True),
    OpInfo("addmm", _mm_like("addmm"), addmm_sample, dtypes=NUMERIC, accum=True,
           covers=("addmm", "addmm_")),
    OpInfo("addmv", _mm_like("addmv"), addmv_sample, dtypes=NUMERIC, accum=True,
           covers=("addmv", "addmv_")),
    OpInfo("baddbmm", _mm_like("baddbmm"), baddbmm_sample, dtypes=NUMERIC, accum=True,
           covers=("baddbmm", "baddbmm_")),
    OpInfo("addbmm", _mm_like("addbmm"), addbmm_sample, dtypes=NUMERIC, accum=True,
           covers=("addbmm", "addbmm_")),
    OpInfo("mv", lambda lib, a, b: a.mv(b), mv_sample, dtypes=NUMERIC, accum=True),
    OpInfo("vdot", lambda lib, a, b: lib.vdot(a, b), vec_pair, dtypes=NUMERIC, accum=True),
    OpInfo("outer", lambda lib, a, b, form: getattr(lib, form)(a, b), outer_sample,
           dtypes=NUMERIC, covers=("outer", "ger")),
    OpInfo("inner", lambda lib, a, b: lib.inner(a, b), inner_sample, dtypes=NUMERIC, accum=True),
    OpInfo("tensordot", lambda lib, a, b, dims: lib.tensordot(a, b, dims=dims),
           tensordot_sample, dtypes=NUMERIC, accum=True),
    OpInfo("einsum", _einsum, einsum_sample, dtypes=NUMERIC, accum=True),
    OpInfo("kron", lambda lib, a, b: lib.kron(a, b), kron_sample, dtypes=NUMERIC),
    OpInfo("cross", _cross, cross_sample, dtypes=NUMERIC),
    # diagonals and triangles
    OpInfo("diag", lambda lib, a, diagonal: lib.diag(a, diagonal), diag_sample, dtypes=ALL),
    OpInfo("diagonal", _diagonal, diagonal_sample, dtypes=ALL),
    OpInfo("diag_embed", lambda lib, a, **kw: lib.diag_embed(a, **kw), diag_embed_sample,
           dtypes=ALL),
    OpInfo("diagflat", lambda lib, a, diagonal: lib.diagflat(a, diagonal), diag_sample,
           dtypes=ALL),
    OpInfo("tril", _tri("tril"), tri_sample, dtypes=ALL, covers=("tril", "tril_")),
    OpInfo("triu", _tri("triu"), tri_sample, dtypes=ALL, covers=("triu", "triu_")),
    OpInfo("trace", lambda lib, a: a.trace(), trace_sample, dtypes=ALL, accum=True),
    OpInfo("tril_indices", _tri_indices("tril_indices"), tri_indices_sample, grad=False),
    OpInfo("triu_indices", _tri_indices("triu_indices"), tri_indices_sample, grad=False),
    # tensorlite.linalg and the torch.* / Tensor names of the same ops
    OpInfo("linalg.inv", lambda lib, a: lib.linalg.inv(a), square_sample("singular"),
           dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("inverse", lambda lib, a: a.inverse(), square_sample("singular"),
           dtypes=MATRIX_DTYPES),
    OpInfo("linalg.det", _det("linalg"), square_sample("singular"), dtypes=MATRIX_DTYPES,
           covers=()),
    OpInfo("det", _det("method"), square_sample("singular"), dtypes=MATRIX_DTYPES),
    OpInfo("slogdet", _slogdet, square_sample("square", {"form": lambda g: g.pick(
        "linalg", "method")}), dtypes=MATRIX_DTYPES),
    OpInfo("logdet", lambda lib, a: lib.logdet(a), square_sample(), dtypes=MATRIX_DTYPES),
    OpInfo("linalg.solve", _solve, solve_sample, dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.cholesky", _cholesky, cholesky_sample, dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.qr", _qr, rect_sample({"mode": lambda g: g.pick("reduced", "complete", "r")}),
           dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.svd", _svd, rect_sample({"full_matrices": lambda g: g.flag()}),
           dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.svdvals", lambda lib, a: lib.linalg.svdvals(a), rect_sample(),
           dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.eigh", _eigh, square_sample("square", {"UPLO": lambda g: g.pick("L", "U")}),
           dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.eigvalsh", lambda lib, a: lib.linalg.eigvalsh(a), square_sample(),
           dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.pinv", _pinv, rect_sample({"form": lambda g: g.pick("linalg", "pinverse"),
                                              "rtol": lambda g: g.pick(None, 0.1)}),
           dtypes=MATRIX_DTYPES, covers=("pinverse",)),
    OpInfo("linalg.lstsq", _lstsq, lstsq_sample, dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("matrix_power", _matrix_power, square_sample("square", {
        "n": lambda g: g.int(-2, 4), "form": lambda g: g.pick("linalg", "method")}),
        dtypes=MATRIX_DTYPES),
    OpInfo("linalg.matmul", lambda lib, a, b: lib.linalg.matmul(a, b),
           lambda g: __import__("opinfo").matmul_sample(g), dtypes=FLOAT, accum=True, covers=()),
    OpInfo("linalg.solve_triangular", _solve_triangular, solve_triangular_sample,
           dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.matrix_rank", lambda lib, a, **kw: lib.linalg.matrix_rank(a, **kw),
           matrix_rank_sample, dtypes=MATRIX_DTYPES, grad=False, covers=()),
    OpInfo("linalg.vecdot", lambda lib, a, b, dim: lib.linalg.vecdot(a, b, dim=dim),
           vecdot_sample, accum=True, covers=()),
    OpInfo("linalg.multi_dot", lambda lib, *ts: lib.linalg.multi_dot(ts), multi_dot_sample,
           accum=True, covers=()),
    # torch.svd (V, not Vh), torch.qr (some=), torch.cholesky
    OpInfo("svd", _svd_legacy, rect_sample({"some": lambda g: g.flag(),
                                            "compute_uv": lambda g: g.int(0, 4) > 0,
                                            "form": lambda g: g.pick("function", "method")}),
           dtypes=MATRIX_DTYPES),
    OpInfo("qr", _qr_legacy, rect_sample({"some": lambda g: g.flag()}), dtypes=MATRIX_DTYPES),
    OpInfo("cholesky", _cholesky_legacy, cholesky_sample, dtypes=MATRIX_DTYPES),
    OpInfo("linalg.cond", lambda lib, a, p=None: lib.linalg.cond(a, p),
           rect_sample({"p": lambda g: g.pick(None, 2, -2)}), dtypes=MATRIX_DTYPES, covers=()),
    # (torch's backward of the other norms fails: it changes inv_ex's output in place)
    OpInfo("linalg.cond_norms", lambda lib, a, p: lib.linalg.cond(a, p),
           square_sample("singular", {"p": lambda g: g.pick("fro", "nuc", float("inf"),
                                                            float("-inf"), 1, -1)}),
           dtypes=MATRIX_DTYPES, grad=False, covers=()),
    OpInfo("linalg.tensorinv", lambda lib, a, ind: lib.linalg.tensorinv(a, ind=ind),
           tensorinv_sample, dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.tensorsolve", lambda lib, a, b, **kw: lib.linalg.tensorsolve(a, b, **kw),
           tensorsolve_sample, dtypes=MATRIX_DTYPES, covers=()),
    OpInfo("linalg.vector_norm", _vector_norm, vector_norm_sample, accum=True, covers=()),
    OpInfo("linalg.matrix_norm", _matrix_norm, matrix_norm_sample, dtypes=MATRIX_DTYPES,
           accum=True, covers=()),
]
