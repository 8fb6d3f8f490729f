"""Regression tests for defects met by whole programs: formatting a loss, an infinite loader,
unseeded runs repeating themselves, a half-applied optimizer step, a wrong-shape ``.grad``
assignment, and temporaries left behind by a killed save."""
import numpy as np
import pytest
import torch

import tensorlite as tl
from tensorlite import nn, optim


# -- Tensor.__format__ -----------------------------------------------------------------------------
FORMAT_CASES = [(2.5, None), ([2.5], None), ([[2.5]], None), ([1.0, 2.0], None), (3, None),
                ([True], None), (-0.000123, None), (7, "float64")]


@pytest.mark.parametrize("value,dtype", FORMAT_CASES)
@pytest.mark.parametrize("spec", ["", ".2f", ".4f", ">10", "e", "+.1%"])
def test_format_matches_torch(value, dtype, spec):
    t_tl = tl.tensor(value, dtype=getattr(tl, dtype) if dtype else None)
    t_th = torch.tensor(value, dtype=getattr(torch, dtype) if dtype else None)
    try:
        expected = format(t_th, spec)
    except (TypeError, ValueError) as e:
        with pytest.raises(type(e)):
            format(t_tl, spec)
        return
    got = format(t_tl, spec)
    if t_th.dim() == 0:
        assert got == expected
    else:  # the empty spec gives str(t), which is our repr
        assert got == str(t_tl)


def test_format_of_a_loss_in_an_f_string():
    x = tl.tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).mean()  # 0-d, requires grad: formats without complaint, as torch
    assert f"{loss:.4f}" == "2.5000" and f"{loss}" == "2.5"
    with pytest.raises(TypeError, match=r"shape \(1,\).*0-d.*item\(\)"):
        f"{tl.tensor([2.5]):.2f}"  # torch 2.13 rejects a one-element 1-d tensor too
    p = nn.Parameter(tl.tensor(2.5))
    with pytest.raises(TypeError):  # torch formats only plain Tensors (type(self) is Tensor)
        f"{p:.2f}"
    with pytest.raises(TypeError):
        f"{torch.nn.Parameter(torch.tensor(2.5)):.2f}"


# -- .grad assignment ----------------------------------------------------------------------------
def test_grad_setter_rejects_what_torch_rejects():
    a, a_th = nn.Parameter(tl.ones(2)), torch.nn.Parameter(torch.ones(2))
    for bad in ([3], [1, 2], []):
        with pytest.raises(RuntimeError) as th:
            a_th.grad = torch.ones(bad)
        with pytest.raises(RuntimeError) as ours:
            a.grad = tl.ones(bad)
        assert str(ours.value) == str(th.value)
        assert a.grad is None  # a failed assignment changes nothing
    with pytest.raises(RuntimeError, match="dtype float64.*dtype float32"):
        a.grad = tl.ones(2, dtype=tl.float64)
    with pytest.raises(RuntimeError, match="dtype int64"):
        a.grad = tl.ones(2, dtype=tl.int64)
    for bad in ([1.0, 2.0], 3.0, np.ones(2), torch.ones(2)):
        with pytest.raises(TypeError, match="Tensor or None but got grad of type"):
            a.grad = bad
    g = tl.full((2,), 3.0)
    a.grad = g
    assert a.grad is g
    with pytest.raises(RuntimeError):
        a.grad = tl.ones(3)
    assert a.grad is g
    a.grad = None
    assert a.grad is None
    a.grad = g
    del a.grad
    assert a.grad is None


def test_grad_setter_checks_the_device(monkeypatch):
    a = tl.ones(2)
    g = tl.ones(2)
    g.device = "cuda"  # a stand-in: only the recorded device is compared
    with pytest.raises(RuntimeError, match="device 'cuda' to a tensor located on device 'cpu'"):
        a.grad = g
    assert a.grad is None


def test_backward_still_fills_grad(backend):
    w = tl.tensor([1.0, 2.0], device=backend.device, requires_grad=True)
    y = tl.tensor([3.0], device=backend.device, requires_grad=True)
    ((w * y).sum() * 2).backward()
    (w * y).sum().backward()
    np.testing.assert_allclose(np.asarray(w.grad), [9.0, 9.0])
    np.testing.assert_allclose(np.asarray(y.grad), [9.0])
    h = w * 1.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(np.asarray(h.grad), [2.0, 4.0])


