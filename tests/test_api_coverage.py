"""tools/api_coverage.py's check as a test: every name of issue 12's lists exists where PyTorch
has it (a function, a Tensor method, in torch.linalg); any gap fails, naming it."""
import importlib.util
import io
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _tool():
    path = ROOT / "tools" / "api_coverage.py"
    spec = importlib.util.spec_from_file_location("api_coverage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_coverage_reports_no_gaps():
    out = io.StringIO()
    gaps = _tool().report(out=out)
    assert gaps == 0, out.getvalue()
    assert out.getvalue().rstrip().endswith(", 0 absent, 0 behaving differently")


def test_api_coverage_sees_a_gap(monkeypatch):
    """The check can fail: a name tensorlite lacks is reported as absent."""
    tool = _tool()
    monkeypatch.setitem(tool.FAMILIES, "dtypes and misc", "bfloat16 no_such_name_in_tensorlite")
    out = io.StringIO()
    assert tool.report(out=out) == 1
    assert "no_such_name_in_tensorlite" in out.getvalue() and "absent" in out.getvalue()


def test_api_coverage_sees_a_dtype_that_promotes_unlike_torch(monkeypatch):
    """The dtype check can fail too: a promotion table gone wrong is a difference."""
    import tensorlite as tl
    tool = _tool()
    real = tl.promote_types
    monkeypatch.setattr(tl, "promote_types", lambda a, b: tl.float64 if tl.uint8 in (a, b)
                        else real(a, b))
    out = io.StringIO()
    assert tool.report(out=out) >= 1
    assert "uint8" in out.getvalue() and "behaves differently" in out.getvalue()
