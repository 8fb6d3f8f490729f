"""tensorlite.data: datasets, samplers, DataLoader, collate, random_split (torch as the oracle)."""
import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import tensorlite as tl
import tensorlite.data as tld
from tensorlite.data import dataloader as dl_module
from tensorlite.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, Generator,
                             RandomSampler, SequentialSampler, Subset, TensorDataset,
                             default_collate, random_split)


def A(t):
    """A tensorlite tensor's values on the host."""
    return np.asarray(t)


class Plain(Dataset):
    """A map-style dataset that is not a TensorDataset: rows of the same tensors, one by one,
    so the DataLoader takes the generic (index + collate) path."""

    def __init__(self, *tensors):
        self.tensors = tensors

    def __getitem__(self, i):
        return tuple(t[i] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


def make(n=23, device=None):
    rng = np.random.default_rng(n)
    x = tl.tensor(rng.standard_normal((n, 3, 2)).astype(np.float32), device=device)
    y = tl.tensor(rng.integers(0, 10, n), device=device)
    m = tl.tensor(rng.random(n) > 0.5, device=device)
    return x, y, m


def epoch_indices(loader):
    """The sample order of one epoch, read from a dataset whose values are their own indices."""
    return [int(v) for batch in loader for v in A(batch[0])]


# -- datasets -------------------------------------------------------------------------------------
def test_tensor_dataset_items_and_len():
    x, y, m = make(5)
    ds = TensorDataset(x, y, m)
    assert len(ds) == 5
    xi, yi, mi = ds[3]
    np.testing.assert_array_equal(A(xi), A(x)[3])
    assert int(yi) == int(A(y)[3]) and bool(mi) == bool(A(m)[3])
    assert ds.tensors[0] is x


def test_tensor_dataset_size_mismatch_names_sizes():
    with pytest.raises(ValueError, match=r"size mismatch.*\[4, 5\]"):
        TensorDataset(tl.zeros(4, 2), tl.zeros(5))
    with pytest.raises(TypeError, match="argument 1 is a ndarray"):
        TensorDataset(tl.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(tl.tensor(1.0))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_dataset_is_abstract():
    class Empty(Dataset):
        pass

    with pytest.raises(NotImplementedError, match="Empty must define __getitem__"):
        Empty()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Empty())


def test_subset_and_concat():
    x = tl.arange(10)
    ds = TensorDataset(x)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and int(sub[0][0]) == 7 and int(sub[-1][0]) == 5
    subsub = Subset(sub, [2, 0])
    assert [int(subsub[i][0]) for i in range(2)] == [5, 7]
    cat = ConcatDataset([Subset(ds, [1, 2]), Subset(ds, [9])])
    assert len(cat) == 3 and [int(cat[i][0]) for i in range(3)] == [1, 2, 9]
    assert int(cat[-1][0]) == 9
    with pytest.raises(IndexError):
        cat[3]
    assert len(Subset(ds, [0]) + Subset(ds, [1, 2])) == 3


# -- batching -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 16])
@pytest.mark.parametrize("batch_size", [1, 3, 8, 20])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_and_batch_sizes_match_torch(n, batch_size, drop_last):
    ours = DataLoader(TensorDataset(tl.arange(n)), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(tud.TensorDataset(torch.arange(n)), batch_size=batch_size,
                            drop_last=drop_last)
    sizes = [b[0].shape[0] for b in ours]
    assert len(ours) == len(theirs) == len(sizes)
    assert sizes == [b[0].shape[0] for b in theirs]
    generic = DataLoader(Plain(tl.arange(n)), batch_size=batch_size, drop_last=drop_last)
    assert len(generic) == len(ours) and [b[0].shape[0] for b in generic] == sizes


def test_sequential_batches_hold_the_right_rows():
    x, y, m = make(10)
    for ds in (TensorDataset(x, y, m), Plain(x, y, m)):
        batches = list(DataLoader(ds, batch_size=4))
        assert [b[0].shape for b in batches] == [(4, 3, 2), (4, 3, 2), (2, 3, 2)]
        for k, (bx, by, bm) in enumerate(batches):
            sl = slice(4 * k, 4 * k + 4)
            np.testing.assert_array_equal(A(bx), A(x)[sl])
            np.testing.assert_array_equal(A(by), A(y)[sl])
            np.testing.assert_array_equal(A(bm), A(m)[sl])
            assert (bx.dtype, by.dtype, bm.dtype) == (tl.float32, tl.int64, tl.bool)
        assert isinstance(batches[0], list)  # as torch: a tuple sample collates to a list


def test_drop_last_drops_only_the_short_batch():
    ds = TensorDataset(tl.arange(10))
    assert epoch_indices(DataLoader(ds, batch_size=4, drop_last=True)) == list(range(8))
    assert epoch_indices(DataLoader(ds, batch_size=5, drop_last=True)) == list(range(10))


@pytest.mark.parametrize("make_ds", [TensorDataset, Plain])
def test_shuffle_visits_each_index_once_per_epoch(make_ds):
    tl.manual_seed(3)
    loader = DataLoader(make_ds(tl.arange(50)), batch_size=7, shuffle=True)
    orders = [epoch_indices(loader) for _ in range(3)]
    for order in orders:
        assert sorted(order) == list(range(50))
    assert orders[0] != list(range(50))
    assert orders[0] != orders[1] != orders[2]
    loader = DataLoader(make_ds(tl.arange(50)), batch_size=7, shuffle=True, drop_last=True)
    order = epoch_indices(loader)
    assert len(order) == 49 and len(set(order)) == 49


def test_shuffle_reproducible_from_manual_seed():
    ds = TensorDataset(tl.arange(40))

    def two_epochs(seed):
        tl.manual_seed(seed)
        loader = DataLoader(ds, batch_size=6, shuffle=True)
        return epoch_indices(loader), epoch_indices(loader)

    a, b = two_epochs(11), two_epochs(11)
    assert a == b and a[0] != a[1]
    assert two_epochs(12) != a


def test_shuffle_reproducible_from_generator():
    ds = TensorDataset(tl.arange(40))

    def two_epochs(seed):
        loader = DataLoader(ds, batch_size=6, shuffle=True,
                            generator=Generator().manual_seed(seed))
        return epoch_indices(loader), epoch_indices(loader)

    tl.manual_seed(0)
    a = two_epochs(5)
    tl.manual_seed(99)  # the global seed does not matter once a generator is given
    assert two_epochs(5) == a
    assert two_epochs(6) != a
    assert a[0] != a[1]


def test_generator_state_round_trip():
    g = Generator()
    assert g.manual_seed(-3) is g and g.initial_seed() == (-3) % 2 ** 64
    state = g.get_state()
    first = list(RandomSampler(range(20), generator=g))
    assert list(RandomSampler(range(20), generator=g)) != first
    g.set_state(state)
    assert list(RandomSampler(range(20), generator=g)) == first
    with pytest.raises(TypeError, match="generator must be"):
        DataLoader(TensorDataset(tl.arange(3)), shuffle=True, generator=torch.Generator())
    with pytest.raises(TypeError, match="int seed"):
        Generator().manual_seed(1.5)


def test_random_sampler_replacement_and_num_samples():
    g = Generator().manual_seed(0)
    s = RandomSampler(range(5), num_samples=12, generator=g)
    order = list(s)
    assert len(s) == 12 and len(order) == 12
    assert sorted(order[:10]) == sorted(list(range(5)) * 2)  # two whole permutations first
    s = RandomSampler(range(5), replacement=True, num_samples=200, generator=g)
    draws = list(s)
    assert len(draws) == 200 and set(draws) == set(range(5))
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(5), num_samples=0)
    with pytest.raises(ValueError, match="num_samples"):
        DataLoader(TensorDataset(tl.zeros(0)), shuffle=True)  # as torch
    with pytest.raises(ValueError, match="empty dataset"):
        list(RandomSampler([], num_samples=3))


# -- the TensorDataset fast path -----------------------------------------------------------------
def _assert_same_batches(fast, slow):
    assert len(fast) == len(slow)
    for bf, bs in zip(fast, slow):
        assert type(bf) is type(bs) and len(bf) == len(bs)
        for tf, ts in zip(bf, bs):
            assert (tf.shape, tf.dtype, tf.device) == (ts.shape, ts.dtype, ts.device)
            np.testing.assert_array_equal(A(tf), A(ts))


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_fast_path_gives_the_generic_batches(backend, shuffle, drop_last, monkeypatch):
    x, y, m = make(23, backend.device)
    calls = []
    real = dl_module.getitem
    monkeypatch.setattr(dl_module, "getitem", lambda t, i: calls.append(1) or real(t, i))

    def batches(ds):
        loader = DataLoader(ds, batch_size=5, shuffle=shuffle, drop_last=drop_last,
                            generator=Generator().manual_seed(7))
        return [b for _ in range(2) for b in loader]  # two epochs

    fast = batches(TensorDataset(x, y, m))
    assert len(calls) == 3 * len(fast)  # one indexing call per tensor per batch, no stacking
    calls.clear()
    slow = batches(Plain(x, y, m))
    assert not calls
    _assert_same_batches(fast, slow)
    assert all(t.device == backend.device for b in fast for t in b)


def test_fast_path_through_subsets_and_samplers(monkeypatch):
    x, y, _ = make(30)
    calls = []
    real = dl_module.getitem
    monkeypatch.setattr(dl_module, "getitem", lambda t, i: calls.append(1) or real(t, i))
    g = Generator().manual_seed(1)
    train, _ = random_split(TensorDataset(x, y), [0.8, 0.2], generator=g)
    inner = Subset(train, list(range(len(train) - 1, -1, -2)))
    for ds_fast, ds_slow in [(train, Subset(Plain(x, y), train.indices)),
                             (inner, Subset(Subset(Plain(x, y), train.indices), inner.indices))]:
        for kw in (dict(shuffle=True), dict(sampler=SequentialSampler(ds_fast)),
                   dict(batch_sampler=BatchSampler(RandomSampler(ds_fast), 4, False))):
            calls.clear()
            tl.manual_seed(4)
            fast = list(DataLoader(ds_fast, **({"batch_size": 4} if "batch_sampler" not in kw
                                               else {}), **kw))
            assert calls, "the fast path was not taken"
            tl.manual_seed(4)
            kw = dict(kw)
            if "sampler" in kw:
                kw["sampler"] = SequentialSampler(ds_slow)
            if "batch_sampler" in kw:
                kw["batch_sampler"] = BatchSampler(RandomSampler(ds_slow), 4, False)
            slow = list(DataLoader(ds_slow, **({"batch_size": 4} if "batch_sampler" not in kw
                                               else {}), **kw))
            _assert_same_batches(fast, slow)


def test_custom_collate_or_subclass_disables_the_fast_path():
    ds = TensorDataset(tl.arange(6))
    out = list(DataLoader(ds, batch_size=4, collate_fn=lambda s: [int(v[0]) for v in s]))
    assert out == [[0, 1, 2, 3], [4, 5]]

    class Doubled(TensorDataset):
        def __getitem__(self, i):
            return (self.tensors[0][i] * 2,)

    assert epoch_indices(DataLoader(Doubled(tl.arange(4)), batch_size=3)) == [0, 2, 4, 6]


def test_fast_path_batches_are_copies():
    x = tl.zeros(6, 2)
    (bx,) = next(iter(DataLoader(TensorDataset(x), batch_size=3)))
    bx[0] = tl.ones(2)
    assert float(A(x).sum()) == 0.0


def test_gradients_flow_back_through_both_paths():
    results = []
    for make_ds in (TensorDataset, Plain):
        x = tl.tensor(np.arange(12.0).reshape(6, 2), requires_grad=True)
        loader = DataLoader(make_ds(x), batch_size=4, shuffle=True,
                            generator=Generator().manual_seed(2))
        (bx,) = next(iter(loader))
        w = tl.tensor(np.arange(8.0).reshape(4, 2))
        (bx * w).sum().backward()
        results.append(A(x.grad))
    np.testing.assert_array_equal(results[0], results[1])
    assert (results[0] != 0).sum() == 8 - 1  # 4 rows hit, times weights 0..7 (one weight is 0)


# -- collate -------------------------------------------------------------------------------------
Point = collections.namedtuple("Point", "x y")


def _tree(obj):
    """A comparable form of a collated batch from either library."""
    if isinstance(obj, tl.Tensor):
        return ("T", str(obj.dtype), A(obj).tolist())
    if isinstance(obj, torch.Tensor):
        return ("T", str(obj.dtype).replace("torch.", ""), obj.numpy().tolist())
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, [_tree(v) for v in obj])
    if isinstance(obj, dict):
        return (type(obj).__name__, [(k, _tree(v)) for k, v in obj.items()])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_tree(v) for v in obj])
    return ("leaf", obj)


