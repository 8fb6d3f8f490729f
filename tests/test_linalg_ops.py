"""Linear algebra (tensorlite/ops/linalg.py, tensorlite.linalg) where the fuzz cannot reach:
float64 gradcheck of the decompositions, second order against torch, named results and keyword
forms, the errors (LinAlgError for singular and non positive-definite inputs, non-square and
mismatched shapes, integer inputs), gauge-invariant checks of svd/eigh on larger batches, and
the primitives on the CuPy host stand-in."""
import math
import types

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite.autograd import gradcheck
from helpers import tl_tensor, to_np
from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)


def _on_torch(call):
    """The call, written as ``lambda ...: tl....``, with torch in the place of ``tl``."""
    return types.FunctionType(call.__code__, dict(call.__globals__, tl=torch), call.__name__,
                              call.__defaults__, call.__closure__)


def _well(rng, shape):
    """Matrices with separated singular values / eigenvalues (a diagonal plus noise)."""
    m, n = shape[-2], shape[-1]
    d = np.zeros((m, n))
    k = min(m, n)
    d[np.arange(k), np.arange(k)] = 2.0 * np.arange(k, 0, -1) + 1.0
    return d + 0.3 * rng.standard_normal(shape)


def _spd(lib, a):
    return a @ a.mT + lib.eye(a.shape[-1], dtype=a.dtype)


