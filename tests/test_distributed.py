"""tensorlite.distributed, DistributedDataParallel and DistributedSampler.

The multi-process tests start 2 ranks on loopback through ``mpiexec`` (the mpich wheel of the
``distributed`` extra) running this file as a script: ``python tests/test_distributed.py
<scenario>``; each rank checks its results itself against NumPy (or against the one-process
computation, which every rank can redo: the data are seeded) and prints ``OK <scenario> rank
<r>`` at the end.  They skip, with the reason, where mpi4py or mpiexec is missing.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import tensorlite as tl  # noqa: E402
import tensorlite.distributed as dist  # noqa: E402
from tensorlite.utils.data import DistributedSampler  # noqa: E402


# -- the scenarios each rank runs ----------------------------------------------------------------

def _data(rank: int, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """Rank ``rank``'s input: small, distinct per rank, exact in every dtype."""
    rng = np.random.default_rng(100 + rank)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind == "c":
        return (rng.integers(-3, 4, shape) + 1j * rng.integers(-3, 4, shape)).astype(dtype)
    if dtype.kind == "u":
        return rng.integers(0, 5, shape).astype(dtype)
    return rng.integers(-3, 4, shape).astype(dtype)


def _reference(op: str, arrays: list[np.ndarray]) -> np.ndarray:
    stack = np.stack(arrays)
    if stack.dtype == np.bool_:
        return {"SUM": stack.any(0), "MAX": stack.any(0), "MIN": stack.all(0),
                "PRODUCT": stack.all(0)}[op]
    fn = {"SUM": np.sum, "PRODUCT": np.prod, "MAX": np.max, "MIN": np.min}[op]
    return fn(stack, axis=0).astype(stack.dtype)