def _sample(i, lib):
    rng = np.random.default_rng(i)
    t = lib.tensor(rng.standard_normal(3).astype(np.float32))
    return {
        "img": rng.standard_normal((2, 2)).astype(np.float32),
        "pair": (i, 0.5 * i),
        "flags": [bool(i % 2), np.float16(i / 3), np.int32(i)],
        "t": t,
        "name": f"s{i}",
        "od": collections.OrderedDict([("z", np.array(i, dtype=np.int64)), ("a", t * 2)]),
        "pt": Point(lib.tensor([i, i + 1]), float(i)),
    }


def test_default_collate_matches_torch_on_nested_samples():
    ours = default_collate([_sample(i, tl) for i in range(4)])
    theirs = tud.default_collate([_sample(i, torch) for i in range(4)])
    assert _tree(ours) == _tree(theirs)
    assert list(ours) == ["img", "pair", "flags", "t", "name", "od", "pt"]
    assert ours["pair"][1].dtype == tl.float64 and ours["img"].shape == (4, 2, 2)


@pytest.mark.parametrize("samples", [[1, 2, 3], [1.5, -0.0], [True, False], [np.float32(2.5)],
                                     [np.arange(3), np.arange(3, 6)], [(1, "a"), (2, "b")],
                                     [[1.0, 2.0], [3.0, 4.0]]])
