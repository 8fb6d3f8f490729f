"""Data-parallel throughput of the digits MLP (64-128-64-10, ReLU, AdamW), in samples/s.

    python benchmarks/distributed_digits.py [--steps 300] [--batch 256] [--backend numpy]

Runs each configuration in fresh processes and prints one table (the best and the median of
20-step chunks: the machine may be shared):

- ``1 proc x 1 thread``: the plain model, BLAS on one thread (the scaling baseline);
- ``1 proc x 2 threads``: the plain model, BLAS on two threads;
- ``2 procs x 1 thread, bucketed``: DistributedDataParallel over 2 MPI ranks, the gradients
  in several small buckets (``bucket_cap_mb=0.02``), each all-reduced as soon as backward has
  produced it, overlapping the rest of backward;
- ``2 procs x 1 thread, all at end``: one bucket (``bucket_cap_mb=1000``), all-reduced when
  backward has produced the last gradient;
- ``2 procs x 1 thread, no_sync``: the same without any communication (the compute floor).

The global batch is ``--batch`` in every configuration (split over the ranks).  Scaling
efficiency = (2-rank samples/s) / (2 x 1-rank samples/s).  Share of the communication hidden
by overlap = 1 - (bucketed backward - no_sync backward) / (all-at-end backward - no_sync
backward), from the backward times per step.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def allreduce_latency(steps: int) -> None:
    """Microseconds per all-reduce of the MLP's gradient (17,738 float32) on 2 ranks: the
    public all_reduce (with its argument check), the unchecked one DDP uses, raw mpi4py."""
    sys.path.insert(0, ROOT)
    from mpi4py import MPI

    import tensorlite as tl
    import tensorlite.distributed as dist
    dist.init_process_group("mpi")
    pg = dist.GroupMember.WORLD
    assert pg is not None
    t = tl.ones(17738)
    raw = t.numpy()

    def public() -> None:
        dist.all_reduce(t)

    def unchecked() -> None:
        dist._all_reduce_work(pg, t, 0).wait()

    def mpi4py() -> None:
        MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, raw)
    result = {}
    for name, fn in (("public", public), ("unchecked", unchecked), ("mpi4py", mpi4py)):
        times = []
        for i in range(steps + 20):
            dist.barrier()
            start = time.perf_counter()
            fn()
            if i >= 20:
                times.append(time.perf_counter() - start)
        times.sort()
        result[name] = 1e6 * times[len(times) // 2]
    if dist.get_rank() == 0:
        print(json.dumps(result), flush=True)


def worker(mode: str, steps: int, batch: int) -> None:
    if mode == "allreduce":
        allreduce_latency(steps)
        return
    sys.path.insert(0, ROOT)
    import numpy as np

    import tensorlite as tl
    import tensorlite.nn as nn
    import tensorlite.nn.functional as F
    rank, world = 0, 1
    model: nn.Module
    tl.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                        nn.Linear(64, 10))
    if mode != "single":
        import tensorlite.distributed as dist
        from tensorlite.nn.parallel import DistributedDataParallel
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
        cap = {"bucketed": 0.02, "end": 1000.0, "nosync": 25.0}[mode]
        model = DistributedDataParallel(net, bucket_cap_mb=cap)
    else:
        model = net
    per_rank = batch // world
    rng = np.random.default_rng(rank)
    X = tl.tensor(rng.standard_normal((per_rank * 8, 64)).astype(np.float32))
    y = tl.tensor(rng.integers(0, 10, per_rank * 8))
    opt = tl.optim.AdamW(model.parameters(), lr=1e-3)

    def step(i: int) -> float:
        j = (i % 8) * per_rank
        opt.zero_grad()
        loss = F.cross_entropy(model(X[j:j + per_rank]), y[j:j + per_rank])
        t0 = time.perf_counter()
        if mode == "nosync":
            with model.no_sync():  # type: ignore[operator]
                loss.backward()
        else:
            loss.backward()
        t1 = time.perf_counter()
        opt.step()
        return t1 - t0

    for i in range(20):
        step(i)
    # timed in chunks of 20 steps (ranks aligned by a barrier before and after each): the
    # machine is shared, so the best and the median chunk are reported, not one long mean
    chunks: list[tuple[float, float]] = []
    for c in range(max(1, steps // 20)):
        if mode != "single":
            dist.barrier()
        start = time.perf_counter()
        backward_s = sum(step(c * 20 + i) for i in range(20))
        if mode != "single":
            dist.barrier()
        chunks.append((time.perf_counter() - start, backward_s))
    chunks.sort()
    best, median = chunks[0], chunks[len(chunks) // 2]
    overlapped = getattr(model, "overlapped_buckets", 0)
    buckets = len(getattr(model, "_buckets", []))
    if rank == 0:
        print(json.dumps({"samples_per_s": batch * 20 / best[0],
                          "median_samples_per_s": batch * 20 / median[0],
                          "backward_ms": 1000 * best[1] / 20,
                          "step_ms": 1000 * best[0] / 20, "buckets": buckets,
                          "overlapped_buckets": overlapped}), flush=True)


def run(mode: str, procs: int, threads: int, args: argparse.Namespace) -> dict[str, float]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads),
               TENSORLITE_BACKEND=args.backend)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", mode, "--steps",
           str(args.steps), "--batch", str(args.batch)]
    if procs > 1:
        from tensorlite.distributed.run import find_mpiexec
        cmd = [find_mpiexec(), "-n", str(procs)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{out.stdout}\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=256, help="global batch [%(default)s]")
    p.add_argument("--backend", default=os.environ.get("TENSORLITE_BACKEND", "numpy"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.steps, args.batch)
        return
    rows = [("1 proc x 1 thread", run("single", 1, 1, args)),
            ("1 proc x 2 threads", run("single", 1, 2, args)),
            ("2 procs x 1 thread, bucketed", run("bucketed", 2, 1, args)),
            ("2 procs x 1 thread, all at end", run("end", 2, 1, args)),
            ("2 procs x 1 thread, no_sync", run("nosync", 2, 1, args))]
    lat = run("allreduce", 2, 1, args)
    print(f"digits MLP, global batch {args.batch}, {args.steps} steps, backend {args.backend}")
    print("best 20-step chunk (median chunk's samples/s in brackets)")
    print(f"{'configuration':34s} {'samples/s':>18s} {'step ms':>8s} {'backward ms':>12s} "
          f"{'buckets (overlapped)':>21s}")
    for name, r in rows:
        b = f"{int(r['buckets'])} ({int(r['overlapped_buckets'])})" if r["buckets"] else "-"
        rate = f"{r['samples_per_s']:.0f} ({r['median_samples_per_s']:.0f})"
        print(f"{name:34s} {rate:>18s} {r['step_ms']:8.3f} "
              f"{r['backward_ms']:12.3f} {b:>21s}")
    one = rows[0][1]["samples_per_s"]
    for name, r in rows[2:4]:
        print(f"scaling efficiency, {name}: {r['samples_per_s'] / (2 * one):.2f} "
              f"(vs 1 proc x 2 threads: {r['samples_per_s'] / rows[1][1]['samples_per_s']:.2f}x)")
    print(f"all-reduce of the gradient (17,738 float32), median us: all_reduce "
          f"{lat['public']:.1f}, without the argument check (DDP) {lat['unchecked']:.1f}, raw "
          f"mpi4py {lat['mpi4py']:.1f}")
    floor = rows[4][1]["backward_ms"]
    exposed_end = rows[3][1]["backward_ms"] - floor
    exposed_bucketed = rows[2][1]["backward_ms"] - floor
    if exposed_end > 0:
        print(f"communication exposed in backward: all at end {exposed_end:.3f} ms, bucketed "
              f"{exposed_bucketed:.3f} ms; share hidden by overlap "
              f"{1 - exposed_bucketed / exposed_end:.0%}")
    else:
        print("communication exposed in backward: not measurable (all at end <= no_sync)")


if __name__ == "__main__":
    main()
