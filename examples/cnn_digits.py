"""Train a small CNN on scikit-learn's bundled 8x8 handwritten digits with tensorlite.

    python examples/cnn_digits.py [--epochs 40] [--seed 0] [--out runs] [--quiet] [--compile]

The same pipeline as train_digits.py (standardized inputs, seeded splits, AdamW + cosine
annealing, early stopping with the best weights restored, checkpoint round trip, plot), with the
digits as 1x8x8 images: conv 1->16 3x3 pad 1, ReLU, max-pool 2 (4x4), conv 16->32 3x3 pad 1,
ReLU, max-pool 2 (2x2), dropout, linear 128->10.  The backend comes from TENSORLITE_BACKEND.
``--compile`` runs the training step under ``tensorlite.compile`` (see train_digits.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # for _common when imported

import tensorlite.nn as nn  # noqa: E402

from _common import parse_args, run  # noqa: E402


def build_model(channels=(16, 32), dropout=0.2):
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 16 x 4 x 4
        nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 32 x 2 x 2
        nn.Flatten(), nn.Dropout(dropout), nn.Linear(c2 * 2 * 2, 10))


def main(argv=None):
    args = parse_args(__doc__.splitlines()[0], argv, epochs=40, lr=3e-3, weight_decay=1e-3,
                      patience=10, batch_size=64)
    return run("digits_cnn", build_model, args, image=True)


if __name__ == "__main__":
    main()
