"""pytorch/examples mnist/main.py (on scikit-learn's digits) on tensorlite (numpy and numba
backends) and on PyTorch, from the same initial weights, batches and dropout masks.

    python examples/ports/mnist/compare.py [steps]

``run`` loads main.py as a module (``main()`` not called) and does what ``main()`` does with
the program's own ``Net``, ``train`` and ``test``: Adadelta(lr=1.0) with StepLR(step_size=1,
gamma=0.7), the training transform ToTensor + Normalize((0.1307,), (0.3081,)), a train and a
test pass per epoch; the loaders take the first batches of the digits in a fixed order, the
initial weights are copied in, and nn.Dropout draws its masks from a shared NumPy stream.
Every ``F.nll_loss`` the program computes is recorded (the test pass's summed loss per sample).
"""
import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _twin_run import Draws, load_program, loss_rows, patched  # noqa: E402

MAIN = os.path.join(HERE, "main.py")


class _Recording:
    """The program's ``F`` with ``nll_loss`` recording each value it returns."""

    def __init__(self, F, losses):
        self._F, self._losses = F, losses

    def __getattr__(self, name):
        return getattr(self._F, name)

    def nll_loss(self, input, target, *args, **kwargs):
        loss = self._F.nll_loss(input, target, *args, **kwargs)
        summed = kwargs.get("reduction") == "sum"
        self._losses["test" if summed else "train"].append(
            loss.item() / len(target) if summed else loss.item())
        return loss


def run(use_torch, steps, dtype="float32", init=None, batch_size=16, batches_per_epoch=4,
        test_batches=1, seed=0):
    """``ceil(steps / batches_per_epoch)`` epochs as main() runs them; returns the train and
    test losses and the model's initial and final state (NumPy arrays)."""
    mod = load_program(MAIN, use_torch, run_name="mnist_main")
    lib = mod.torch
    device = lib.device("cpu")
    model = mod.Net().to(device)
    if dtype == "float64":
        model.double()
    if init is not None:
        model.load_state_dict({k: lib.tensor(v) for k, v in init.items()})
    start = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    cast = (lambda a: a.astype(np.float64)) if dtype == "float64" else (lambda a: a)
    transform = mod.transforms.Compose([mod.transforms.ToTensor(), cast,
                                        mod.transforms.Normalize((0.1307,), (0.3081,))])

    def loader(train, batches):
        digits = mod.datasets.MNIST('../data', train=train, transform=transform)
        part = lib.utils.data.Subset(digits, range(batches * batch_size))
        return lib.utils.data.DataLoader(part, batch_size=batch_size)

    train_loader, test_loader = loader(True, batches_per_epoch), loader(False, test_batches)
    optimizer = mod.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = mod.StepLR(optimizer, step_size=1, gamma=0.7)
    args = argparse.Namespace(log_interval=10, dry_run=False)
    losses = {"train": [], "test": []}
    mod.F = _Recording(mod.F, losses)
    with patched((lib.nn.Dropout, "forward", Draws(lib, seed).dropout_forward())):
        for epoch in range(1, math.ceil(steps / batches_per_epoch) + 1):
            mod.train(args, model, device, train_loader, optimizer, epoch)
            mod.test(model, device, test_loader)
            scheduler.step()
    final = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    return dict(losses, init=start, final=final)


def rows(steps):
    """[(port, steps, final train loss on tensorlite numpy, numba, PyTorch)], float32 as the
    program runs, ``steps`` Adadelta steps over batches of 16."""
    return loss_rows("mnist", run, steps)


if __name__ == "__main__":
    for row in rows(int(sys.argv[1]) if len(sys.argv) > 1 else 40):
        print(row)