def test_default_collate_leaves_match_torch(samples):
    assert _tree(default_collate(samples)) == _tree(tud.default_collate(samples))


def test_generic_loader_collates_dict_samples():
    class Dicts(Dataset):
        def __getitem__(self, i):
            return {"x": np.full(2, i, dtype=np.float64), "y": i}

        def __len__(self):
            return 5

    batches = list(DataLoader(Dicts(), batch_size=2))
    assert [A(b["y"]).tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[0]["x"].dtype == tl.float64 and batches[0]["x"].shape == (2, 2)


def test_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([tl.zeros(2), tl.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="numpy dtype"):
        default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match="mixes a Tensor"):
        default_collate([tl.zeros(2), np.zeros(2)])


def test_batch_size_none_converts_samples():
    class Arrays(Dataset):
        def __getitem__(self, i):
            return np.full(3, i, dtype=np.int32), i

        def __len__(self):
            return 3

    out = list(DataLoader(Arrays(), batch_size=None))
    assert len(out) == 3 and len(DataLoader(Arrays(), batch_size=None)) == 3
    arr, i = out[2]
    assert isinstance(arr, tl.Tensor) and arr.dtype == tl.int32 and A(arr).tolist() == [2, 2, 2]
    assert i == 2


# -- argument checks (torch's rules) -------------------------------------------------------------
def test_loader_argument_errors():
    ds = TensorDataset(tl.arange(4))
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    bs = BatchSampler(SequentialSampler(ds), 2, False)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=bs)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=bs, drop_last=True)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    loader = DataLoader(ds, batch_sampler=bs)
    assert len(loader) == 2 and epoch_indices(loader) == [0, 1, 2, 3]


