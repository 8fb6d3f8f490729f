"""tensorlite.Size: Tensor.shape / Tensor.size() as torch.Size (a tuple subclass)."""
import pickle

import pytest
import torch

import tensorlite as tl


def test_shape_is_a_size_that_prints_like_torch():
    x, tx = tl.zeros(6, 1, 5, 5), torch.zeros(6, 1, 5, 5)
    for ours, theirs in ((x.shape, tx.shape), (x.size(), tx.size()), (tl.zeros(()).shape, tx[0, 0, 0, 0].shape)):
        assert isinstance(ours, tl.Size) and isinstance(ours, tuple)
        assert repr(ours) == repr(theirs).replace("torch", "tensorlite")
        assert str(ours) == str(theirs).replace("torch", "tensorlite")
    assert repr(x.shape) == "tensorlite.Size([6, 1, 5, 5])"
    assert f"{x.shape}" == "tensorlite.Size([6, 1, 5, 5])"


def test_size_behaves_as_the_tuple_and_as_torch_size():
    s, ts = tl.zeros(6, 1, 5, 5).shape, torch.Size([6, 1, 5, 5])
    assert s == (6, 1, 5, 5) and s == ts and hash(s) == hash((6, 1, 5, 5))
    assert s != [6, 1, 5, 5]
    a, b, c, d = s
    assert (a, b, c, d) == (6, 1, 5, 5) and type(s[0]) is int and s[-1] == 5
    assert type(s[1:]) is tl.Size and s[1:] == (1, 5, 5)
    assert type(s + (2,)) is tl.Size and type((2,) + s) is tl.Size and type(s * 2) is tl.Size
    assert s.numel() == ts.numel() == 150 and tl.Size([]).numel() == 1
    assert pickle.loads(pickle.dumps(s)) == s and type(pickle.loads(pickle.dumps(s))) is tl.Size
    assert tl.zeros(s[:2]).shape == (6, 1)
    assert tl.Size([2, 3]) == torch.Size([2, 3]) and tl.Size() == ()


def test_size_rejects_what_torch_size_rejects():
    with pytest.raises(TypeError) as ours:
        tl.Size([1.5])
    with pytest.raises(TypeError) as theirs:
        torch.Size([1.5])
    assert str(ours.value) == str(theirs.value).replace("torch", "tensorlite")