def scenario_collectives() -> None:
    dist.init_process_group("mpi")
    r, w = dist.get_rank(), dist.get_world_size()
    assert w == 2 and dist.is_initialized() and dist.get_backend() == "mpi"
    shape = (2, 3)
    checked = 0
    for dtype in tl.dtypes.ALL:
        checked += 1
        np_dtype = np.dtype(dtype)
        name = str(dtype)
        host = [_data(i, np_dtype, shape) for i in range(w)]
        def mine() -> tl.Tensor:
            return tl.tensor(host[r]).to(dtype)

        def check(t: tl.Tensor, expected: np.ndarray, what: str) -> None:
            got = t.to(tl.float64 if dtype.kind != "c" and dtype.kind != "b" else dtype).numpy()
            want = expected.astype(got.dtype)
            assert got.shape == want.shape and np.array_equal(got, want), (what, name, got, want)

        ops = ["SUM", "PRODUCT"] + ([] if np_dtype.kind == "c" else ["MAX", "MIN"])
        for op in ops:
            t = mine()
            dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
            assert t.dtype == dtype
            check(t, _reference(op, host), f"all_reduce {op}")
            t = mine()
            work = dist.all_reduce(t, op=getattr(dist.ReduceOp, op), async_op=True)
            assert isinstance(work, dist.Work)
            work.wait()
            check(t, _reference(op, host), f"all_reduce {op} async")
        if tl.dtypes.is_floating_point(dtype):
            t = mine()
            dist.all_reduce(t, op=dist.ReduceOp.AVG)
            avg = np.mean(np.stack(host).astype(np.float64), 0)
            assert np.allclose(t.to(tl.float64).numpy(), avg, atol=1e-2), ("AVG", name)
        t = mine()
        dist.reduce(t, dst=1, op=dist.ReduceOp.SUM)
        if r == 1:
            check(t, _reference("SUM", host), "reduce")
        else:
            check(t, host[0], "reduce (not dst: unchanged)")
        t = mine()
        dist.broadcast(t, src=1)
        check(t, host[1], "broadcast")
        out = [tl.zeros(shape, dtype=dtype) for _ in range(w)]
        dist.all_gather(out, mine())
        for i in range(w):
            check(out[i], host[i], "all_gather")
        flat = tl.zeros((w * 2, 3), dtype=dtype)
        dist.all_gather_into_tensor(flat, mine())
        check(flat, np.concatenate(host), "all_gather_into_tensor")
        big = [_data(10 + i, np_dtype, (w * 2, 3)) for i in range(w)]
        piece = tl.zeros(shape, dtype=dtype)
        dist.reduce_scatter_tensor(piece, tl.tensor(big[r]).to(dtype))
        check(piece, _reference("SUM", big)[2 * r:2 * r + 2], "reduce_scatter_tensor")
        got = [tl.zeros(shape, dtype=dtype) for _ in range(w)] if r == 0 else None
        dist.gather(mine(), got, dst=0)
        if r == 0:
            assert got is not None
            for i in range(w):
                check(got[i], host[i], "gather")
        t = tl.zeros(shape, dtype=dtype)
        pieces = [tl.tensor(host[i]).to(dtype) for i in range(w)] if r == 1 else None
        dist.scatter(t, pieces, src=1)
        check(t, host[r], "scatter")
        t = mine() if r == 0 else tl.zeros(shape, dtype=dtype)
        if r == 0:
            dist.send(t, dst=1)
        else:
            assert dist.recv(t, src=0) == 0
            check(t, host[0], "send/recv")
    assert checked == len(tl.dtypes.ALL) >= 6, checked
    # a non-contiguous tensor and a 0-d result are reduced in place too
    t = (tl.arange(6.0).reshape(2, 3) + r).t()
    dist.all_reduce(t)
    assert np.array_equal(t.numpy(), (2 * np.arange(6.0).reshape(2, 3) + 1).T)
    s = tl.ones(3).sum() * (r + 1)
    dist.all_reduce(s)
    assert s.item() == 9.0
    # the same collective with different shapes on the two ranks: a clear error on both
    try:
        dist.all_reduce(tl.ones(2 + r))
    except RuntimeError as e:
        msg = str(e)
        assert "rank 0: shape [2] dtype float32" in msg and "rank 1: shape [3]" in msg, msg
    else:
        raise AssertionError("mismatched shapes did not raise")
    try:
        dist.broadcast(tl.ones(2), src=r)  # different roots
    except RuntimeError as e:
        assert "different src" in str(e), e
    else:
        raise AssertionError("mismatched src did not raise")
    # subgroups: global ranks as src/dst, non-members told so
    solo = dist.new_group([1])
    if r == 1:
        t = tl.ones(2)
        dist.all_reduce(t, group=solo)
        assert solo.size() == 1 and dist.get_rank(solo) == 0 and t.tolist() == [1.0, 1.0]
        dist.broadcast(t, src=1, group=solo)
    else:
        assert solo is dist.GroupMember.NON_GROUP_MEMBER
    both = dist.new_group([0, 1])
    t = tl.tensor([float(r)])
    dist.broadcast(t, src=1, group=both)
    assert t.item() == 1.0
    dist.barrier()
    print(f"OK collectives rank {r}", flush=True)


def _mlp(seed: int = 0) -> tl.nn.Module:
    tl.manual_seed(seed)
    return tl.nn.Sequential(tl.nn.Linear(5, 16), tl.nn.ReLU(), tl.nn.Linear(16, 8),
                            tl.nn.Tanh(), tl.nn.Linear(8, 3))


def _batches(steps: int, batch: int) -> list[tuple[tl.Tensor, tl.Tensor]]:
    rng = np.random.default_rng(7)
    return [(tl.tensor(rng.standard_normal((batch, 5)).astype(np.float32)),
             tl.tensor(rng.integers(0, 3, batch))) for _ in range(steps)]


def _close(a: tl.nn.Module, b: tl.nn.Module, what: str) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert np.allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6), \
            (what, name, np.abs(p.detach().numpy() - q.detach().numpy()).max())


