"""The README's table of ported programs: each port's final training loss on tensorlite (numpy
and numba backends) beside the same program on PyTorch, from the same initial weights and data.

    python examples/ports/loss_table.py            # prints the markdown table (~2-3 minutes)
    python examples/ports/loss_table.py --scale 2  # every port for twice as many steps

Each port directory's compare.py has ``rows(steps)`` returning
``[(port, steps, loss tensorlite numpy, loss tensorlite numba, loss PyTorch)]``; STEPS says how
many steps each runs here (small enough for the whole table to take a few minutes on 2 cores:
makemore's transformer and mnist's convolutions are the slow ones).
"""
import argparse
import contextlib
import importlib.util
import io
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = {"nanogpt": 20, "word_language_model": 20, "makemore": 20, "vae": 20, "mnist": 8,
         "tutorials": 200}
HEADER = ("| port | steps | tensorlite numpy | tensorlite numba | PyTorch | max relative difference |\n"
          "|---|---:|---:|---:|---:|---:|")


def compare_module(port):
    """examples/ports/<port>/compare.py as a module (each under its own name: the files share
    their basename)."""
    name = f"_ports_compare_{port}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, port, "compare.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def rows(port, steps=None):
    """The port's rows, quietly (the programs print their progress and warn)."""
    steps = STEPS[port] if steps is None else steps
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return compare_module(port).rows(steps)


def max_rel_diff(numpy_loss, numba_loss, torch_loss):
    return max(abs(numpy_loss - torch_loss), abs(numba_loss - torch_loss)) / abs(torch_loss)


def format_row(row):
    name, steps, a, b, c = row
    return f"| {name} | {steps} | {a:.6f} | {b:.6f} | {c:.6f} | {max_rel_diff(a, b, c):.1e} |"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiply every port's steps")
    p.add_argument("ports", nargs="*", default=list(STEPS), help="a subset of " + " ".join(STEPS))
    args = p.parse_args(argv)
    print(HEADER)
    start = time.time()
    for port in args.ports:
        for row in rows(port, max(1, round(STEPS[port] * args.scale))):
            print(format_row(row), flush=True)
    print(f"\n({time.time() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