# -- float64 gradcheck ---------------------------------------------------------------------------
GRADCHECK = {
    "inv": (lambda a: tl.linalg.inv(a), [(2, 3, 3)]),
    "det": (lambda a: tl.linalg.det(a), [(2, 3, 3)]),
    "slogdet": (lambda a: tl.linalg.slogdet(a).logabsdet, [(3, 3)]),
    "solve": (lambda a, b: tl.linalg.solve(a, b), [(2, 3, 3), (3, 2)]),
    "solve_left_false": (lambda a, b: tl.linalg.solve(a, b, left=False), [(3, 3), (2, 3)]),
    "cholesky": (lambda a: tl.linalg.cholesky(_spd(tl, a)), [(2, 3, 3)]),
    "cholesky_upper": (lambda a: tl.linalg.cholesky(_spd(tl, a), upper=True), [(3, 3)]),
    "qr_tall": (lambda a: tuple(tl.linalg.qr(a)), [(4, 3)]),
    "qr_wide": (lambda a: tuple(tl.linalg.qr(a)), [(3, 5)]),
    "svd": (lambda a: (lambda u, s, vh: (u @ vh, s, u * u))(*tl.linalg.svd(a, False)),
            [(2, 4, 3)]),
    "svd_wide": (lambda a: (lambda u, s, vh: (s, vh * vh))(*tl.linalg.svd(a, False)), [(3, 4)]),
    "eigh": (lambda a: (lambda w, v: (w, v * v))(*tl.linalg.eigh(a + a.mT)), [(2, 3, 3)]),
    "pinv": (lambda a: tl.linalg.pinv(a), [(4, 3)]),
    "lstsq": (lambda a, b: tl.linalg.lstsq(a, b).solution, [(4, 3), (4, 2)]),
    "matrix_power": (lambda a: tl.linalg.matrix_power(a, -3), [(3, 3)]),
    "einsum": (lambda a, b: tl.einsum("bij,jk->bik", a, b), [(2, 3, 4), (4, 2)]),
    "matrix_norm_nuc": (lambda a: tl.linalg.matrix_norm(a, "nuc"), [(3, 4)]),
    "solve_triangular": (lambda a, b: tl.linalg.solve_triangular(a, b, upper=True, left=False),
                         [(2, 3, 3), (2, 3)]),
    "multi_dot": (lambda a, b, c: tl.linalg.multi_dot([a, b, c]), [(3, 3), (3, 4), (4,)]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_float64_gradcheck(backend, rng, name):
    fn, shapes = GRADCHECK[name]
    inputs = [tl_tensor(_well(rng, s) if i == 0 else rng.standard_normal(s), True)
              for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)


# -- second order against torch -----------------------------------------------------------------
SECOND = {
    "inv": lambda a: tl.linalg.inv(a),
    "det": lambda a: tl.linalg.det(a),
    "solve": lambda a: tl.linalg.solve(a, a[..., 0] * 2.0),
    "cholesky": lambda a: tl.linalg.cholesky(a @ a.mT + tl.eye(3, dtype=a.dtype)),
    "einsum": lambda a: tl.einsum("...ij,...jk->...ik", a, a),
    "svdvals": lambda a: tl.linalg.svdvals(a),
    "eigvalsh": lambda a: tl.linalg.eigvalsh(a + a.mT),
    "trace_tril_diag": lambda a: tl.trace(tl.tril(a[0]) * tl.diag(tl.diagonal(a[1]))),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_order_matches_torch(backend, rng, name):
    fn = SECOND[name]
    x = _well(rng, (2, 3, 3))
    grads = []
    for lib, f in ((tl, fn), (torch, _on_torch(fn))):
        a = tl_tensor(x, True) if lib is tl else torch.from_numpy(x.copy()).requires_grad_()
        y = f(a)
        g = rng.standard_normal(tuple(y.shape)) if lib is tl else g_np
        g_np = g
        (g1,) = lib.autograd.grad(y, a, lib.tensor(g) if lib is tl else torch.from_numpy(g),
                                  create_graph=True)
        v = np.cos(np.arange(g1.numel())).reshape(tuple(g1.shape))
        (g2,) = lib.autograd.grad(g1, a, lib.tensor(v) if lib is tl else torch.from_numpy(v))
        grads.append((to_np(g1), to_np(g2)))
    (a1, a2), (e1, e2) = grads
    np.testing.assert_allclose(a1, e1, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(a2, e2, rtol=1e-8, atol=1e-9)


def test_det_of_singular_matrices_gives_torch_gradients_at_first_and_second_order(backend):
    for m in ([[0.0]], [[1.0, 2.0], [2.0, 4.0]], [[0.0, 1.0], [0.0, 0.0]],
              [[1.0, 0, 0], [0, 1, 0], [0, 0, 0]]):
        for create_graph in (False, True):
            out = []
            for lib in (tl, torch):
                a = lib.tensor(m, dtype=lib.float64, requires_grad=True)
                (g,) = lib.autograd.grad(lib.linalg.det(a), a, create_graph=create_graph)
                out.append(to_np(g))
            np.testing.assert_allclose(out[0], out[1], atol=1e-12)


# -- results and keyword forms --------------------------------------------------------------------
def test_results_are_named_tuples_with_torch_fields(rng):
    a = tl_tensor(_well(rng, (3, 3)))
    s = tl.linalg.slogdet(a)
    assert s.sign is s[0] and s.logabsdet is s[1] and len(s) == 2
    q = tl.linalg.qr(a)
    assert q.Q is q[0] and q.R is q[1]
    u = tl.linalg.svd(a)
    assert (u.U, u.S, u.Vh) == tuple(u)
    e = tl.linalg.eigh(a)
    assert (e.eigenvalues, e.eigenvectors) == tuple(e)
    r = tl.linalg.lstsq(a, a)
    assert r.solution is r[0] and len(r) == 4
    assert [f for f in ("solution", "residuals", "rank", "singular_values")] == list(r._fields)


@pytest.mark.parametrize("driver", [None, "gelsy", "gelsd", "gelss", "gels"])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_lstsq_outputs_match_torch_per_driver(rng, driver, shape):
    a, b = _well(rng, shape), rng.standard_normal(shape[:-1] + (2,))
    out = tl.linalg.lstsq(tl_tensor(a), tl_tensor(b), driver=driver)
    exp = torch.linalg.lstsq(torch.from_numpy(a), torch.from_numpy(b), driver=driver)
    for x, e in zip(out, exp):
        assert tuple(x.shape) == tuple(e.shape) and to_np(x).dtype == e.numpy().dtype
        np.testing.assert_allclose(to_np(x), e.numpy(), rtol=1e-8, atol=1e-10)


def test_keyword_forms_match_torch(rng):
    a = _well(rng, (2, 4, 4))
    b = rng.standard_normal((2, 3, 4))
    calls = [
        lambda a, b: tl.linalg.solve(a, b, left=False),
        lambda a, b: tl.linalg.cholesky(a @ a.mT, upper=True),
        lambda a, b: tl.linalg.eigh(a, UPLO="U").eigenvalues,
        lambda a, b: tl.linalg.svd(a, full_matrices=False).S,
        lambda a, b: tl.linalg.pinv(a, rtol=0.5),
        lambda a, b: tl.linalg.pinv(a, atol=3.5),
        lambda a, b: tl.linalg.qr(a, mode="r").R,
        lambda a, b: tl.linalg.matrix_norm(a, ord=-1, dim=(0, 2), keepdim=True),
        lambda a, b: tl.linalg.vector_norm(b, ord=3.5, dim=(0, 2), keepdim=True),
        lambda a, b: tl.linalg.norm(b, dim=1),
        lambda a, b: tl.linalg.cross(b[..., :3], b[..., 1:], dim=-1),
        lambda a, b: tl.linalg.diagonal(a, offset=1),
        lambda a, b: tl.linalg.matmul(a, b.mT),
        lambda a, b: tl.diag_embed(b, offset=1, dim1=0, dim2=2),
        lambda a, b: tl.addmm(b[0, 0], a[0], a[1], beta=0.5, alpha=-2),
        lambda a, b: tl.baddbmm(b[..., :1], b, a, beta=0, alpha=2),
        lambda a, b: tl.tensordot(a, b, dims=([0, 2], [0, 2])),
        lambda a, b: tl.einsum("b i j , b k j -> b i k", [a, b]),
        lambda a, b: tl.tril_indices(3, 5, offset=1, dtype=tl.int32),
        lambda a, b: tl.triu_indices(4, 2, -1),
        lambda a, b: a.triu(1) + a.tril(-1),
        lambda a, b: a.diagonal(0, -1, -2),
        lambda a, b: a.det() + a.slogdet().logabsdet + a[0].logdet(),
        lambda a, b: a.inverse() @ a.matrix_power(2),
        lambda a, b: a.pinverse(),
        lambda a, b: tl.kron(b, a[0]),
        lambda a, b: tl.inner(b, a[0]),
        lambda a, b: tl.outer(b[0, 0], a[0, 0]),
        lambda a, b: tl.linalg.solve_triangular(a, b.mT, upper=False, unitriangular=True),
        lambda a, b: tl.linalg.matrix_rank(a, rtol=0.3),
        lambda a, b: tl.linalg.vecdot(a, b[..., :1, :], dim=-1),
        lambda a, b: tl.linalg.multi_dot([b[0, 0], a[0], a[1], b[1].mT]),
        lambda a, b: tl.linalg.cond(a, p="nuc") + tl.linalg.cond(a),
        lambda a, b: tl.linalg.tensorinv(a[0].reshape(4, 2, 2), ind=1),
        lambda a, b: tl.linalg.tensorsolve(a[0].reshape(4, 2, 2), b[0, :2, :2], dims=(0,)),
    ]
    for call in calls:
        got = call(tl_tensor(a), tl_tensor(b))
        exp = _on_torch(call)(torch.from_numpy(a.copy()), torch.from_numpy(b.copy()))
        assert tuple(got.shape) == tuple(exp.shape), call
        assert to_np(got).dtype == exp.numpy().dtype, call
        np.testing.assert_allclose(to_np(got), exp.numpy(), rtol=1e-9, atol=1e-10)


def test_float32_results_keep_their_dtype(rng):
    a = _well(rng, (3, 3)).astype(np.float32)
    for call in (lambda a: tl.linalg.inv(a), lambda a: tl.linalg.det(a),
                 lambda a: tl.linalg.slogdet(a).logabsdet, lambda a: tl.linalg.svd(a).S,
                 lambda a: tl.linalg.eigh(a).eigenvalues, lambda a: tl.linalg.qr(a).R,
                 lambda a: tl.linalg.pinv(a), lambda a: tl.linalg.cholesky(a @ a.mT)):
        got, exp = call(tl_tensor(a)), _on_torch(call)(torch.from_numpy(a.copy()))
        assert to_np(got).dtype == np.float32
        np.testing.assert_allclose(to_np(got), exp.numpy(), rtol=1e-4, atol=1e-5)


def test_svd_and_eigh_on_a_larger_batch_are_gauge_invariant_equal_to_torch(backend, rng):
    """Singular vectors and eigenvectors are defined up to sign: the reconstruction, the
    projectors u u^T and the gradients of invariant losses must match torch."""
    x = _well(rng, (3, 6, 4))
    res = []
    for lib in (tl, torch):
        a = tl_tensor(x, True) if lib is tl else torch.from_numpy(x.copy()).requires_grad_()
        U, S, Vh = lib.linalg.svd(a, full_matrices=False)
        w, V = lib.linalg.eigh(a.mT @ a)
        Ut = U.mT  # (singular vectors as rows)
        proj = Ut.unsqueeze(-1) * Ut.unsqueeze(-2)  # u_i u_i^T per singular vector i
        loss = (proj.sum(-3) * 1.5).sum() + (S ** 3).sum() + ((V * V) * w.unsqueeze(-2)).sum()
        (g,) = lib.autograd.grad(loss, a)
        res.append([to_np(U @ lib.diag_embed(S) @ Vh), to_np(proj), to_np(w), to_np(g)])
    for got, exp in zip(*res):
        np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("equation, shapes", [
    ("bij,bjk->bik", [(4, 40, 50), (4, 50, 30)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 20, 16), (2, 3, 24, 16)]),
    ("ij,jk->ik", [(60, 70), (70, 40)]),
    ("ij,kj", [(60, 70), (40, 70)]),
    ("...ij,jk", [(3, 30, 40), (40, 20)]),
])
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # (NumPy's inf * 0 in BLAS)
def test_einsum_on_large_operands_matches_torch_with_inf_and_nan(backend, rng, equation, shapes):
    """Large operands take the backend's optimized (BLAS) path: values, NaN/inf positions and
    gradients as torch's."""
    arrays = [rng.standard_normal(s) for s in shapes]
    arrays[0].reshape(-1)[::97] = np.inf
    arrays[1].reshape(-1)[5::211] = np.nan
    out = []
    for lib in (tl, torch):
        ts = [tl_tensor(a, True) if lib is tl else torch.from_numpy(a.copy()).requires_grad_()
              for a in arrays]
        y = lib.einsum(equation, *ts)
        g = np.cos(np.arange(y.numel())).reshape(tuple(y.shape))
        grads = lib.autograd.grad(y, ts, lib.tensor(g) if lib is tl else torch.from_numpy(g))
        out.append([to_np(y)] + [to_np(x) for x in grads])
    for got, exp in zip(*out):
        np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9)


def test_matrix_power_zero_is_the_identity_even_for_nan_input(backend):
    for lib in (tl, torch):
        a = lib.tensor([[float("nan"), 1.0], [2.0, 3.0]], requires_grad=True)
        r = lib.linalg.matrix_power(a, 0)
        assert r.requires_grad and to_np(r).tolist() == [[1.0, 0.0], [0.0, 1.0]]
        (g,) = lib.autograd.grad(r, a, lib.ones(2, 2))
        assert to_np(g).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_diagonal_is_a_view_as_torch(backend):
    """Writes through diagonal reach the tensor (masking a diagonal in place is common), and a
    change of the tensor shows in the diagonal."""
    out = []
    for lib in (tl, torch):
        x = lib.zeros(3, 4)
        x.diagonal(1).fill_(1.0)
        x.diagonal().add_(2.0)
        lib.diagonal(x, -1).copy_(lib.tensor([5.0, 6.0]))
        y = lib.ones(2, 3, 3)
        y.diagonal(0, -2, -1).zero_()
        z = lib.arange(9.0).reshape(3, 3)
        d = z.diagonal()
        z.add_(1.0)
        out.append([to_np(x), to_np(y), to_np(d)])
    for got, exp in zip(*out):
        np.testing.assert_array_equal(got, exp)


# -- errors ------------------------------------------------------------------------------------
def test_singular_matrices_raise_linalg_error_a_runtime_error(backend):
    assert issubclass(tl.linalg.LinAlgError, RuntimeError)
    a = tl.tensor([[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]]])
    with pytest.raises(tl.linalg.LinAlgError, match=r"linalg\.inv: .*singular"):
        tl.linalg.inv(a)
    with pytest.raises(tl.linalg.LinAlgError, match=r"linalg\.solve: .*singular"):
        tl.linalg.solve(a, tl.ones(2, 2))
    with pytest.raises(RuntimeError, match=r"linalg\.cholesky: .*positive-definite"):
        tl.linalg.cholesky(-tl.eye(3))
    assert float(tl.linalg.det(a[0])) == 0.0  # no error: the determinant is 0


@pytest.mark.parametrize("call, match", [
    (lambda: tl.linalg.inv(tl.ones(2, 3)), r"linalg\.inv: A must be batches of square"),
    (lambda: tl.linalg.det(tl.ones(3)), r"linalg\.det: .*at least 2 dimensions"),
    (lambda: tl.linalg.eigh(tl.ones(2, 3)), r"square"),
    (lambda: tl.linalg.inv(tl.ones(2, 2, dtype=tl.int64)), r"floating point.*int64"),
    (lambda: tl.linalg.solve(tl.eye(2), tl.ones(3)), r"Incompatible shapes.*2x2 and 3x1"),
    (lambda: tl.linalg.solve(tl.eye(2).expand(3, 2, 2), tl.ones(2, 2, 1)), r"cannot be broad"),
    (lambda: tl.mm(tl.ones(2, 3), tl.ones(2, 3)), r"mm|matmul"),
    (lambda: tl.bmm(tl.ones(2, 2, 3), tl.ones(3, 3, 2)), r"bmm: shapes \[2, 2, 3\] and"),
    (lambda: tl.mv(tl.ones(2, 3), tl.ones(2)), r"mv: size mismatch"),
    (lambda: tl.einsum("ij,jk", tl.ones(2, 3), tl.ones(2, 3)), r"subscript j has size"),
    (lambda: tl.einsum("ij", tl.ones(2, 3, 4)), r"number of subscripts"),
    (lambda: tl.einsum("ii", tl.ones(2, 3)), r"repeated for operand 0"),
    (lambda: tl.tensordot(tl.ones(2, 3), tl.ones(2, 3), 1), r"contracted dimensions"),
    (lambda: tl.linalg.cross(tl.ones(2, 2), tl.ones(2, 2)), r"length 3"),
    (lambda: tl.diagonal(tl.ones(2, 2), 0, 1, -1), r"cannot be identical"),
    (lambda: tl.linalg.qr(tl.ones(3, 3), mode="full"), r"unrecognized mode"),
    (lambda: tl.trace(tl.ones(2)), r"trace: expected a matrix"),
])
def test_errors_name_the_op_shapes_and_fix(call, match):
    with pytest.raises((RuntimeError, IndexError, TypeError), match=match):
        call()


def test_errors_match_torch_types(rng):
    for call in (lambda: tl.trace(tl.ones(2, 2, dtype=tl.bool)),
                 lambda: tl.mm(tl.ones(2, 2, dtype=tl.bool), tl.ones(2, 2, dtype=tl.bool)),
                 lambda: tl.tril_indices(3, 3, dtype=tl.float32),
                 lambda: tl.linalg.inv(tl.zeros(2, 2)),
                 lambda: tl.ones(2, 2, 3) @ tl.ones(3, 2, dtype=tl.float64),  # no promotion
                 lambda: tl.matmul(tl.ones(3, dtype=tl.int64), tl.ones(3)),
                 lambda: tl.diagonal(tl.ones(3))):
        with pytest.raises(Exception) as got:
            call()
        with pytest.raises(Exception) as exp:
            _on_torch(call)()
        torch_type = type(exp.value)
        if torch_type.__name__ == "_LinAlgError":
            assert isinstance(got.value, tl.linalg.LinAlgError)
        else:
            assert isinstance(got.value, torch_type), (got.value, exp.value)


def test_qr_and_svd_backward_refusals_match_torch(rng):
    x = rng.standard_normal((5, 3))
    for lib in (tl, torch):
        a = tl_tensor(x, True) if lib is tl else torch.from_numpy(x.copy()).requires_grad_()
        q, r = lib.linalg.qr(a, mode="complete")
        with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
            lib.autograd.grad(q.sum(), a)
        _, r = lib.linalg.qr(a, mode="r")
        with pytest.raises(RuntimeError, match="mode='r'"):
            lib.autograd.grad(r.sum(), a)


# -- the CuPy host stand-in ------------------------------------------------------------------------
def test_the_ops_on_the_cupy_host_stand_in(host_cuda, rng):
    x = _well(rng, (2, 3, 3))
    y = rng.standard_normal((3, 2))
    on = {}
    for device in ("cpu", "cuda"):
        a = tl.tensor(x, device=device, requires_grad=True)
        b = tl.tensor(y, device=device)
        U, S, Vh = tl.linalg.svd(a)
        w, V = tl.linalg.eigh(a + a.mT)
        res = [tl.linalg.inv(a), tl.linalg.det(a), *tl.linalg.slogdet(a), tl.linalg.solve(a, b),
               tl.linalg.cholesky(a @ a.mT), *tl.linalg.qr(a), S, U @ Vh, w, V * V,
               tl.linalg.pinv(a), tl.einsum("bij,jk->bik", a, b), tl.tril(a, -1), tl.triu(a),
               tl.diagonal(a, 1, 1, 2), tl.diag_embed(a[0]), tl.tril_indices(3, 4, 1),
               tl.kron(a[0], b), tl.linalg.vector_norm(a, 3, dim=-1)]
        loss = sum((r * r).sum() for r in res if r.requires_grad)
        loss.backward()
        on[device] = [to_np(r) for r in res] + [to_np(a.grad)]
    for c, g in zip(on["cpu"], on["cuda"]):
        assert c.dtype == g.dtype
        np.testing.assert_allclose(c, g, rtol=1e-10, atol=1e-12)
