"""Sparse COO tensors (tensorlite.sparse) against torch on every backend: construction, coalesce,
to_dense, to_sparse, and sparse @ dense forward and backward (random upstream gradient) with
repeated positions before and after coalesce, through every spelling of the product; shapes,
dtypes and errors."""
import pickle

import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite.autograd import gradcheck, gradgradcheck

from cupy_standin import host_cuda, host_cupy  # noqa: F401  (pytest fixtures used by name)

# torch warns on every sparse_coo_tensor that its invariant checks are off by default
# (and that the legacy torch.sparse.FloatTensor(...) is deprecated)
pytestmark = [pytest.mark.filterwarnings("ignore:Sparse invariant checks"),
              pytest.mark.filterwarnings("ignore:torch.sparse.SparseTensor")]

# a 4x5 matrix with positions (1, 2) three times and (3, 0) twice, out of row-major order
INDICES = [[1, 3, 0, 1, 3, 2, 1], [2, 0, 4, 2, 0, 2, 2]]
SIZE = (4, 5)
PRODUCTS = {
    "sparse.mm": lambda lib, s, d: lib.sparse.mm(s, d),
    "spmm": lambda lib, s, d: lib.spmm(s, d),
    "@": lambda lib, s, d: s @ d,
    "S.mm": lambda lib, s, d: s.mm(d),
    "S.matmul": lambda lib, s, d: s.matmul(d),
    "mm": lambda lib, s, d: lib.mm(s, d),
    "matmul": lambda lib, s, d: lib.matmul(s, d),
}


def to_np(t):
    return np.asarray(t.detach().cpu()) if isinstance(t, tl.Tensor) else t.detach().numpy()


def close(a, b, dtype):
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(to_np(a), to_np(b), rtol=tol, atol=tol)


def pair(lib, values, dense, coalesce, dtype, indices=INDICES, size=SIZE):
    v = lib.tensor(values, dtype=getattr(lib, dtype), requires_grad=True)
    d = lib.tensor(dense, dtype=getattr(lib, dtype), requires_grad=True)
    s = lib.sparse_coo_tensor(lib.tensor(indices), v, size)
    return v, d, (s.coalesce() if coalesce else s)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("coalesce", [False, True], ids=["duplicates", "coalesced"])
@pytest.mark.parametrize("product", list(PRODUCTS))
def test_sparse_dense_product_forward_and_backward_match_torch(backend, rng, dtype, coalesce,
                                                               product):
    values = rng.standard_normal(len(INDICES[0]))
    dense = rng.standard_normal((SIZE[1], 3))
    upstream = rng.standard_normal((SIZE[0], 3))
    results = []
    for lib in (torch, tl):
        v, d, s = pair(lib, values, dense, coalesce, dtype)
        out = PRODUCTS[product](lib, s, d)
        assert out.layout == lib.strided and not out.is_sparse
        out.backward(lib.tensor(upstream, dtype=getattr(lib, dtype)))
        results.append((out, v.grad, d.grad))
    (out_th, gv_th, gd_th), (out_tl, gv_tl, gd_tl) = results
    assert out_tl.shape == tuple(out_th.shape) and str(out_tl.dtype) == dtype
    assert out_tl.device == backend.device
    close(out_tl, out_th, dtype)
    close(gd_tl, gd_th, dtype)
    close(gv_tl, gv_th, dtype)  # each copy of a repeated position gets that position's gradient


@pytest.mark.parametrize("coalesce", [False, True], ids=["duplicates", "coalesced"])
def test_product_with_a_vector_matches_torch(backend, rng, coalesce):
    values, vec = rng.standard_normal(len(INDICES[0])), rng.standard_normal(SIZE[1])
    upstream = rng.standard_normal(SIZE[0])
    results = []
    for lib in (torch, tl):
        v, d, s = pair(lib, values, vec, coalesce, "float64")
        out = s @ d
        out.backward(lib.tensor(upstream))
        results.append((out, v.grad, d.grad))
    for a, b in zip(*results):
        close(b, a, "float64")


