"""Run one ported program twice, bound to tensorlite and to PyTorch, from the same random draws.

Shared by tests/test_ports_examples.py and the compare.py of vae/, mnist/ and tutorials/. The
program file is never edited: ``load_program`` executes its source (for PyTorch with
``tensorlite`` replaced by ``torch``, which turns the swapped import lines back), and where the
two libraries' random streams differ the run borrows ``Draws``: one seeded NumPy stream whose
values both runs receive in the same order (randn, randn_like, dropout masks, layer inits),
patched into the library for the duration of the run only (``patched``).
"""
import builtins
import contextlib
import math
import os
import sys
import types
import warnings

import numpy as np


def library(use_torch):
    if use_torch:
        import torch
        return torch
    import tensorlite
    return tensorlite


def program_source(path, use_torch):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    if use_torch:
        source = source.replace("tensorlite", "torch")
    return source


def load_program(path, use_torch, argv=(), run_name="__main__", extra_globals=None):
    """Execute the program file as ``python path *argv`` would (as a module when ``run_name``
    is not '__main__': its ``if __name__ == "__main__"`` part is then left out) and return it
    as a module object whose attributes are the program's globals (assigning one changes what
    the program's functions see)."""
    module = types.ModuleType(run_name)
    module.__dict__.update(__file__=path, __builtins__=builtins, **(extra_globals or {}))
    with warnings.catch_warnings():  # the tutorials' docstrings hold "\sin" (not raw strings)
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        code = compile(program_source(path, use_torch),
                       path + (" (torch)" if use_torch else ""), "exec")
    saved = sys.argv
    sys.argv = [path, *argv]
    try:
        exec(code, module.__dict__)
    finally:
        sys.argv = saved
    return module


@contextlib.contextmanager
def patched(*changes):
    """Set ``(obj, name, value)`` attributes for the block, then restore them (deleting a class
    attribute that was only inherited before)."""
    saved = []
    for obj, name, value in changes:
        own = not isinstance(obj, type) or name in obj.__dict__
        saved.append((obj, name, getattr(obj, name) if own else None, own))
        setattr(obj, name, value)
    try:
        yield
    finally:
        for obj, name, old, own in reversed(saved):
            if own:
                setattr(obj, name, old)
            else:
                delattr(obj, name)


@contextlib.contextmanager
def chdir(path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class Draws:
    """Random values from one seeded NumPy stream, made into tensors of ``lib``: two runs (on
    tensorlite and on PyTorch) given Draws with the same seed see the same numbers in the same
    order. Each method has the signature of the library function it stands in for."""

    def __init__(self, lib, seed=0):
        self.lib, self.rng = lib, np.random.default_rng(seed)

    def _tensor(self, values, dtype, requires_grad=False):
        t = self.lib.tensor(values, dtype=dtype or self.lib.get_default_dtype())
        return t.requires_grad_() if requires_grad else t

    def randn(self, *size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
              generator=None, pin_memory=False):
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = tuple(size[0])
        return self._tensor(self.rng.standard_normal(size), dtype, requires_grad)

    def randn_like(self, input, *, dtype=None, layout=None, device=None, requires_grad=False,
                   memory_format=None):
        return self._tensor(self.rng.standard_normal(tuple(input.shape)), dtype or input.dtype,
                            requires_grad)

    def dropout_forward(self):
        """A ``forward`` for nn.Dropout: the same Bernoulli(1 - p) mask on both libraries,
        scaled by 1/(1 - p) in training mode; the identity in eval mode."""
        draws = self

        def forward(module, input):
            if not module.training or module.p == 0:
                return input
            keep = draws.rng.random(tuple(input.shape)) >= module.p
            return input * draws._tensor(keep / (1.0 - module.p), input.dtype)
        return forward

    def reset_parameters(self):
        """A ``reset_parameters`` for nn.Linear / nn.Conv2d: PyTorch's default distributions
        (kaiming_uniform_(a=sqrt(5)) on the weight, i.e. U(+-1/sqrt(fan_in)), and the bias
        U(+-1/sqrt(fan_in))), drawn from the shared stream."""
        draws = self

        def reset_parameters(module):
            weight = module.weight
            fan_in = int(np.prod(tuple(weight.shape)[1:]))
            bound = 1.0 / math.sqrt(fan_in)
            with draws.lib.no_grad():
                for p in (weight, module.bias):
                    if p is not None:
                        values = draws.rng.uniform(-bound, bound, tuple(p.shape))
                        p.copy_(draws._tensor(values, p.dtype))
        return reset_parameters


def loss_rows(port, run, steps):
    """[(port, steps, final train loss on tensorlite numpy, numba, PyTorch)] of ``run(use_torch,
    steps, init=)`` (a compare.py's runner, returning {"train": losses, "init": weights}), run
    quietly on PyTorch and then on tensorlite from PyTorch's initial weights."""
    import io
    import tensorlite as tl
    with contextlib.redirect_stdout(io.StringIO()):
        theirs = run(True, steps)
        ours = {}
        for backend in ("numpy", "numba"):
            with tl.use_backend(backend):
                ours[backend] = run(False, steps, init=theirs["init"])
    return [(port, len(theirs["train"]), ours["numpy"]["train"][-1],
             ours["numba"]["train"][-1], theirs["train"][-1])]
