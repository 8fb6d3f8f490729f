"""tensorlite.utils.data, part 2: DataLoader worker processes, IterableDataset, ChainDataset,
StackDataset, WeightedRandomSampler and default_collate over nested containers, against
torch.utils.data.  Worker tests use small datasets and two workers (fork start: ~0.1 s each)."""
import collections
import random

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import tensorlite as tl
from tensorlite.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader,
                                   Dataset, IterableDataset, RandomSampler, StackDataset,
                                   TensorDataset, WeightedRandomSampler, default_collate,
                                   get_worker_info)


def host(obj):
    """A batch with every tensor (tensorlite or torch) as a NumPy array, containers kept."""
    if isinstance(obj, (tl.Tensor, torch.Tensor)):
        return np.asarray(obj)
    if isinstance(obj, dict):
        return {k: host(v) for k, v in obj.items()}
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__,) + tuple(host(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [host(v) for v in obj]
    return obj


def same(a, b):
    a, b = host(a), host(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), (a, b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), (a, b)
        for u, v in zip(a, b):
            same(u, v)
    else:
        assert a == b and type(a) is type(b), (a, b)


class Samples(Dataset):
    """A deterministic map-style dataset of nested samples (not a TensorDataset)."""

    def __init__(self, n=23, lib=np):
        self.n = n

    def __getitem__(self, i):
        return {"x": np.arange(3, dtype=np.float32) + i, "y": i % 3,
                "pair": (float(i) / 2, f"s{i}")}

    def __len__(self):
        return self.n


# -- workers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(batch_size=4), dict(batch_size=5, drop_last=True),
                                    dict(batch_size=None)])
def test_workers_yield_the_batches_of_the_main_process(kwargs):
    ds = Samples()
    plain = list(DataLoader(ds, **kwargs))
    with_workers = list(DataLoader(ds, num_workers=2, **kwargs))
    assert len(plain) == len(with_workers) == len(DataLoader(ds, **kwargs))
    for a, b in zip(plain, with_workers):
        same(a, b)
    # and torch's loader gives the same batches
    for a, b in zip(plain, tud.DataLoader(ds, **kwargs)):
        same(a, b)


def test_workers_shuffle_and_tensor_dataset_as_without_workers(backend):
    x = tl.tensor(np.random.default_rng(0).standard_normal((37, 2)).astype(np.float32))
    y = tl.arange(37)
    ds = TensorDataset(x, y)
    runs = []
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=8, shuffle=True, num_workers=workers,
                            generator=tl.Generator().manual_seed(5))
        runs.append([host(b) for epoch in range(2) for b in loader])
    assert len(runs[0]) == 10
    for a, b in zip(*runs):
        same(a, b)
    tl.manual_seed(3)
    a = [host(b) for b in DataLoader(ds, batch_size=8, shuffle=True)]
    tl.manual_seed(3)
    b = [host(b) for b in DataLoader(ds, batch_size=8, shuffle=True, num_workers=2)]
    for u, v in zip(a, b):
        same(u, v)
    assert isinstance(b[0], list) and b[0][0].dtype == np.float32


class Failing(Samples):
    def __getitem__(self, i):
        if i == 6:
            raise KeyError(f"no sample {i} here")
        if i == 9:
            raise ValueError("sample 9 is corrupt")
        return super().__getitem__(i)


def test_worker_exception_reaches_the_caller_with_its_traceback():
    loader = DataLoader(Failing(), batch_size=4, num_workers=2)
    it = iter(loader)
    same(next(it), default_collate([Samples()[i] for i in range(4)]))
    with pytest.raises(KeyError) as e:
        next(it)
    msg = str(e.value)
    assert "Caught KeyError in DataLoader worker process 1." in msg
    assert "Original Traceback (most recent call last):" in msg
    assert "in __getitem__" in msg and "raise KeyError" in msg and "no sample 6 here" in msg
    with pytest.raises(ValueError, match=r"(?s)worker process 0\..*sample 9 is corrupt"):
        list(DataLoader(Failing(), batch_size=2, sampler=[8, 9, 10], num_workers=2))