def test_gradients_reach_what_made_the_values(backend, rng):
    """Edge weights computed from parameters, as in a graph network: the gradient goes through."""
    w0, x0 = rng.standard_normal(len(INDICES[0])), rng.standard_normal((SIZE[1], 2))
    grads = []
    for lib in (torch, tl):
        w = lib.tensor(w0, requires_grad=True)
        x = lib.tensor(x0, requires_grad=True)
        adj = lib.sparse_coo_tensor(lib.tensor(INDICES), w.sigmoid(), SIZE)
        assert adj.requires_grad and adj.grad_fn is not None
        (lib.sparse.mm(adj, x).tanh() ** 2).sum().backward()
        grads.append((w.grad, x.grad))
    for a, b in zip(*grads):
        close(b, a, "float64")


def test_product_gradients_pass_gradcheck_and_gradgradcheck(backend, rng):
    v = tl.tensor(rng.standard_normal(len(INDICES[0])), requires_grad=True)
    d = tl.tensor(rng.standard_normal((SIZE[1], 3)), requires_grad=True)
    idx = tl.tensor(INDICES)

    def f(v, d):
        return tl.sparse.mm(tl.sparse_coo_tensor(idx, v, SIZE), d)

    def g(v, d):
        return tl.sparse_coo_tensor(idx, v, SIZE).coalesce().to_dense() * 2.0

    assert gradcheck(f, (v, d)) and gradgradcheck(f, (v, d))
    assert gradcheck(g, (v, d.detach()))


# -- coalesce, to_dense, indices, values ----------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_coalesce_and_to_dense_match_torch(backend, rng, dtype):
    values = rng.integers(-5, 5, len(INDICES[0])).astype(dtype)
    got = {}
    for lib in (torch, tl):
        s = lib.sparse_coo_tensor(lib.tensor(INDICES), lib.tensor(values), SIZE)
        c = s.coalesce()
        got[lib] = (s.is_coalesced(), s._nnz(), c.is_coalesced(), c._nnz(), to_np(c.indices()),
                    to_np(c.values()), to_np(s.to_dense()), to_np(c.to_dense()),
                    to_np(s._indices()), to_np(s._values()), tuple(s.shape), s.dim(),
                    s.sparse_dim(), s.dense_dim(), str(s.dtype).replace("torch.", ""),
                    s.is_sparse)
    for a, b in zip(got[torch], got[tl]):
        np.testing.assert_array_equal(b, a)
    assert tl.sparse_coo_tensor(INDICES, values, SIZE).layout is tl.sparse_coo


def test_to_dense_and_coalesce_backward_match_torch(backend, rng):
    values, upstream = rng.standard_normal(len(INDICES[0])), rng.standard_normal(SIZE)
    grads = []
    for lib in (torch, tl):
        v = lib.tensor(values, requires_grad=True)
        s = lib.sparse_coo_tensor(lib.tensor(INDICES), v, SIZE)
        (s.to_dense() * lib.tensor(upstream)).sum().backward()
        g1 = v.grad.clone()
        v.grad = None
        c = lib.sparse_coo_tensor(lib.tensor(INDICES), v, SIZE).coalesce()
        (c.values() * lib.arange(c._nnz())).sum().backward()
        grads.append((g1, v.grad))
    for a, b in zip(*grads):
        close(b, a, "float64")


def test_indices_and_values_of_an_uncoalesced_tensor_raise_as_torch():
    for lib in (torch, tl):
        s = lib.sparse_coo_tensor(lib.tensor(INDICES), lib.ones(len(INDICES[0])), SIZE)
        for name in ("indices", "values"):
            with pytest.raises(RuntimeError, match="uncoalesced tensor, please call .coalesce"):
                getattr(s, name)()


