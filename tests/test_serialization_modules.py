"""Whole models in checkpoints (``tensorlite.save(model, f)``, as PyTorch programs write them):
loaded back as the same classes with the same weights; a class outside tensorlite loads only
when allowlisted (``safe_globals``): a checkpoint never makes tensorlite import code."""
import io

import numpy as np
import pytest

import tensorlite as tl
from tensorlite import nn
from tensorlite.serialization import CheckpointError


class Net(nn.Module):  # a user's class: module-level, so it has an importable name
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4)
        self.body = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.head = nn.Linear(4, 7, bias=False)
        self.head.weight = self.embed.weight  # tied, as language models do
        self.act = nn.functional.gelu
        self.register_buffer("steps", tl.zeros(()))

    def forward(self, x):
        return self.head(self.act(self.body(self.embed(x))))


def _round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    tl.save(obj, buf)
    buf.seek(0)
    return tl.load(buf, **load_kwargs)


def test_tensorlite_modules_round_trip():
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.LayerNorm(5), nn.Dropout(0.1)).eval()
    back = _round_trip(model)
    assert type(back) is nn.Sequential and [type(m) for m in back] == [type(m) for m in model]
    assert not back.training and isinstance(back[0].weight, nn.Parameter)
    x = tl.randn(2, 3)
    np.testing.assert_array_equal(back(x).detach().numpy(), model(x).detach().numpy())
    back(x).sum().backward()  # the loaded parameters train
    assert back[0].weight.grad is not None


def test_a_user_class_needs_allowing():
    model = Net()
    buf = io.BytesIO()
    tl.save(model, buf)
    buf.seek(0)
    for weights_only in (True, False):
        buf.seek(0)
        with pytest.raises(CheckpointError, match="safe_globals"):
            tl.load(buf, weights_only=weights_only)
    for load in (lambda: _with_allowed(model), lambda: _allowed_globally(model)):
        back = load()
        assert type(back) is Net and back.head.weight is back.embed.weight  # still tied
        assert back.act is nn.functional.gelu and "steps" in back.state_dict()
        x = tl.tensor([[1, 2, 3]])
        np.testing.assert_array_equal(back(x).detach().numpy(), model(x).detach().numpy())
    assert tl.serialization.get_safe_globals() == []  # the block's allowance ended with it


def _allowed_globally(model):
    tl.serialization.add_safe_globals([Net])
    try:
        return _round_trip(model)
    finally:
        tl.serialization.clear_safe_globals()


def _with_allowed(model):
    with tl.serialization.safe_globals([Net]):
        return _round_trip(model)


def test_sets_round_trip():
    assert _round_trip({"s": {1, 2.5, "a"}, "f": frozenset([3])}) == \
        {"s": {1, 2.5, "a"}, "f": frozenset([3])}


def test_shared_submodules_stay_shared():
    shared = nn.Linear(2, 2)
    model = nn.ModuleList([shared, shared])
    back = _round_trip(model)
    assert back[0] is back[1]


def test_what_a_checkpoint_cannot_hold_is_refused_at_save():
    model = nn.Sequential(nn.Linear(2, 2))
    model.fn = lambda x: x  # no importable name
    with pytest.raises(TypeError, match="no importable name"):
        tl.save(model, io.BytesIO())