def _bad_init(worker_id):
    raise OSError(f"worker {worker_id} cannot open its shard")


def test_unpicklable_batches_and_init_errors_reach_the_caller():
    loader = DataLoader(Offset(), batch_size=None, num_workers=2,
                        collate_fn=lambda i: (lambda: i))  # a batch no pickle can send
    with pytest.raises(Exception, match=r"(?s)worker process 0 \(pickling its batch\).*lambda"):
        next(iter(loader))
    with pytest.raises(OSError, match=r"(?s)worker process 0.*worker 0 cannot open its shard"):
        list(DataLoader(Offset(), num_workers=2, worker_init_fn=_bad_init))


class Augmenting(Dataset):
    """Each sample carries draws of every random source a worker seeds."""

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, info.seed, random.random(), float(np.random.rand()),
                float(tl.rand(())))

    def __len__(self):
        return 8


def test_workers_are_seeded_as_torch_seeds_them():
    assert get_worker_info() is None
    got = list(DataLoader(Augmenting(), batch_size=None, num_workers=2,
                          generator=tl.Generator().manual_seed(1)))
    ids = [g[0] for g in got]
    assert ids == [0, 1] * 4  # round-robin, in order
    seeds = {g[0]: g[1] for g in got}
    assert seeds[1] == seeds[0] + 1  # base_seed + worker_id
    w0, w1 = [g for g in got if g[0] == 0], [g for g in got if g[0] == 1]
    for k in (2, 3, 4):  # python random, numpy's global state, tensorlite's stream
        assert w0[0][k] != w1[0][k]
        assert len({g[k] for g in got}) == 8
    again = list(DataLoader(Augmenting(), batch_size=None, num_workers=2,
                            generator=tl.Generator().manual_seed(1)))
    assert [tuple(g) for g in got] == [tuple(g) for g in again]
    # numpy's worker seed is torch's _generate_state
    from torch.utils.data._utils.worker import _generate_state as torch_state

    from tensorlite.utils.data.worker import _generate_state
    for base in (0, 1, 2**40 + 7, 2**63 - 1):
        for wid in (0, 3):
            assert _generate_state(base, wid) == torch_state(base, wid)


def _init(worker_id):
    info = get_worker_info()
    info.dataset.offset = 100 * (worker_id + 1)
    assert repr(info).startswith(f"WorkerInfo(id={worker_id}, num_workers=2, seed=")
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        info.id = 5


class Offset(Dataset):
    offset = 0

    def __getitem__(self, i):
        return i + self.offset

    def __len__(self):
        return 4


def test_worker_init_fn_prefetch_persistent_and_timeout():
    loader = DataLoader(Offset(), batch_size=None, num_workers=2, worker_init_fn=_init,
                        prefetch_factor=1, persistent_workers=True, pin_memory=True)
    epochs = [[int(v) for v in loader] for _ in range(2)]
    assert epochs == [[100, 201, 102, 203]] * 2
    assert loader._iterator is not None and all(w.is_alive() for w in loader._iterator._workers)
    loader._iterator._shutdown_workers()

    class Slow(Offset):
        def __getitem__(self, i):
            import time
            time.sleep(1)
            return i

    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.2 seconds"):
        next(iter(DataLoader(Slow(), num_workers=1, timeout=0.2)))


class Dies(Offset):
    def __getitem__(self, i):
        import os
        os._exit(3)


def test_a_worker_that_dies_is_reported():
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+(, \d+)?\) exited "
                                           "unexpectedly"):
        list(DataLoader(Dies(), num_workers=2))