@pytest.mark.parametrize("indices,values,size", [
    ([[0, 1, 1], [2, 0, 2]], [1, 2, 3], None),  # size inferred, int64 values
    ([[0, 1, 1], [2, 0, 2]], [1.0, 2.0, 3.0], (3, 3)),
    ([[0], [1]], [5.0], (2, 2)),  # one value: coalesced
    ([[2, 0, 1]], [1.0, 2.0, 3.0], (4,)),  # 1-D
    ([[0, 1], [0, 1], [1, 0]], [1.0, 2.0], (2, 2, 2)),  # 3-D
])
def test_construction_matches_torch(backend, indices, values, size):
    got = {}
    for lib in (torch, tl):
        s = lib.sparse_coo_tensor(lib.tensor(indices), lib.tensor(values),
                                  *(() if size is None else (size,)))
        got[lib] = (tuple(s.shape), str(s.dtype).replace("torch.", ""), s.is_coalesced(),
                    to_np(s.to_dense()))
    for a, b in zip(got[torch], got[tl]):
        np.testing.assert_array_equal(b, a)


def test_empty_sparse_tensor_matches_torch(backend):
    for lib in (torch, tl):
        s = lib.sparse_coo_tensor(lib.zeros((2, 0), dtype=lib.int64), lib.zeros(0), (2, 3))
        assert s.is_coalesced() and s._nnz() == 0 and s.coalesce()._nnz() == 0
        assert to_np(s.to_dense()).tolist() == [[0.0] * 3] * 2
        assert to_np(s @ lib.ones(3, 2)).tolist() == [[0.0] * 2] * 2


def test_to_sparse_matches_torch(backend):
    x = [[0.0, 1.5, 0.0], [2.0, 0.0, -3.0]]
    got = {}
    for lib in (torch, tl):
        s = lib.tensor(x).to_sparse()
        got[lib] = (s.is_coalesced(), to_np(s.indices()), to_np(s.values()), tuple(s.shape))
    for a, b in zip(got[torch], got[tl]):
        np.testing.assert_array_equal(b, a)


def test_to_sparse_gradient_reaches_the_stored_elements(backend, rng):
    """torch's ToSparseBackward gives the whole dense gradient; here the gradient reaches the
    non-zero elements that the sparse tensor stores (zero elsewhere): the two agree there."""
    x0 = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -3.0]])
    d0 = rng.standard_normal((3, 2))
    grads = []
    for lib in (torch, tl):
        x = lib.tensor(x0, requires_grad=True)
        (x.to_sparse() @ lib.tensor(d0)).sum().backward()
        grads.append(to_np(x.grad))
    mask = x0 != 0
    np.testing.assert_allclose(grads[1][mask], grads[0][mask], rtol=1e-12)
    assert (grads[1][~mask] == 0).all()


def test_a_sparse_leaf_gets_a_sparse_gradient_as_torch_sparse_mm(backend, rng):
    values, dense = rng.standard_normal(len(INDICES[0])), rng.standard_normal((SIZE[1], 3))
    got = {}
    for lib in (torch, tl):
        s = lib.sparse_coo_tensor(lib.tensor(INDICES), lib.tensor(values), SIZE,
                                  requires_grad=True)
        assert s.is_leaf and s.requires_grad
        lib.sparse.mm(s, lib.tensor(dense)).sum().backward()
        g = s.grad.coalesce()
        s.grad = None
        assert s.grad is None
        s.requires_grad = False
        assert not s.requires_grad
        got[lib] = (g.is_sparse, tuple(g.shape), to_np(g.indices()), to_np(g.values()))
    np.testing.assert_array_equal(got[tl][2], got[torch][2])
    np.testing.assert_allclose(got[tl][3], got[torch][3], rtol=1e-12)
    assert got[tl][:2] == got[torch][:2]


def test_transpose_scale_and_conversions_match_torch(backend, rng):
    values, dense = rng.standard_normal(len(INDICES[0])), rng.standard_normal((SIZE[0], 2))
    got = {}
    for lib in (torch, tl):
        s = lib.sparse_coo_tensor(lib.tensor(INDICES), lib.tensor(values), SIZE)
        got[lib] = (to_np(s.t().to_dense()), to_np(s.transpose(0, 1) @ lib.tensor(dense)),
                    to_np((s * 2.5).to_dense()), to_np((-s / 2).to_dense()),
                    str(s.float().dtype).replace("torch.", ""), s.t().is_coalesced(),
                    to_np(s.detach().clone().to_dense()))
    for a, b in zip(got[torch], got[tl]):
        np.testing.assert_allclose(b, a, rtol=1e-12) if isinstance(a, np.ndarray) else None
        assert isinstance(a, np.ndarray) or a == b