def test_user_sampler_yielding_any_order():
    class Backwards(tld.Sampler):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

        def __len__(self):
            return self.n

    ds = TensorDataset(tl.arange(5))
    loader = DataLoader(ds, batch_size=2, sampler=Backwards(5))
    assert len(loader) == 3 and epoch_indices(loader) == [4, 3, 2, 1, 0]
    assert [len(b) for b in BatchSampler(Backwards(5), 2, True)] == [2, 2]


# -- random_split --------------------------------------------------------------------------------
@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]),
                                       (7, [0.1, 0.9]), (5, [1.0]), (3, [0.2, 0.2, 0.2, 0.4]),
                                       (100, [0.7, 0.2, 0.1])])
def test_random_split_sizes_match_torch_and_partition(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-length splits warn, as in torch
        ours = random_split(TensorDataset(tl.arange(n)), lengths,
                            generator=Generator().manual_seed(0))
        theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    seen = [int(v) for s in ours for batch in DataLoader(s, batch_size=n) for v in A(batch[0])]
    assert sorted(seen) == list(range(n))  # disjoint and covering


def test_random_split_reproducible():
    ds = TensorDataset(tl.arange(50))
    a = [s.indices for s in random_split(ds, [20, 30], generator=Generator().manual_seed(3))]
    b = [s.indices for s in random_split(ds, [20, 30], generator=Generator().manual_seed(3))]
    c = [s.indices for s in random_split(ds, [20, 30], generator=Generator().manual_seed(4))]
    assert a == b and a != c
    tl.manual_seed(8)
    d = [s.indices for s in random_split(ds, [20, 30])]
    tl.manual_seed(8)
    assert [s.indices for s in random_split(ds, [20, 30])] == d


def test_random_split_errors_and_warning():
    ds = TensorDataset(tl.arange(10))
    with pytest.raises(ValueError, match=r"sum of input lengths \[3, 3\] = 6 does not equal .*10"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="must sum to 1"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [12, -2])
    with pytest.raises(ValueError, match="not between 0 and 1"):
        random_split(ds, [1.5, -0.5])
    with pytest.warns(UserWarning) as record:
        parts = random_split(TensorDataset(tl.arange(2)), [0.9, 0.05, 0.05])
    assert [len(p) for p in parts] == [2, 0, 0]
    assert ["index 1 is 0" in str(r.message) for r in record] == [True, False]
    assert "index 2 is 0" in str(record[1].message)