def test_loader_argument_errors_as_torch():
    ds = Samples()
    cases = [dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
             dict(persistent_workers=True), dict(num_workers=1, prefetch_factor=-1)]
    for kw in cases:
        with pytest.raises(ValueError):
            tud.DataLoader(ds, **kw)
        with pytest.raises(ValueError):
            DataLoader(ds, **kw)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    for kw, err in [(dict(multiprocessing_context="fork"), ValueError),
                    (dict(num_workers=1, multiprocessing_context="nope"), ValueError),
                    (dict(num_workers=1, multiprocessing_context=3), TypeError)]:
        with pytest.raises(err):
            tud.DataLoader(ds, **kw)
        with pytest.raises(err, match="multiprocessing_context"):
            DataLoader(ds, **kw)


# -- IterableDataset ---------------------------------------------------------------------------
def make_stream(base):
    class Stream(base):
        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            info = (get_worker_info if base is IterableDataset else tud.get_worker_info)()
            if info is None:
                return iter(range(self.start, self.end))
            per = -(-(self.end - self.start) // info.num_workers)
            lo = self.start + info.id * per
            return iter(range(lo, min(lo + per, self.end)))

        def __len__(self):
            return self.end - self.start

    return Stream


@pytest.mark.parametrize("kwargs", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                    dict(batch_size=None)])
@pytest.mark.parametrize("workers", [0, 2])
def test_iterable_dataset_sharded_by_worker_info_as_torch(kwargs, workers):
    ours = [host(b) for b in DataLoader(make_stream(IterableDataset)(3, 14),
                                        num_workers=workers, **kwargs)]
    theirs = [host(b) for b in tud.DataLoader(make_stream(tud.IterableDataset)(3, 14),
                                              num_workers=workers, **kwargs)]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        same(a, b)


def test_iterable_dataset_rules_and_unsharded_duplicates():
    stream = make_stream(IterableDataset)(0, 5)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(stream, shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(stream, sampler=[0, 1])
    with pytest.raises(ValueError, match="expected unspecified batch_sampler option"):
        DataLoader(stream, batch_sampler=[[0, 1]])
    assert len(DataLoader(stream, batch_size=2)) == 3

    class Plain(IterableDataset):  # no sharding: every worker yields the whole stream
        def __iter__(self):
            return iter(range(3))

    got = sorted(int(v) for v in DataLoader(Plain(), batch_size=None, num_workers=2))
    assert got == [0, 0, 1, 1, 2, 2]
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        ConcatDataset([Plain()])


def test_chain_and_stack_datasets_as_torch():
    S, T = make_stream(IterableDataset), make_stream(tud.IterableDataset)
    chain, tchain = ChainDataset([S(0, 3), S(10, 12)]), tud.ChainDataset([T(0, 3), T(10, 12)])
    assert list(chain) == list(tchain) == [0, 1, 2, 10, 11] and len(chain) == len(tchain) == 5
    assert list(S(0, 2) + S(5, 6)) == [0, 1, 5]
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(ChainDataset([Samples()]))
    x = TensorDataset(tl.arange(4.0))
    names = ["a", "b", "c", "d"]
    st = StackDataset(x, names)
    tst = tud.StackDataset(tud.TensorDataset(torch.arange(4.0)), names)
    assert len(st) == 4 and float(st[2][0][0]) == 2.0 and st[2][1] == "c"
    same(st.__getitems__([1, 3]), tst.__getitems__([1, 3]))
    sd = StackDataset(x=x, name=names)
    same(sd[1], tud.StackDataset(x=tud.TensorDataset(torch.arange(4.0)), name=names)[1])
    same(list(DataLoader(sd, batch_size=3)),
         list(tud.DataLoader(tud.StackDataset(x=tud.TensorDataset(torch.arange(4.0)),
                                              name=names), batch_size=3)))
    for args, kwargs in [((x,), {"b": x}), ((x, names[:3]), {}), ((), {})]:
        with pytest.raises(ValueError):
            tud.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError):
            StackDataset(*args, **kwargs)