def test_a_sparse_tensor_is_a_tensor_but_not_a_legacy_dense_type():
    s = tl.sparse_coo_tensor(INDICES, [1.0] * 7, SIZE)
    assert isinstance(s, tl.Tensor) and not isinstance(s, tl.FloatTensor)
    assert isinstance(torch.sparse_coo_tensor(INDICES, [1.0] * 7, SIZE), torch.Tensor)
    assert s.device.type == "cpu" or s.device == "cuda"
    t = pickle.loads(pickle.dumps(s))
    assert t._nnz() == 7 and t.shape == SIZE and np.array_equal(to_np(t.to_dense()),
                                                                to_np(s.to_dense()))
    assert "layout=tensorlite.sparse_coo" in repr(s) and "nnz=7" in repr(s)


# -- errors -----------------------------------------------------------------------------------------
def both_raise(fn, match=None):
    with pytest.raises(Exception) as th:
        fn(torch)
    with pytest.raises(th.type, match=match):
        fn(tl)


def test_shape_mismatch_raises_as_torch(backend):
    both_raise(lambda lib: lib.sparse.mm(lib.sparse_coo_tensor(INDICES, [1.0] * 7, SIZE),
                                         lib.ones(4, 2)), match=r"cannot be multiplied")
    both_raise(lambda lib: lib.sparse_coo_tensor(INDICES, [1.0] * 7, SIZE) @ lib.ones(4),
               match="inner sizes must match")


def test_dtype_mismatch_raises_as_torch(backend):
    both_raise(lambda lib: lib.sparse.mm(lib.sparse_coo_tensor(INDICES, [1.0] * 7, SIZE),
                                         lib.ones(5, 2, dtype=lib.float64)),
               match="expected scalar type float32 but found float64")


def test_bool_product_raises_as_torch(backend):
    both_raise(lambda lib: lib.sparse_coo_tensor(INDICES, [True] * 7, SIZE)
               @ lib.ones(5, 2, dtype=lib.bool))


def test_bad_construction_raises_as_torch():
    both_raise(lambda lib: lib.sparse_coo_tensor(INDICES, [1.0] * 6, SIZE),
               match="indices and values must have same nnz")
    both_raise(lambda lib: lib.sparse_coo_tensor(INDICES, [1.0] * 7, (4, 5, 2)),
               match=r"len\(size\) == sparse_dim \+ dense_dim")


def test_out_of_bounds_indices_are_refused():
    """torch skips its invariant checks by default (and then reads out of bounds); we check."""
    match = "size is inconsistent with indices: for dim 0, size is 3 but found index 3"
    with pytest.raises(RuntimeError, match=match):
        tl.sparse_coo_tensor(INDICES, [1.0] * 7, (3, 5))
    with pytest.raises(RuntimeError, match=match):
        with torch.sparse.check_sparse_tensor_invariants():
            torch.sparse_coo_tensor(INDICES, [1.0] * 7, (3, 5))


def test_hybrid_values_are_not_supported():
    with pytest.raises(NotImplementedError, match="hybrid sparse tensors"):
        tl.sparse_coo_tensor(INDICES, tl.ones(7, 2), (4, 5, 2))


@pytest.mark.parametrize("call,name", [
    (lambda s: s.exp(), "exp"), (lambda s: s + 1, "__add__"), (lambda s: s.sum(), "sum"),
    (lambda s: s[0], "__getitem__"), (lambda s: s.view(20), "view"),
    (lambda s: tl.zeros(3, 4) @ s, "dense @ sparse"), (lambda s: s @ s, "sparse @ sparse"),
    (lambda s: s.numpy(), "numpy"), (lambda s: s.backward(), "backward"),
    (lambda s: s * tl.ones(4, 5), "mul"), (lambda s: tl.exp(s), "exp"),
    (lambda s: tl.nn.functional.relu(s), "relu"), (lambda s: tl.nn.Linear(5, 2)(s), "linear"),
    (lambda s: tl.save(s, __import__("io").BytesIO()), "save"),
])
def test_unsupported_ops_name_themselves_and_suggest_to_dense(call, name):
    s = tl.sparse_coo_tensor(INDICES, [1.0] * 7, SIZE)
    with pytest.raises(NotImplementedError, match=r"\.to_dense\(\)") as e:
        call(s)
    assert str(e.value).startswith(name), str(e.value)


