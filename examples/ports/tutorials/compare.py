"""PyTorch's "Learning PyTorch with Examples" and "Neural Networks" tutorials on tensorlite
(numpy and numba backends) and on PyTorch, from the same initial values.

    python examples/ports/tutorials/compare.py [steps]

``run`` executes a tutorial file as a script (for PyTorch, the same source with the import
swapped back) with ``torch.randn`` and the default initialization of nn.Linear and nn.Conv2d drawing from one shared NumPy stream, Python's
``random`` seeded alike (dynamic_net draws its depth from it), and optionally the training
loop cut to ``steps`` iterations (a ``range`` in the script's globals: the file is not edited).
"""
import builtins
import contextlib
import io
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _twin_run import Draws, load_program, patched  # noqa: E402

EXAMPLES = os.path.join(HERE, "learning_pytorch_with_examples")
LEARNING = ["polynomial_tensor", "polynomial_autograd", "polynomial_custom_function",
            "polynomial_nn", "polynomial_optim", "polynomial_module", "dynamic_net"]
NEURAL_NETWORKS = os.path.join(HERE, "neural_networks_tutorial.py")


def path_of(name):
    return NEURAL_NETWORKS if name == "neural_networks_tutorial" else os.path.join(
        EXAMPLES, name + ".py")


def code_blocks(path):
    """The ``.. code:: python`` blocks of the tutorial's commented text, as a reader would
    type them (the first, ``weight = weight - learning_rate * gradient``, is a formula)."""
    blocks, block = [], None
    for line in open(path, encoding="utf-8").read().splitlines():
        if line.strip() == "# .. code:: python":
            block = []
            blocks.append(block)
        elif block is not None and (line == "#" or line.startswith("#     ")):
            block.append(line[6:])
        else:
            block = None
    return ["\n".join(b).strip() + "\n" for b in blocks]


def run(name, use_torch, steps=None, seed=0, with_code_blocks=True):
    """Run one tutorial; returns (its globals as a module, what it printed)."""
    path = path_of(name)
    lib = __import__("torch") if use_torch else __import__("tensorlite")
    draws = Draws(lib, seed)
    init = draws.reset_parameters()
    changes = [(lib, "randn", draws.randn), (lib.nn.Linear, "reset_parameters", init),
               (lib.nn.Conv2d, "reset_parameters", init)]
    extra = {}
    if steps is not None:
        def short_range(*args):
            return builtins.range(min(args[0], steps)) if len(args) == 1 else \
                builtins.range(*args)
        extra["range"] = short_range
    out = io.StringIO()
    random.seed(seed)
    with patched(*changes), contextlib.redirect_stdout(out):
        mod = load_program(path, use_torch, extra_globals=extra)
        if name == "neural_networks_tutorial" and with_code_blocks:
            mod.loss_before_update = mod.loss
            for block in code_blocks(path)[1:]:
                if not use_torch:
                    block = block.replace("import torch.optim", "import tensorlite.optim")
                exec(compile(block, path + " (code block)", "exec"), mod.__dict__)
    return mod, out.getvalue()


def printed_losses(text):
    """The ``t loss`` lines the training loops print."""
    return [float(v) for v in re.findall(r"^\d+ (\S+)$", text, re.M)]


def final_loss(mod):
    loss = mod.loss
    return float(loss) if isinstance(loss, float) else loss.item()


def rows(steps):
    """One row per tutorial: (name, steps, final loss on tensorlite numpy, numba, PyTorch);
    the training loops cut to ``steps`` iterations (each tutorial runs 2000 as written,
    dynamic_net 30000; the Neural Networks tutorial takes one optimizer step)."""
    import tensorlite as tl
    table = []
    for name in LEARNING + ["neural_networks_tutorial"]:
        n = 1 if name == "neural_networks_tutorial" else steps
        values = []
        for backend in ("numpy", "numba"):
            with tl.use_backend(backend):
                values.append(final_loss(run(name, False, steps)[0]))
        values.append(final_loss(run(name, True, steps)[0]))
        table.append((f"tutorial {name}", n, *values))
    return table


if __name__ == "__main__":
    for row in rows(int(sys.argv[1]) if len(sys.argv) > 1 else 2000):
        print(row)