def scenario_ddp() -> None:
    from tensorlite.nn.parallel import DistributedDataParallel as DDP
    F = tl.nn.functional
    dist.init_process_group("mpi")
    r, w = dist.get_rank(), dist.get_world_size()
    steps, B = 4, 8
    data = _batches(steps, B)
    for cap in (25.0, 0.0005):  # one bucket; several buckets (overlapped with backward)
        single = _mlp(0)
        opt1 = tl.optim.SGD(single.parameters(), lr=0.1, momentum=0.9)
        for x, y in data:
            opt1.zero_grad()
            F.cross_entropy(single(x), y).backward()
            opt1.step()
        local = _mlp(1 + r)  # different on each rank: construction broadcasts rank 0's
        model = DDP(local, bucket_cap_mb=cap)
        if cap < 1:
            assert len(model._buckets) > 1, len(model._buckets)
        _close(model.module, _mlp(1), "broadcast on construction")
        with tl.no_grad():
            for p, q in zip(model.module.parameters(), _mlp(0).parameters()):
                p.copy_(q)
        opt = tl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        half = B // w
        for x, y in data:
            opt.zero_grad()
            F.cross_entropy(model(x[r * half:(r + 1) * half]), y[r * half:(r + 1) * half]
                            ).backward()
            opt.step()
            if cap < 1:  # the first buckets went out while backward still ran
                assert 1 <= model.overlapped_buckets < len(model._buckets), \
                    (model.overlapped_buckets, len(model._buckets))
        _close(model.module, single, f"DDP vs one process (bucket_cap_mb={cap})")

    # no_sync: two accumulated micro-batches, then a synchronized one == one big batch
    single, model = _mlp(0), DDP(_mlp(0))
    x, y = data[0]
    xs, ys = x.reshape(2, 2, 2, 5), y.reshape(2, 2, 2)  # (micro, rank, 2, ...)
    loss = sum(F.cross_entropy(single(xs[m, i]), ys[m, i]) for m in range(2) for i in range(2))
    (loss / 2).backward()  # the mean over ranks of each rank's sum over micro-batches
    with model.no_sync():
        F.cross_entropy(model(xs[0, r]), ys[0, r]).backward()
    mid = [p.grad.numpy().copy() for p in model.parameters()]
    F.cross_entropy(model(xs[1, r]), ys[1, r]).backward()
    for p, q in zip(model.module.parameters(), single.parameters()):
        assert np.allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-6), "no_sync"
    differ = False  # no_sync left each rank its local gradient
    for g in mid:
        both = [tl.zeros(g.shape) for _ in range(w)]
        dist.all_gather(both, tl.tensor(g))
        differ |= not np.allclose(both[0].numpy(), both[1].numpy())
    assert differ, "no_sync synchronized the gradients"

    # buffers: rank 0's running statistics, on construction and before every forward
    net = tl.nn.Sequential(tl.nn.Linear(5, 4), tl.nn.BatchNorm1d(4))
    with tl.no_grad():
        net[1].running_mean.fill_(float(r + 3))
    model = DDP(net)
    assert np.allclose(net[1].running_mean.numpy(), 3.0), "buffers broadcast on construction"
    model(data[0][0][r * 4:(r + 1) * 4]).sum().backward()
    mine = net[1].running_mean.numpy().copy()
    t = tl.tensor(mine)
    dist.broadcast(t, src=0)
    model(data[1][0][:4]).sum().backward()  # the forward first re-broadcasts rank 0's
    if r == 1:
        assert not np.allclose(mine, t.numpy())
    # state_dict without the "module." prefix, loading both spellings
    keys = list(model.state_dict())
    assert keys == list(net.state_dict()) and not any(k.startswith("module.") for k in keys)
    model.load_state_dict({"module." + k: v for k, v in net.state_dict().items()})
    assert model.module is net

    # unused parameters
    class TwoHeads(tl.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = tl.nn.Linear(5, 4)
            self.used = tl.nn.Linear(4, 2)
            self.unused = tl.nn.Linear(4, 2)

        def forward(self, x: tl.Tensor, head: str = "used") -> tl.Tensor:
            return getattr(self, head)(self.body(x))

    tl.manual_seed(3)
    ref = TwoHeads()
    state = ref.state_dict()
    x = data[0][0]
    ref(x).pow(2).mean().backward()
    model = DDP(TwoHeads(), find_unused_parameters=True, bucket_cap_mb=0.00001)
    model.load_state_dict(state)
    model(x[r * 4:(r + 1) * 4]).pow(2).mean().backward()
    for name, p in model.module.named_parameters():
        q = dict(ref.named_parameters())[name]
        if name.startswith("unused"):
            assert p.grad is None, name  # no rank used it: its grad stays None
        else:
            assert np.allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-6), name
    # used on rank 1 only: rank 0 gets the average too
    model.zero_grad()
    head = "unused" if r == 1 else "used"
    model(x[:4], head=head).sum().backward()
    assert model.module.unused.weight.grad is not None
    g = model.module.unused.weight.grad.numpy().copy()
    t = tl.tensor(g)
    dist.broadcast(t, src=0)
    assert np.allclose(g, t.numpy()), "unused on one rank: every rank has the average"
    # a head used only under no_sync still gets averaged by the next synchronized backward
    model.zero_grad()
    with model.no_sync():
        model(x[r:r + 2], head="unused").sum().backward()
    model(x[:4]).sum().backward()
    g = model.module.unused.weight.grad.numpy().copy()
    t = tl.tensor(g)
    dist.broadcast(t, src=0)
    assert np.allclose(g, t.numpy()), "a gradient accumulated under no_sync was not averaged"
    # backward through two forwards' graphs: a clear error, not a wrong gradient
    model = DDP(_mlp(0))
    a, b = model(data[0][0][:2]), model(data[0][0][2:4])
    try:
        (a.sum() + b.sum()).backward()
    except RuntimeError as e:
        assert "earlier forward" in str(e), e
    else:
        raise AssertionError("backward through two forwards did not raise")
    # without find_unused_parameters: the next forward raises, naming the parameter
    model = DDP(TwoHeads())
    model(x[:4]).sum().backward()
    try:
        model(x[:4])
    except RuntimeError as e:
        assert "Expected to have finished reduction" in str(e) and "unused.weight" in str(e), e
    else:
        raise AssertionError("an unused parameter without find_unused_parameters did not raise")
    print(f"OK ddp rank {r}", flush=True)