# -- the cupy backend on the host stand-in (tests/cupy_standin.py) --------------------------------
@pytest.fixture
def host_sparse_cuda(host_cuda, monkeypatch):
    """The host stand-in for CuPy with a stand-in cupyx.scipy.sparse (SciPy on the host views,
    refusing host arrays as cuSPARSE would), so the cupy backend's own sparse code runs."""
    import sys
    import types

    import scipy.sparse
    from cupy_standin import _host_view, _no_host, _to_dev

    class CooMatrix:
        built = 0

        def __init__(self, arg, shape):
            CooMatrix.built += 1
            _no_host("cupyx.scipy.sparse.coo_matrix", arg)
            data, (rows, cols) = _host_view(arg)
            self._m = scipy.sparse.coo_matrix((data, (rows, cols)), shape=shape)

        def tocsr(self):
            return self

        def __matmul__(self, other):
            _no_host("csr_matrix @", other)
            return _to_dev(np.asarray(self._m.tocsr() @ _host_view(other)))

    sparse_mod = types.ModuleType("cupyx.scipy.sparse")
    sparse_mod.coo_matrix = CooMatrix
    scipy_mod = types.ModuleType("cupyx.scipy")
    scipy_mod.sparse = sparse_mod
    monkeypatch.setattr(sys.modules["cupyx"], "scipy", scipy_mod, raising=False)
    monkeypatch.setitem(sys.modules, "cupyx.scipy", scipy_mod)
    monkeypatch.setitem(sys.modules, "cupyx.scipy.sparse", sparse_mod)
    host_cuda.sparse_products = CooMatrix
    return host_cuda


@pytest.mark.parametrize("coalesce", [False, True], ids=["duplicates", "coalesced"])
def test_sparse_on_the_cupy_host_stand_in_matches_the_cpu(host_sparse_cuda, rng, coalesce):
    values, dense = rng.standard_normal(len(INDICES[0])), rng.standard_normal((SIZE[1], 3))
    upstream = rng.standard_normal((SIZE[0], 3))
    got = {}
    for device in ("cpu", "cuda"):
        v = tl.tensor(values, device=device, requires_grad=True)
        d = tl.tensor(dense, device=device, requires_grad=True)
        s = tl.sparse_coo_tensor(tl.tensor(INDICES, device=device), v, SIZE)
        s = s.coalesce() if coalesce else s
        assert s.device == device and s.is_cuda == (device == "cuda")
        out = s @ d
        out.backward(tl.tensor(upstream, device=device))
        got[device] = [to_np(t) for t in (out, v.grad, d.grad, s.to_dense(), s.coalesce().values(),
                                          s.coalesce().indices())]
    for a, b in zip(got["cpu"], got["cuda"]):
        np.testing.assert_allclose(b, a, rtol=1e-12)
    assert host_sparse_cuda.sparse_products.built == 2  # the forward and the dense gradient
    moved = tl.sparse_coo_tensor(INDICES, values, SIZE).to("cuda")
    assert moved.device == "cuda" and moved._indices().device == "cuda"


