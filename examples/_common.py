"""The pipeline shared by the two digits examples (train_digits.py: an MLP, cnn_digits.py: a
small CNN): data splits, training with early stopping, checkpoint round trip, plot, report.

Each script only supplies its model builder and its defaults; ``run`` does the rest and returns
a dict of results, so tests can call a script's ``main(argv)`` without spawning a process.
"""
import argparse
import os
import time

import numpy as np
from tqdm import tqdm

import tensorlite as tl
import tensorlite.nn.functional as F

# -- command line ----------------------------------------------------------------------------------


def parse_args(description, argv=None, *, epochs, lr, weight_decay, patience, batch_size):
    """The options both scripts share; the keyword arguments are the script's defaults."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs,
                   help="maximum number of epochs (early stopping may end sooner) [%(default)s]")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds the split, the initial weights, dropout and shuffling [%(default)s]")
    p.add_argument("--out", default="runs",
                   help="directory for the checkpoint and the plot [%(default)s]")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the final line")
    p.add_argument("--batch-size", type=int, default=batch_size, help="[%(default)s]")
    p.add_argument("--lr", type=float, default=lr, help="initial AdamW learning rate [%(default)s]")
    p.add_argument("--weight-decay", type=float, default=weight_decay,
                   help="decoupled (AdamW) weight decay [%(default)s]")
    p.add_argument("--l2", type=float, default=0.0,
                   help="explicit L2 penalty l2 * sum(w**2) over the weights (not biases), "
                        "added to the loss [%(default)s]")
    p.add_argument("--l1", type=float, default=0.0,
                   help="explicit L1 penalty l1 * sum(|w|) over the weights (not biases), "
                        "added to the loss; favors sparse weights [%(default)s]")
    p.add_argument("--patience", type=int, default=patience,
                   help="early stopping: epochs without a lower validation loss [%(default)s]")
    p.add_argument("--compile", action="store_true",
                   help="wrap the training step (forward, loss, backward, AdamW step) in "
                        "tensorlite.compile: captured on its first calls, replayed after")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or args.patience < 0:
        p.error("--epochs and --batch-size must be >= 1, --patience >= 0")
    return args


# -- data ------------------------------------------------------------------------------------------


def load_splits(seed, image=False, fractions=(0.7, 0.15, 0.15)):
    """scikit-learn's bundled 8x8 digits (1797 samples, no download) split train/val/test with a
    seeded generator, standardized per pixel with statistics of the training split only (pixels
    that are constant in the training split are only centered).  Returns the three (X, y)
    tensor pairs (X float32, (N, 64) or (N, 1, 8, 8) with ``image=True``; y int64)."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X, y = X.astype(np.float32), y.astype(np.int64)
    gen = tl.data.Generator().manual_seed(seed)
    splits = [np.asarray(s.indices) for s in tl.data.random_split(range(len(X)), fractions, gen)]
    train = X[splits[0]]
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std < 1e-6] = 1.0
    X = (X - mean) / std
    if image:
        X = X.reshape(-1, 1, 8, 8)
    return [(tl.tensor(X[idx]), tl.tensor(y[idx])) for idx in splits]


# -- training --------------------------------------------------------------------------------------


def penalty(model, l1=0.0, l2=0.0):
    """The explicit regularization term l1 * sum|w| + l2 * sum w**2 over the weight tensors
    (biases and normalization shifts are left alone), or None when both are 0."""
    if not (l1 or l2):
        return None
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    total = 0.0
    if l1:
        total = total + l1 * sum(w.abs().sum() for w in weights)
    if l2:
        total = total + l2 * sum((w * w).sum() for w in weights)
    return total


@tl.no_grad()
def predict(model, X, batch_size=512):
    """The logits of ``model`` in eval mode (dropout off) on X."""
    model.eval()
    return tl.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


@tl.no_grad()
def evaluate(model, X, y):
    """(mean cross-entropy, accuracy, logits) of ``model`` in eval mode on (X, y)."""
    logits = predict(model, X)
    loss = F.cross_entropy(logits, y).item()
    acc = (logits.argmax(dim=1) == y).float().mean().item()
    return loss, acc, logits


