"""``tensorlite.linalg``: PyTorch's ``torch.linalg`` namespace (norms, inverses, solvers,
decompositions), with gradients where PyTorch has them.

The ops live in tensorlite/ops/linalg.py; each decomposition is a backend primitive (NumPy or
CuPy ``linalg`` underneath) with PyTorch's gradient formula.  Results with several parts are
named tuples as in PyTorch: ``slogdet`` -> (sign, logabsdet), ``qr`` -> (Q, R), ``svd`` ->
(U, S, Vh), ``eigh`` -> (eigenvalues, eigenvectors), ``lstsq`` -> (solution, residuals, rank,
singular_values).  A singular or non positive-definite input raises ``LinAlgError`` (a
RuntimeError, as ``torch.linalg.LinAlgError``).
"""
from .ops.linalg import (LinAlgError, cholesky, cond, det, eigh, eigvalsh, inv, lstsq, matmul,
                         matrix_norm, matrix_power, matrix_rank, multi_dot, pinv, qr, slogdet,
                         solve, solve_triangular, svd, svdvals, tensorinv, tensorsolve, vecdot,
                         vector_norm)
from .ops.linalg import _cross, norm as _norm
from .ops.dtype_ops import eig, eigvals

__all__ = ["LinAlgError", "cholesky", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals",
           "eigvalsh", "inv",
           "lstsq", "matmul", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm",
           "pinv", "qr", "slogdet", "solve", "solve_triangular", "svd", "svdvals", "tensorinv",
           "tensorsolve", "vecdot", "vector_norm"]


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along ``dim`` (default the last), inputs broadcast."""
    return _cross("linalg.cross", input, other, dim)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """A vector norm (``dim`` an int, or ``ord`` None over every element) or a matrix norm
    (``dim`` a pair of dims, or a 2-D input with ``ord`` given)."""
    return _norm(A, ord, dim, keepdim, dtype=dtype)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The ``offset`` diagonal of each matrix (of the last two dims by default)."""
    from .ops.linalg import diagonal as _diagonal
    return _diagonal(A, offset, dim1, dim2)
