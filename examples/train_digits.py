"""Train an MLP on scikit-learn's bundled 8x8 handwritten digits with tensorlite.

    python examples/train_digits.py [--epochs 60] [--seed 0] [--out runs] [--quiet] [--l1 1e-5]
    python examples/train_digits.py --compile    # the training step under tensorlite.compile
    mpiexec -n 2 python examples/train_digits.py --distributed   # data parallel (or:
    python -m tensorlite.distributed.run --nproc 2 examples/train_digits.py --distributed)

64-128-64-10 with ReLU and Dropout, cross-entropy, AdamW (decoupled weight decay; ``--l2`` and
``--l1`` add explicit penalties to the loss instead or as well) with cosine annealing, early
stopping on the validation loss with the best weights restored, a checkpoint written with
tensorlite.save and reloaded into a fresh model (identical test predictions), and a loss/accuracy
plot in ``--out``.  The backend comes from TENSORLITE_BACKEND (numpy by default).  ``--compile``
wraps the training step (forward, loss, backward, AdamW step) in ``tensorlite.compile``: its
first calls per batch size capture it, later ones replay the captured plan.

``--distributed`` trains the same model data-parallel over the MPI ranks: DistributedDataParallel,
a DistributedSampler per rank, ``--batch-size`` the global batch (split over the ranks); rank 0
reports and writes the checkpoint (no early stopping or plot in this mode).
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
    argv = list(sys.argv[1:] if argv is None else argv)
    distributed = "--distributed" in argv
    argv = [a for a in argv if a != "--distributed"]
    args = parse_args(__doc__.splitlines()[0], argv, epochs=60, lr=3e-3, weight_decay=1e-3,
                      patience=10, batch_size=64)
    if distributed:
        if args.compile:
            raise SystemExit("--compile is for the single-process run, not with --distributed")
        return run_distributed(args)
    return run("digits_mlp", build_model, args)


def run_distributed(args):
    """Data-parallel training over the MPI ranks; returns rank 0's (and every rank's) summary."""
    import time

    import tensorlite as tl
    import tensorlite.distributed as dist
    import tensorlite.nn.functional as F
    from tensorlite.nn.parallel import DistributedDataParallel
    from tensorlite.utils.data import DataLoader, DistributedSampler, TensorDataset

    from _common import evaluate, load_splits

    start = time.perf_counter()
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    train, val, test = load_splits(args.seed)
    tl.manual_seed(args.seed)
    model = DistributedDataParallel(build_model())  # rank 0's initial weights everywhere
    data = TensorDataset(*train)
    sampler = DistributedSampler(data, seed=args.seed)
    loader = DataLoader(data, batch_size=max(1, args.batch_size // world), sampler=sampler)
    opt = tl.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = tl.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()  # gradients averaged over the ranks
            opt.step()
        sched.step()
        if rank == 0 and not args.quiet:
            val_loss, val_acc, _ = evaluate(model.module, *val)
            print(f"epoch {epoch + 1}: val loss {val_loss:.4f}, val accuracy {val_acc:.3f}")
    test_loss, test_acc, _ = evaluate(model.module, *test)
    seconds = time.perf_counter() - start
    ckpt = os.path.join(args.out, "digits_mlp_ddp.tlc")
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        tl.save(model.state_dict(), ckpt)  # the plain model's keys: loads into build_model()
        print(f"test accuracy: {test_acc:.3f} ({world} ranks, backend {tl.get_backend().name}, "
              f"{args.epochs} epochs, {seconds:.1f} s); checkpoint: {ckpt}")
    dist.destroy_process_group()
    return {"test_accuracy": test_acc, "test_loss": test_loss, "seconds": seconds,
            "world_size": world, "rank": rank, "checkpoint": ckpt}


if __name__ == "__main__":
    main()