def scenario_fail() -> None:
    dist.init_process_group("mpi")
    r = dist.get_rank()
    if r == 1:
        raise ValueError("rank one fails on purpose")
    t = tl.ones(3)
    dist.all_reduce(t)  # would wait forever for rank 1 without the abort
    print("rank 0 was not aborted", flush=True)


def scenario_early() -> None:
    from datetime import timedelta
    if os.environ.get("PMI_RANK") == "1":
        raise ValueError("rank one fails before init_process_group")
    dist.init_process_group("mpi", timeout=timedelta(seconds=3))
    print("rank 0 got through MPI start-up alone", flush=True)


def scenario_timeout() -> None:
    from datetime import timedelta
    dist.init_process_group("mpi", timeout=timedelta(seconds=2))
    if dist.get_rank() == 1:
        time.sleep(60)  # alive but never calls the collective
    t = tl.ones(3)
    dist.all_reduce(t)
    print("rank 0 was not stopped", flush=True)


def scenario_launcher() -> None:
    dist.init_process_group("mpi")
    r = dist.get_rank()
    assert os.environ["RANK"] == str(r) and os.environ["WORLD_SIZE"] == "2"
    assert os.environ["LOCAL_RANK"] == str(r)
    t = tl.tensor([float(r)])
    dist.all_reduce(t)
    assert t.item() == 1.0
    print(f"OK launcher rank {r} args {sys.argv[2:]}", flush=True)


# -- the tests (pytest) -----------------------------------------------------------------------------

def _mpiexec() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.path.exists(here) else shutil.which("mpiexec")


def _skip_reason() -> str | None:
    import importlib.util
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'tensorlite[distributed]')"
    if _mpiexec() is None:
        return "no mpiexec found (pip install mpich, or a system MPI)"
    return None


needs_mpi = pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TENSORLITE_BACKEND", "numpy")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=_env(),
                          cwd=ROOT)


def _ranks(scenario: str) -> subprocess.CompletedProcess[str]:
    mpiexec = _mpiexec()
    assert mpiexec is not None
    return _run([mpiexec, "-n", "2", sys.executable, __file__, scenario])


@needs_mpi
def test_collectives_every_dtype_against_numpy() -> None:
    out = _ranks("collectives")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK collectives rank 0" in out.stdout and "OK collectives rank 1" in out.stdout


@needs_mpi
def test_ddp_matches_one_process_no_sync_buffers_unused() -> None:
    out = _ranks("ddp")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK ddp rank 0" in out.stdout and "OK ddp rank 1" in out.stdout


@needs_mpi
def test_a_raising_rank_aborts_the_job() -> None:
    start = time.perf_counter()
    out = _ranks("fail")
    assert time.perf_counter() - start < 60
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "rank 1 of 2 raised ValueError: rank one fails on purpose" in text, text
    assert "rank 0 was not aborted" not in text


