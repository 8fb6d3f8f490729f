"""Train an MLP on scikit-learn's bundled 8x8 handwritten digits with tensorlite.

    python examples/train_digits.py [--epochs 60] [--seed 0] [--out runs] [--quiet] [--l1 1e-5]

64-128-64-10 with ReLU and Dropout, cross-entropy, AdamW (decoupled weight decay; ``--l2`` and
``--l1`` add explicit penalties to the loss instead or as well) with cosine annealing, early
stopping on the validation loss with the best weights restored, a checkpoint written with
tensorlite.save and reloaded into a fresh model (identical test predictions), and a loss/accuracy
plot in ``--out``.  The backend comes from TENSORLITE_BACKEND (numpy by default).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _common when imported

import tensorlite.nn as nn  # noqa: E402

from _common import parse_args, run  # noqa: E402


def build_model(hidden=(128, 64), dropout=0.2):
    layers, width = [], 64
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 10))


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, epochs=60, lr=3e-3, weight_decay=1e-3,
                      patience=10, batch_size=64)
    return run("digits_mlp", build_model, args)


if __name__ == "__main__":
    main()
