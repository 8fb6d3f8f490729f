"""Interleaved comparisons: one worker process per implementation (no two thread pools in one
process), the processes taking turns block after block in a rotating order, so a load that comes
and goes on a shared machine falls on every row alike.  The ratios of the medians are the figures
to read.

A benchmark file that wants this defines ``make(case, impl) -> fn`` and ends with
``if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]: serve(sys.argv[2], make)``;
``Workers(__file__, names)`` starts it once per implementation.
"""
import contextlib
import json
import os
import subprocess
import sys
import time

import numpy as np

import tensorlite as tl
from conftest import Impl


def serve(impl_name, make):
    """The worker: answer each "CASE N" on stdin with N timed calls of ``make(CASE, impl)``'s
    function (seconds, a JSON list) on stdout; "CASE 0" builds the case and warms it up."""
    row = Impl(impl_name)
    if row.kind == "tensorlite":
        tl.set_backend(impl_name.removeprefix("tensorlite-"))
    fns = {}
    print("ready", flush=True)
    for line in sys.stdin:
        name, n = line.split()
        if name not in fns:
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                fns[name] = make(name, row)
                for _ in range(2):
                    fns[name]()
        times = []
        for _ in range(int(n)):
            start = time.perf_counter()
            fns[name]()
            times.append(time.perf_counter() - start)
        print(json.dumps(times), flush=True)


class Workers:
    """One worker process (``script --worker IMPL``) per implementation, started once for all
    of a file's cases (a start is an import of torch or tensorlite and, for numba, its kernels'
    first load)."""

    def __init__(self, script, names):
        env = dict(os.environ)
        env.pop("TENSORLITE_BACKEND", None)
        self.procs = {n: subprocess.Popen([sys.executable, script, "--worker", n], env=env,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          text=True) for n in names}
        for n, w in self.procs.items():
            assert w.stdout.readline().strip() == "ready", f"the {n} worker did not start"

    def ask(self, name, impl, calls):
        w = self.procs[impl]
        w.stdin.write(f"{name} {calls}\n")
        w.stdin.flush()
        answer = w.stdout.readline()
        assert answer, f"the {impl} worker stopped while running {name}"
        return json.loads(answer)

    def ask_all(self, name, calls):
        for w in self.procs.values():
            w.stdin.write(f"{name} {calls}\n")
            w.stdin.flush()
        return {impl: json.loads(w.stdout.readline()) for impl, w in self.procs.items()}

    def close(self):
        for w in self.procs.values():
            w.stdin.close()
        for w in self.procs.values():
            w.wait(timeout=120)


def alternate(workers, name, rounds, calls, pause=0.1):
    """Median seconds per call of ``name`` per implementation: ``rounds`` blocks of ``calls``
    calls each, the processes in a rotating order; ``pause`` seconds before each block let the
    previous process's threads fall asleep."""
    names = list(workers.procs)
    workers.ask_all(name, 0)  # build and warm up, all at once
    samples = {n: [] for n in names}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            time.sleep(pause)
            samples[n] += workers.ask(name, n, calls)
    return {n: float(np.median(v)) for n, v in samples.items()}, samples
