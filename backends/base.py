"""The reference backend: every primitive of the contract, written once over an array module `xp`.

A backend is this class bound to an array module (NumPy, CuPy).  Accelerated backends subclass
it and override a method only where they are faster, checking that their fast path applies and
otherwise calling ``super()``.  The tape never touches an array module directly.

The primitives live in groups, one mixin each (backends/contract.py lists them, and so declares
the contract): creation, conversion, movement, indexing, random and in-place updates in
primitives.py; elementwise ops, reductions and matmul in arithmetic.py; nn kernels in
nn_kernels.py; losses in losses.py; optimizer steps in optim_kernels.py.
"""
from .contract import GROUPS, PRIMITIVES
from .primitives import REFCOUNTS_KNOWN, is_basic_index  # noqa: F401  (imported from here)


class Backend(*GROUPS):
    """Reference implementation of every primitive over the array module ``xp``."""

    name = "base"
    device = "cpu"

    def __init__(self, xp):
        self.xp = xp
        cls = type(self)
        for prim in PRIMITIVES:  # a primitive that is one xp call is that call (primitives.direct)
            xp_name = getattr(getattr(cls, prim), "xp_name", None)
            if xp_name is not None:  # (a subclass's override carries no mark, so it wins)
                setattr(self, prim, getattr(xp, xp_name))

    def __repr__(self):
        return f"<tensorlite backend {self.name!r} on {self.device}>"
