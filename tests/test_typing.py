"""tensorlite ships type hints (tensorlite/py.typed): mypy, configured in pyproject.toml
([tool.mypy]), must find no error in the package or in backends/, and a user's training
program must type-check with the types a PyTorch user expects (``assert_type``).

Run by hand from the repository root as ``mypy`` (the configuration names what to check).  The
incremental cache (.mypy_cache) makes a rerun take about a second; a cold run takes several.
"""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                                reason="mypy is not installed (it comes with the dev extra: "
                                       "pip install -e '.[dev]')")

# Never run, only type-checked: the public API as a training script uses it.
USER_PROGRAM = '''
from collections.abc import Iterator
from typing import Any

from typing_extensions import assert_type

import tensorlite as tl
from tensorlite import nn
from tensorlite.optim.lr_scheduler import StepLR
from tensorlite.utils.data import DataLoader, TensorDataset, random_split


@tl.no_grad()
def predict(model: nn.Module, x: tl.Tensor) -> tl.Tensor:
    out: tl.Tensor = model(x)
    return out


@tl.inference_mode
def predict2(model: nn.Module, x: tl.Tensor) -> tl.Tensor:
    return predict(model, x)


assert_type(predict(nn.Identity(), tl.zeros(2)), tl.Tensor)
assert_type(predict2(nn.Identity(), tl.zeros(2)), tl.Tensor)
with tl.no_grad() as ng, tl.enable_grad(), tl.set_grad_enabled(False), tl.inference_mode(False):
    assert_type(ng, tl.no_grad)

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3))
assert_type(model[0], nn.Module)
assert_type(model[1:], nn.Sequential)
assert_type(model.train(), nn.Sequential)
assert_type(model.eval().to("cpu").double(), nn.Sequential)
assert_type(model.parameters(), Iterator[nn.Parameter])
assert_type(model.named_parameters(), Iterator[tuple[str, nn.Parameter]])
assert_type(model.state_dict(), dict[str, Any])
result = model.load_state_dict(model.state_dict(), strict=True)
assert_type(result.missing_keys, list[str])
handle = model.register_forward_hook(lambda module, args, output: None)
handle.remove()
layers = nn.ModuleList([nn.Linear(2, 2)])
assert_type(layers[0], nn.Module)
linear = nn.Linear(4, 3, bias=False)
assert_type(linear.weight, nn.Parameter)
nn.init.kaiming_uniform_(linear.weight, a=0.1)
norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
assert_type(norm, tl.Tensor)

opt = tl.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
sched = StepLR(opt, step_size=10)
opt.zero_grad(set_to_none=True)
opt.step()
sched.step()
assert_type(sched.get_last_lr(), list[float])
state = opt.state_dict()
opt.load_state_dict(state)
tl.optim.SGD([{"params": model.parameters(), "lr": 0.1}], lr=0.01, momentum=0.9)

ds = TensorDataset(tl.zeros(10, 4), tl.zeros(10))
assert_type(ds[0], tuple[tl.Tensor, ...])
train, val = random_split(ds, [0.8, 0.2], generator=tl.data.Generator().manual_seed(0))
assert_type(train[0], Any)
loader = DataLoader(train, batch_size=4, shuffle=True)
assert_type(len(loader), int)
for batch in loader:
    pass

path = "model.tlc"
tl.save(model.state_dict(), path)
weights = tl.load(path, map_location="cpu")
assert_type(tl.autograd.gradcheck(lambda t: t, (tl.zeros(2, dtype=tl.float64),)), bool)
'''


def _mypy(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", os.path.join(ROOT, "pyproject.toml"),
         *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    return proc, proc.stdout + proc.stderr


def test_mypy_finds_no_errors():
    proc, report = _mypy()
    assert proc.returncode == 0, f"mypy reported errors (exit status {proc.returncode}):\n{report}"
    assert "Success: no issues found" in report, report


def test_user_program_type_checks(tmp_path):
    program = tmp_path / "user_program.py"
    program.write_text(USER_PROGRAM)
    _, report = _mypy(str(program))
    # errors inside tensorlite are test_mypy_finds_no_errors' business; here, the program's own
    mine = [line for line in report.splitlines() if line.startswith(str(program))]
    assert not mine, "\n".join(mine)
    assert "error: Cannot find implementation or library stub" not in report, report