# -- samplers ----------------------------------------------------------------------------------
def test_weighted_random_sampler():
    w = [0.0, 1.0, 3.0, 0.0, 6.0]
    s = WeightedRandomSampler(w, 20000, generator=tl.Generator().manual_seed(0))
    got = np.array(list(s))
    assert len(s) == 20000 and got.dtype == np.int64 and set(got.tolist()) == {1, 2, 4}
    np.testing.assert_allclose(np.bincount(got, minlength=5) / 20000, np.array(w) / 10,
                               atol=0.015)
    no_rep = list(WeightedRandomSampler(tl.tensor(w), 3, replacement=False))
    assert sorted(no_rep) == [1, 2, 4]
    all_five = list(WeightedRandomSampler(w, 5, replacement=False))
    assert sorted(all_five[:3]) == [1, 2, 4] and sorted(all_five) == [0, 1, 2, 3, 4]
    assert s.weights.dtype == tl.float64
    for bad in [dict(num_samples=0), dict(num_samples=2.0), dict(replacement=1)]:
        kw = {"weights": w, "num_samples": 2, **bad}
        with pytest.raises(ValueError):
            tud.WeightedRandomSampler(**kw)
        with pytest.raises(ValueError):
            WeightedRandomSampler(**kw)
    with pytest.raises(ValueError, match="1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 2)
    for weights, n, rep in [([1.0, -1.0], 2, True), ([0.0, 0.0], 1, True), (w, 6, False)]:
        with pytest.raises(RuntimeError):
            list(tud.WeightedRandomSampler(weights, n, replacement=rep))
        with pytest.raises(RuntimeError):
            list(WeightedRandomSampler(weights, n, replacement=rep))
    # batches cut straight from the lazily drawn chunks, as from the list
    g = tl.Generator().manual_seed(4)
    a = [b for b in BatchSampler(WeightedRandomSampler(w, 10, generator=g), 4, False)]
    g.manual_seed(4)
    flat = list(WeightedRandomSampler(w, 10, generator=g))
    assert [i for b in a for i in b] == flat and [len(b) for b in a] == [4, 4, 2]


def test_random_sampler_takes_tensorlite_generators_and_draws_lazily():
    ds = list(range(10))
    a = list(RandomSampler(ds, generator=tl.Generator().manual_seed(2)))
    b = list(RandomSampler(ds, generator=tl.Generator().manual_seed(2)))
    assert a == b and sorted(a) == ds
    big = RandomSampler(ds, replacement=True, num_samples=10**12)
    it = iter(big)
    assert all(0 <= next(it) < 10 for _ in range(5)) and len(big) == 10**12
    tl.manual_seed(0)
    c = list(RandomSampler(ds, generator=tl.default_generator))
    tl.manual_seed(0)
    assert c == list(RandomSampler(ds))
    with pytest.raises(TypeError, match="generator must be"):
        RandomSampler(ds, generator=3)


# -- default_collate ---------------------------------------------------------------------------
Point = collections.namedtuple("Point", ["x", "y"])


@pytest.mark.parametrize("batch", [
    [{"a": np.ones((2,), np.float32), "b": {"c": 1, "d": [2.5, "t"]}},
     {"a": np.zeros((2,), np.float32), "b": {"c": 3, "d": [0.5, "u"]}}],
    [(np.int32(1), True, "s"), (np.int32(2), False, "t")],
    [Point(np.float64(1.0), [1, 2]), Point(np.float64(2.0), [3, 4])],
    [[np.arange(3), (1.0, 2)], [np.arange(3) + 1, (3.0, 4)]],
    [collections.OrderedDict(b=1, a=2.0), collections.OrderedDict(b=3, a=4.0)],
    [np.array([1, 2], np.int32), np.array([3, 4], np.int32)],
])
def test_default_collate_as_torch(batch):
    ours, theirs = default_collate(batch), tud.default_collate(batch)
    if not isinstance(theirs, torch.Tensor):
        assert type(ours) is type(theirs)
    same(ours, theirs)


def test_default_collate_errors_as_torch():
    for batch in [[np.array(["a"]), np.array(["b"])], [object(), object()]]:
        with pytest.raises(TypeError):
            tud.default_collate(batch)
        with pytest.raises(TypeError):
            default_collate(batch)
    with pytest.raises(RuntimeError):
        tud.default_collate([[1, 2], [3]])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