# -- optimizer steps are atomic ------------------------------------------------------------------
OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "Adam": lambda ps: optim.Adam(ps, lr=0.1, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.1),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5, centered=True),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1),
    "Adadelta": lambda ps: optim.Adadelta(ps, lr=0.1),
}


def _snapshot(params, opt):
    values = [np.array(p.detach()) for p in params]
    versions = [p._version[0] for p in params]
    state = {i: {k: (np.array(v) if isinstance(v, tl.Tensor) else v)
                 for k, v in opt.state[p].items()}
             for i, p in enumerate(params) if p in opt.state}
    return values, versions, state


def _assert_same(before, after):
    (v0, n0, s0), (v1, n1, s1) = before, after
    for a, b in zip(v0, v1):
        np.testing.assert_array_equal(a, b)
    assert n0 == n1
    assert s0.keys() == s1.keys()
    for i in s0:
        assert s0[i].keys() == s1[i].keys()
        for k in s0[i]:
            np.testing.assert_array_equal(s0[i][k], s1[i][k])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize("bad", ["shape", "dtype"])
def test_step_with_a_bad_gradient_changes_nothing(backend, name, warm, bad):
    rng = np.random.default_rng(0)
    params = [tl.tensor(rng.standard_normal(s), dtype=tl.float32, device=backend.device,
                        requires_grad=True) for s in [(3, 2), (4,), (2,)]]
    opt = OPTIMIZERS[name]([{"params": params[:2]}, {"params": params[2:]}])
    if warm:  # the state exists already
        for p in params:
            p.grad = tl.ones_like(p)
        opt.step()
    for p in params:
        p.grad = tl.full(p.shape, 0.5, device=backend.device)
    wrong = (tl.ones(5, device=backend.device) if bad == "shape"
             else tl.ones(4, dtype=tl.float64, device=backend.device))
    params[1]._grad = wrong  # past the setter's check, as a buggy writer could
    before = _snapshot(params, opt)
    with pytest.raises(RuntimeError) as e:
        opt.step()
    msg = str(e.value)
    assert msg.startswith(f"{name}.step") and "parameter 1 in param group 0" in msg
    assert "shapes" in msg and "no parameter was updated" in msg
    if bad == "shape":
        assert "[5] and [4]" in msg
    else:
        assert "float64[4]" in msg and "float32[4]" in msg
    _assert_same(before, _snapshot(params, opt))
    params[1].grad = tl.full((4,), 0.5, device=backend.device)  # fixed: the step now runs
    opt.step()
    assert not np.array_equal(np.array(params[0].detach()), before[0][0])


def test_adam_amsgrad_state_check_changes_nothing():
    ps = [tl.ones(2, requires_grad=True), tl.ones(3, requires_grad=True)]
    opt = optim.Adam(ps, lr=0.1)
    for p in ps:
        p.grad = tl.ones_like(p)
    opt.step()
    opt.param_groups[0]["amsgrad"] = True  # the state has no max_exp_avg_sq
    before = _snapshot(ps, opt)
    with pytest.raises(RuntimeError, match="parameter 0 in param group 0.*max_exp_avg_sq"):
        opt.step()
    _assert_same(before, _snapshot(ps, opt))


def test_np_array_of_a_tensor_is_a_snapshot(backend):
    t = tl.ones(2, device=backend.device)
    snap = np.array(t)  # as torch: a copy, so later in-place updates do not show in it
    with tl.no_grad():
        t.add_(1.0)
    np.testing.assert_array_equal(snap, [1.0, 1.0])
    np.testing.assert_array_equal(np.array(t, dtype=np.float64), [2.0, 2.0])
    if backend.device == "cpu":
        np.asarray(t)[0] = 5.0  # asarray still shares the host storage, as torch
        assert t.tolist() == [5.0, 2.0]


# -- the infinite loader -------------------------------------------------------------------------
from tensorlite.data import (BatchSampler, DataLoader, Generator, RandomSampler,  # noqa: E402
                             SequentialSampler, TensorDataset)