def fit(model, train, val, args, desc):
    """Train with AdamW + cosine annealing, stopping early on the validation loss and restoring
    the best epoch's weights (``args.compile``: the step compiled with tensorlite.compile).
    Returns the per-epoch history, the best epoch and the step function."""
    (Xtr, ytr), (Xva, yva) = train, val
    loader = tl.data.DataLoader(tl.data.TensorDataset(Xtr, ytr), batch_size=args.batch_size,
                                shuffle=True, generator=tl.data.Generator().manual_seed(args.seed))
    opt = tl.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = tl.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    stopper = tl.utils.EarlyStopping(patience=args.patience, min_delta=1e-4, mode="min",
                                     restore_best=True)
    hist = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc", "lr")}
    bar = tqdm(range(args.epochs), desc=desc, unit="epoch", disable=args.quiet, leave=False)

    def train_step(xb, yb):
        """One step on a batch: its mean loss and logits (tensors, read on the host by the
        caller: a compiled step must not read values itself)."""
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        reg = penalty(model, args.l1, args.l2)
        opt.zero_grad()
        (loss if reg is None else loss + reg).backward()
        opt.step()
        return loss.detach(), logits.detach()

    # compiled: the first calls per batch shape capture the step, later ones replay it (the
    # learning rate the scheduler sets each epoch is read by each replay)
    step = tl.compile(train_step) if args.compile else train_step
    for _ in bar:
        model.train()
        loss_sum = correct = 0.0
        for xb, yb in loader:
            loss, logits = step(xb, yb)
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
        hist["lr"].append(opt.param_groups[0]["lr"])
        sched.step()
        val_loss, val_acc, _ = evaluate(model, Xva, yva)
        hist["train_loss"].append(loss_sum / len(ytr))
        hist["train_acc"].append(correct / len(ytr))  # with dropout active: a running estimate
        hist["val_loss"].append(val_loss)
        hist["val_acc"].append(val_acc)
        bar.set_postfix(loss=f"{hist['train_loss'][-1]:.4f}", val_loss=f"{val_loss:.4f}",
                        val_acc=f"{val_acc:.3f}")
        if stopper.step(val_loss, model):
            break
    bar.close()
    stopper.restore(model)
    return hist, stopper.best_epoch, step


# -- outputs ---------------------------------------------------------------------------------------


def checkpoint_roundtrip(model, build_model, path, X_test, extra):
    """Save ``model`` with tensorlite.save, load it into a fresh ``build_model()`` and check
    that the reloaded model gives bit-identical test logits.  Returns the reloaded model."""
    tl.save({"model": model.state_dict(), **extra}, path)
    fresh = build_model()
    fresh.load_state_dict(tl.load(path)["model"])
    before, after = predict(model, X_test).numpy(), predict(fresh, X_test).numpy()
    if not np.array_equal(before, after):  # not an assert: it must also hold under python -O
        raise RuntimeError(f"the model reloaded from {path} does not reproduce the test logits")
    return fresh


def plot_history(hist, best_epoch, path, title):
    """Loss and accuracy curves (train and validation) as a PNG, best epoch marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = np.arange(1, len(hist["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((ax_loss, "loss", "cross-entropy"), (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, hist[f"train_{key}"], label="train (dropout on)")
        ax.plot(epochs, hist[f"val_{key}"], label="validation")
        ax.axvline(best_epoch + 1, color="gray", linestyle="--", label="best (restored)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(name, build_model, args, image=False):
    """The whole pipeline for one model: returns a dict with the test accuracy, history, the
    checkpoint and plot paths, the epochs run and the wall time."""
    start = time.perf_counter()
    backend = tl.get_backend().name
    train, val, test = load_splits(args.seed, image=image)
    tl.manual_seed(args.seed)
    model = build_model()
    hist, best_epoch, step = fit(model, train, val, args, desc=f"{name} [{backend}]")
    test_loss, test_acc, logits = evaluate(model, *test)

    os.makedirs(args.out, exist_ok=True)
    ckpt = os.path.join(args.out, f"{name}.tlc")
    plot = os.path.join(args.out, f"{name}.png")
    reloaded = checkpoint_roundtrip(model, build_model, ckpt, test[0],
                                    {"best_epoch": best_epoch, "test_accuracy": test_acc,
                                     "args": dict(vars(args))})
    plot_history(hist, best_epoch, plot,
                 f"{name}: test accuracy {test_acc:.3f} (backend {backend})")
    seconds = time.perf_counter() - start
    epochs = len(hist["train_loss"])
    if not args.quiet:
        print(f"best epoch {best_epoch + 1} of {epochs}: val loss "
              f"{hist['val_loss'][best_epoch]:.4f}, val accuracy "
              f"{hist['val_acc'][best_epoch]:.3f}; test loss {test_loss:.4f}")
        print(f"checkpoint: {ckpt} (reloaded into a fresh model: identical test predictions)")
        print(f"plot: {plot}")
        if args.compile:
            print(f"compiled step: {step.captures} captures, {len(step.plans())} plans "
                  "(one per batch size, and one where the gradients were still unset)")
    print(f"test accuracy: {test_acc:.3f} (backend {backend}, {epochs} epochs, {seconds:.1f} s)")
    return {"test_accuracy": test_acc, "test_loss": test_loss, "history": hist,
            "best_epoch": best_epoch, "epochs": epochs, "seconds": seconds, "backend": backend,
            "checkpoint": ckpt, "plot": plot, "model": model, "reloaded": reloaded,
            "test_logits": logits, "test": test,
            "compiled": ({"captures": step.captures, "plans": len(step.plans())}
                         if args.compile else None)}