# -- a whole program: Kipf's pygcn, written for torch, run with `import tensorlite as torch` -------
def _pygcn(torch, adj_scipy, features, labels, weights, epochs=5):
    """pygcn's model, utils and training loop (github.com/tkipf/pygcn), as written for torch:
    legacy FloatTensor/LongTensor, torch.sparse.FloatTensor, torch.spmm, Parameter(...).data.
    (Its `from torch.nn.parameter import Parameter` is torch.nn.Parameter here: an import
    statement would find the real torch, whichever library ``torch`` names.)"""
    import math

    nn, optim, F, Parameter = torch.nn, torch.optim, torch.nn.functional, torch.nn.Parameter

    def sparse_mx_to_torch_sparse_tensor(sparse_mx):
        sparse_mx = sparse_mx.tocoo().astype(np.float32)
        indices = torch.from_numpy(np.vstack((sparse_mx.row, sparse_mx.col)).astype(np.int64))
        values = torch.from_numpy(sparse_mx.data)
        shape = torch.Size(sparse_mx.shape)
        return torch.sparse.FloatTensor(indices, values, shape)

    class GraphConvolution(nn.Module):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__()
            self.weight = Parameter(torch.FloatTensor(in_features, out_features))
            self.bias = Parameter(torch.FloatTensor(out_features)) if bias else None
            stdv = 1. / math.sqrt(self.weight.size(1))
            self.weight.data.uniform_(-stdv, stdv)
            self.bias.data.uniform_(-stdv, stdv)

        def forward(self, input, adj):
            support = torch.mm(input, self.weight)
            output = torch.spmm(adj, support)
            return output + self.bias

    class GCN(nn.Module):
        def __init__(self, nfeat, nhid, nclass):
            super().__init__()
            self.gc1 = GraphConvolution(nfeat, nhid)
            self.gc2 = GraphConvolution(nhid, nclass)

        def forward(self, x, adj):
            x = F.relu(self.gc1(x, adj))
            x = self.gc2(x, adj)
            return F.log_softmax(x, dim=1)

    adj = sparse_mx_to_torch_sparse_tensor(adj_scipy)
    features = torch.FloatTensor(features)
    labels = torch.LongTensor(labels)
    idx_train = torch.LongTensor(range(len(labels) // 2))
    model = GCN(features.shape[1], weights[0].shape[1], int(labels.max()) + 1)
    with torch.no_grad():  # the same start for both libraries
        for p, w in zip(model.parameters(), weights):
            p.copy_(torch.from_numpy(w))
    optimizer = optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    losses = []
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        output = model(features, adj)
        loss_train = F.nll_loss(output[idx_train], labels[idx_train])
        loss_train.backward()
        optimizer.step()
        losses.append(loss_train.item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


def test_pygcn_runs_as_with_torch(rng):
    import scipy.sparse
    n, nfeat, nhid, nclass = 30, 6, 8, 3
    a = scipy.sparse.random(n, n, density=0.15, random_state=0, format="coo")
    adj = a + a.T + scipy.sparse.eye(n)
    deg = np.asarray(adj.sum(1)).ravel()
    adj = scipy.sparse.diags(1.0 / deg) @ adj  # row-normalized, as pygcn
    features = rng.standard_normal((n, nfeat)).astype(np.float32)
    labels = rng.integers(0, nclass, n)
    weights = [rng.uniform(-0.3, 0.3, s).astype(np.float32)
               for s in ((nfeat, nhid), (nhid,), (nhid, nclass), (nclass,))]
    got = _pygcn(tl, adj, features, labels, weights)
    expected = _pygcn(torch, adj, features, labels, weights)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)
    for a_, b_ in zip(got[1], expected[1]):
        np.testing.assert_allclose(a_, b_, rtol=1e-4, atol=1e-6)


def test_legacy_sparse_types_match_torch():
    idx, vals = [[0, 1, 1], [1, 0, 1]], [1.0, 2.0, 3.0]
    for name, dtype in (("FloatTensor", "float32"), ("DoubleTensor", "float64"),
                        ("LongTensor", "int64")):
        got = {}
        for lib in (torch, tl):
            cls = getattr(lib.sparse, name)
            s = cls(lib.tensor(idx), lib.tensor(vals, dtype=getattr(lib, dtype)), (2, 2))
            e = cls(2, 3)
            got[lib] = (str(s.dtype).replace("torch.", ""), s.is_sparse, s.type(),
                        isinstance(s, cls), isinstance(lib.zeros(2), cls), tuple(e.shape),
                        e._nnz(), to_np(s.to_dense()).tolist())
        assert got[tl] == got[torch]