@needs_mpi
def test_a_rank_dying_before_init_ends_the_job() -> None:
    start = time.perf_counter()
    out = _ranks("early")
    assert time.perf_counter() - start < 60
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "rank 0: MPI start-up did not finish within 3 s" in text, text
    assert "rank 0 got through" not in text


@needs_mpi
def test_a_collective_waiting_past_the_timeout_aborts() -> None:
    start = time.perf_counter()
    out = _ranks("timeout")
    assert time.perf_counter() - start < 50  # not rank 1's 60 s sleep
    text = out.stdout + out.stderr
    assert out.returncode != 0, text
    assert "all_reduce (argument check): timed out after 2 s on rank 0" in text, text
    assert "rank 0 was not stopped" not in text


@needs_mpi
def test_launcher_runs_a_script_on_two_ranks(tmp_path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("localhost:2\n")  # the form a multi-machine host file takes
    out = _run([sys.executable, "-m", "tensorlite.distributed.run", "--nproc", "2",
                "--hostfile", str(hosts), __file__, "launcher", "--flag"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK launcher rank 0 args ['--flag']" in out.stdout
    assert "OK launcher rank 1 args ['--flag']" in out.stdout


@needs_mpi
def test_train_digits_distributed(tmp_path) -> None:
    pytest.importorskip("sklearn")
    mpiexec = _mpiexec()
    assert mpiexec is not None
    out = _run([mpiexec, "-n", "2", sys.executable, os.path.join(ROOT, "examples",
                                                               "train_digits.py"),
                "--distributed", "--epochs", "3", "--quiet", "--out", str(tmp_path)])
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("test accuracy") == 1 and "2 ranks" in out.stdout, out.stdout
    accuracy = float(out.stdout.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.8, out.stdout
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import train_digits
    finally:
        sys.path.pop(0)
    model = train_digits.build_model()
    model.load_state_dict(tl.load(str(tmp_path / "digits_mlp_ddp.tlc")))  # no module. prefix


# -- in this process (no MPI) ---------------------------------------------------------------------

def test_collectives_need_init() -> None:
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="init_process_group"):
        dist.all_reduce(tl.ones(2))
    with pytest.raises(ValueError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("tcp")


def test_reduce_op_names() -> None:
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        assert getattr(dist.ReduceOp, name).name == name
    assert dist.Backend("MPI") == "mpi"


def test_sampler_partitions_and_reshuffles() -> None:
    n = 23
    for drop_last in (False, True):
        parts = [list(DistributedSampler(range(n), num_replicas=3, rank=r, seed=5,
                                         drop_last=drop_last)) for r in range(3)]
        sizes = {len(p) for p in parts}
        assert len(sizes) == 1
        flat = [i for p in parts for i in p]
        if drop_last:  # disjoint, 21 of the 23
            assert len(set(flat)) == len(flat) == 21
        else:  # every index, one padded from the start to make 24
            assert set(flat) == set(range(n)) and len(flat) == 24
    s = DistributedSampler(range(n), num_replicas=2, rank=0, seed=1)
    first = list(s)
    assert list(s) == first  # the same epoch gives the same order
    s.set_epoch(1)
    assert list(s) != first
    s.set_epoch(0)
    assert list(s) == first
    plain = DistributedSampler(range(n), num_replicas=2, rank=1, shuffle=False)
    assert list(plain) == list(range(1, n, 2)) + [0]


def test_sampler_index_sequence_is_pytorchs() -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler
    for n, reps, seed, epoch, drop in ((10, 2, 0, 0, False), (101, 4, 7, 3, True),
                                       (1797, 2, 123, 5, False), (5, 8, 0, 1, False)):
        for rank in range(reps):
            ours = DistributedSampler(range(n), num_replicas=reps, rank=rank, seed=seed,
                                      drop_last=drop)
            theirs = TorchSampler(range(n), num_replicas=reps, rank=rank, seed=seed,
                                  drop_last=drop)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_sampler_errors() -> None:
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="distributed"):
        DistributedSampler(range(4))  # no process group to take the world size from


def test_ddp_needs_a_process_group() -> None:
    from tensorlite.nn.parallel import DistributedDataParallel
    with pytest.raises(ValueError, match="init_process_group"):
        DistributedDataParallel(tl.nn.Linear(2, 2))


if __name__ == "__main__":
    globals()["scenario_" + sys.argv[1]]()
