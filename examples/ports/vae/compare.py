"""pytorch/examples vae/main.py (on scikit-learn's digits) on tensorlite (numpy and numba
backends) and on PyTorch, from the same initial weights, batches and reparameterization noise.

    python examples/ports/vae/compare.py [steps]

``run`` loads main.py as a module (its epoch loop left out; argparse sees
``--batch-size 32``), points its ``train_loader`` / ``test_loader`` at the first batches of the
digits in a fixed order, copies initial weights in, lets ``torch.randn_like`` draw from a
shared NumPy stream, and calls the program's own ``train(epoch)`` and ``test(epoch)``, recording
every value of its ``loss_function`` (per sample, as the program prints it).
"""
import math
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _twin_run import Draws, chdir, load_program, loss_rows, patched  # noqa: E402

MAIN = os.path.join(HERE, "main.py")


def run(use_torch, steps, dtype="float32", init=None, batch_size=32, batches_per_epoch=4,
        seed=0):
    """Train ``ceil(steps / batches_per_epoch)`` epochs of ``batches_per_epoch`` batches (each
    followed by the program's test over one batch); returns the per-sample train and test
    losses and the model's initial and final state (NumPy arrays)."""
    mod = load_program(MAIN, use_torch, ["--batch-size", str(batch_size)], run_name="vae_main")
    lib = mod.torch
    if dtype == "float64":
        mod.model.double()
    if init is not None:
        mod.model.load_state_dict({k: lib.tensor(v) for k, v in init.items()})
    start = {k: v.detach().cpu().numpy().copy() for k, v in mod.model.state_dict().items()}
    cast = (lambda a: a.astype(np.float64)) if dtype == "float64" else (lambda a: a)
    transform = mod.transforms.Compose([mod.transforms.ToTensor(), cast])

    def loader(train, batches):
        digits = mod.datasets.MNIST('../data', train=train, transform=transform)
        part = lib.utils.data.Subset(digits, range(batches * batch_size))
        return lib.utils.data.DataLoader(part, batch_size=batch_size, shuffle=False)

    mod.train_loader, mod.test_loader = loader(True, batches_per_epoch), loader(False, 1)
    losses = {"train": [], "test": []}
    loss_function = mod.loss_function

    def recording(recon_x, x, mu, logvar):
        loss = loss_function(recon_x, x, mu, logvar)
        losses["train" if mod.model.training else "test"].append(loss.item() / len(x))
        return loss

    mod.loss_function = recording
    draws = Draws(lib, seed)
    with patched((lib, "randn_like", draws.randn_like)), \
            tempfile.TemporaryDirectory() as tmp, chdir(tmp):
        os.mkdir("results")  # test() saves its reconstruction grid there, as upstream's repo
        for epoch in range(1, math.ceil(steps / batches_per_epoch) + 1):
            mod.train(epoch)
            mod.test(epoch)
    final = {k: v.detach().cpu().numpy() for k, v in mod.model.state_dict().items()}
    return dict(losses, init=start, final=final)


def rows(steps):
    """[(port, steps, final train loss per sample on tensorlite numpy, numba, PyTorch)], float32
    as the program runs, ``steps`` Adam steps over batches of 32."""
    return loss_rows("vae", run, steps)


if __name__ == "__main__":
    for row in rows(int(sys.argv[1]) if len(sys.argv) > 1 else 40):
        print(row)
