"""Launch a training script on several processes, as ``torchrun`` does, through MPI.

    python -m tensorlite.distributed.run --nproc 2 train.py [script args]
    python -m tensorlite.distributed.run --nproc 8 --hostfile hosts train.py   # across machines

It runs ``mpiexec -n <nproc> [-f hostfile] python -m tensorlite.distributed.run --worker
train.py ...`` with the mpiexec installed beside this Python (the ``mpich`` wheel of
``pip install 'tensorlite[distributed]'``), else the first one on PATH (``--mpiexec`` picks
another).  Each worker sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``
from MPI, then runs the script as ``__main__``; an exception that reaches the top of any rank
prints the rank and the traceback and aborts the whole job, so the launcher exits non-zero
instead of hanging.  ``--nproc-per-node``/``--nproc_per_node`` are accepted as in torchrun.
"""
from __future__ import annotations

import argparse
import os
import runpy
import shutil
import subprocess
import sys
import traceback


def find_mpiexec(explicit: str | None = None) -> str:
    """The mpiexec to launch with: ``explicit``, the one beside this Python, else PATH's."""
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside if os.path.exists(beside) else shutil.which("mpiexec")
    if found is None:
        raise SystemExit("tensorlite.distributed.run: no mpiexec found; pip install "
                         "'tensorlite[distributed]' (the mpich wheel provides one) or pass "
                         "--mpiexec")
    return found


def _worker(argv: list[str]) -> None:
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    local = world.Split_type(MPI.COMM_TYPE_SHARED)
    os.environ.update(RANK=str(world.Get_rank()), WORLD_SIZE=str(world.Get_size()),
                      LOCAL_RANK=str(local.Get_rank()),
                      LOCAL_WORLD_SIZE=str(local.Get_size()))
    local.Free()
    script = argv[0]
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0) and world.Get_size() > 1:
            sys.stderr.write(f"tensorlite.distributed.run: rank {world.Get_rank()} exited with "
                             f"{e.code}; aborting the job\n")
            sys.stderr.flush()
            world.Abort(e.code if isinstance(e.code, int) else 1)
        raise
    except BaseException as e:
        if world.Get_size() == 1:
            raise
        sys.stderr.write(f"tensorlite.distributed: rank {world.Get_rank()} of "
                         f"{world.Get_size()} raised {type(e).__name__}: {e}\n")
        traceback.print_exc()
        sys.stderr.write(f"tensorlite.distributed: rank {world.Get_rank()} aborts the job\n")
        sys.stderr.flush()
        world.Abort(1)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        _worker(argv[1:])
        return 0
    p = argparse.ArgumentParser(prog="python -m tensorlite.distributed.run",
                                description="Run a script on several processes through MPI.")
    p.add_argument("--nproc", "--nproc-per-node", "--nproc_per_node", type=int, default=1,
                   dest="nproc", help="processes to start (in all, over the hosts) [1]")
    p.add_argument("--hostfile", help="MPI host file: one host per line, optionally host:n "
                   "(MPICH's mpiexec -f, Open MPI's --hostfile)")
    p.add_argument("--mpiexec", help="the mpiexec to use [the one beside this Python]")
    p.add_argument("script")
    p.add_argument("args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if args.nproc < 1:
        p.error("--nproc must be >= 1")
    mpiexec = find_mpiexec(args.mpiexec)
    cmd = [mpiexec, "-n", str(args.nproc)]
    if args.hostfile:  # MPICH's hydra reads it with -f, Open MPI with --hostfile
        version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True)
        hydra = "HYDRA" in version.stdout + version.stderr
        cmd += ["-f" if hydra else "--hostfile", args.hostfile]
    cmd += [sys.executable, "-m", "tensorlite.distributed.run", "--worker", args.script,
            *args.args]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