def _peak_bytes(fn):
    import tracemalloc
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("replacement", [True, False])
def test_infinite_random_sampler_draws_lazily(replacement):
    ds = TensorDataset(tl.arange(1000), tl.arange(1000) * 2)
    s = RandomSampler(ds, replacement=replacement, num_samples=10 ** 10,
                      generator=Generator().manual_seed(0))
    th = torch.utils.data.RandomSampler(range(1000), replacement=replacement,
                                        num_samples=10 ** 10)
    assert len(s) == len(th) == 10 ** 10
    first, peak = _peak_bytes(lambda: next(iter(s)))
    assert 0 <= first < 1000 and peak < 4 * 2 ** 20, peak  # MBs, not the 80 GB of every index
    loader = DataLoader(ds, batch_size=64, sampler=s)
    assert len(loader) == -(-10 ** 10 // 64)
    (x, y), peak = _peak_bytes(lambda: next(iter(loader)))
    assert x.shape == (64,) and (np.asarray(y) == 2 * np.asarray(x)).all()
    assert peak < 4 * 2 ** 20, peak
    plain = [(int(i), 2 * int(i)) for i in range(1000)]  # the generic path (no fast path)
    batch = next(iter(DataLoader(plain, batch_size=8, sampler=s)))
    assert [len(b) for b in batch] == [8, 8]


@pytest.mark.parametrize("replacement,num_samples", [(True, 10_000), (False, 2_500), (True, 7),
                                                     (False, 7)])
@pytest.mark.parametrize("batch_size,drop_last", [(100, False), (100, True), (5000, False),
                                                  (3, True)])
def test_chunked_batches_are_the_sampler_order(replacement, num_samples, batch_size, drop_last):
    """Batches cut from the lazily drawn chunks (crossing chunk boundaries) are exactly the
    sampler's own order, cut; the same seed gives the same order."""
    ds = TensorDataset(tl.arange(1000))

    def sampler(seed):
        return RandomSampler(ds, replacement=replacement, num_samples=num_samples,
                             generator=Generator().manual_seed(seed))

    order = list(sampler(5))
    assert len(order) == num_samples and order == list(sampler(5)) != list(sampler(6))
    if not replacement:  # each pass over the dataset is a permutation
        assert len(set(order[:1000])) == min(1000, num_samples)
        assert num_samples < 2000 or sorted(order[1000:2000]) == list(range(1000))
    stop = num_samples - num_samples % batch_size if drop_last else num_samples
    expected = [order[i:i + batch_size] for i in range(0, stop, batch_size)]
    assert list(BatchSampler(sampler(5), batch_size, drop_last)) == expected
    loader = DataLoader(ds, batch_size=batch_size, drop_last=drop_last, sampler=sampler(5))
    assert [b[0].tolist() for b in loader] == expected
    assert len(loader) == len(expected)


def test_global_seed_makes_the_infinite_loader_reproducible():
    ds = TensorDataset(tl.arange(50))

    def first_batches(seed):
        tl.manual_seed(seed)
        it = iter(DataLoader(ds, batch_size=10,
                             sampler=RandomSampler(ds, replacement=True, num_samples=10 ** 12)))
        return [next(it)[0].tolist() for _ in range(3)]

    assert first_batches(1) == first_batches(1) != first_batches(2)


def test_sequential_sampler_chunks_join_to_the_order():
    s = SequentialSampler(range(100_003))
    assert np.concatenate(list(s._chunks())).tolist() == list(s) == list(range(100_003))
    assert list(SequentialSampler(range(0))._chunks()) == []


# -- unseeded runs differ, seeded runs repeat ----------------------------------------------------
def _fresh_process(code):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    out = subprocess.run([sys.executable, "-c", "import tensorlite as tl; " + code],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_unseeded_processes_draw_different_numbers():
    code = ("from tensorlite.data import RandomSampler; "
            "print(tl.rand(4).tolist(), tl.randn(2).tolist(), tl.initial_seed(), "
            "list(RandomSampler(range(1000)))[:5], tl.nn.Linear(3, 2).weight.tolist(), "
            "tl.nn.functional.dropout(tl.ones(64), 0.5).tolist(), tl.randperm(50).tolist(), "
            "sep='\\n')")
    a, b = _fresh_process(code).splitlines(), _fresh_process(code).splitlines()
    assert len(a) == len(b) == 7
    for line_a, line_b in zip(a, b):
        assert line_a != line_b  # every source of randomness differs, not just one


def test_manual_seed_makes_processes_repeat():
    code = ("tl.manual_seed(1234); print(tl.rand(4).tolist(), tl.initial_seed(), "
            "tl.nn.Linear(3, 2).weight.tolist())")
    a, b = _fresh_process(code), _fresh_process(code)
    assert a == b and " 1234 " in a


def test_seed_and_initial_seed_as_torch():
    tl.manual_seed(-1)  # torch wraps negative seeds modulo 2**64
    torch_gen = torch.Generator().manual_seed(-1)
    assert tl.initial_seed() == torch_gen.initial_seed() == 2 ** 64 - 1
    tl.manual_seed(7)
    assert tl.initial_seed() == 7
    x = tl.rand(3).tolist()
    tl.manual_seed(7)
    assert tl.rand(3).tolist() == x
    s = tl.seed()
    assert isinstance(s, int) and 0 <= s < 2 ** 64 and tl.initial_seed() == s
    y = tl.rand(3).tolist()
    tl.manual_seed(s)  # the seed seed() chose replays its stream
    assert tl.rand(3).tolist() == y
    with pytest.raises(TypeError, match="manual_seed: expected an int seed, got NoneType"):
        tl.manual_seed(None)
    with pytest.raises(ValueError, match=r"out of range.*\[-2\*\*63, 2\*\*64\)"):
        tl.manual_seed(2 ** 64)
    assert tl.initial_seed() == s  # a rejected seed changes nothing
    for value in (1.5, "3", True):  # torch.manual_seed takes int(seed)
        tl.manual_seed(value)
        torch.manual_seed(value)
        assert tl.initial_seed() == torch.initial_seed() == int(value)


# -- temporaries left by a killed save -----------------------------------------------------------
def _dead_pid():
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # exited and reaped: its pid names no process
    return child.pid


def test_save_removes_stale_temporaries_of_its_own_target(tmp_path):
    import os
    import subprocess
    import sys
    import time
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _dead_pid()
        target = tmp_path / "ckpt.tl"
        old = time.time() - 3600

        def fake(name, age=old, directory=False):
            path = tmp_path / name
            if directory:
                path.mkdir()
            else:
                path.write_bytes(b"\0" * 1024)  # a half-written checkpoint
            os.utime(path, (age, age))
            return path

        stale = [fake(f".ckpt.tl.{dead}.0123abcd.tmp"), fake(f".ckpt.tl.{dead}.ffffffff.tmp")]
        kept = [
            fake(f".ckpt.tl.{live.pid}.0123abcd.tmp"),      # its writer is alive
            fake(f".ckpt.tl.{os.getpid()}.0123abcd.tmp"),   # this process (another thread)
            fake(f".ckpt.tl.{dead}.00000000.tmp", age=time.time()),  # written just now
            fake(f".other.tl.{dead}.0123abcd.tmp"),         # another target's
            fake(f".ckpt.tl.bak.{dead}.0123abcd.tmp"),      # a target whose name extends ours
            fake(f".ckpt.tl.{dead}.0123abcd.tmp.keep"),     # not the pattern
            fake(f".ckpt.tl.{dead}.nothex00.tmp"),
            fake(f"ckpt.tl.{dead}.0123abcd.tmp"),
            fake(f".ckpt.tl.{dead}.abcdef01.tmp", directory=True),  # not a file
        ]
        tl.save({"w": tl.arange(4)}, target)
        assert not any(p.exists() for p in stale)
        assert all(p.exists() for p in kept)
        assert tl.load(target)["w"].tolist() == [0, 1, 2, 3]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [p.name for p in kept] + ["ckpt.tl"])  # the save left no temporary of its own
    finally:
        live.kill()
        live.wait()


def test_a_save_killed_mid_write_is_cleaned_by_the_next(tmp_path):
    """A real writer killed while writing: its temporary survives it, the next save removes it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    target = tmp_path / "model.tl"
    code = ("import os, sys, time, tensorlite as tl\n"
            "real = os.fsync\n"
            "def hang(fd):\n"
            "    print('writing', flush=True); time.sleep(60)\n"
            "os.fsync = hang\n"
            f"tl.save({{'w': tl.zeros(1000)}}, {str(target)!r})\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        (tmp,) = [p for p in tmp_path.iterdir()]
        assert tmp.name.startswith(f".model.tl.{writer.pid}.") and tmp.name.endswith(".tmp")
        tl.save({"w": tl.ones(2)}, target)  # the writer is alive: its temporary stays
        assert tmp.exists()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    old = time.time() - 3600
    os.utime(tmp, (old, old))  # as a leftover found on a later run
    tl.save({"w": tl.ones(3)}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["model.tl"]
    assert tl.load(target)["w"].tolist() == [1.0, 1.0, 1.0]
