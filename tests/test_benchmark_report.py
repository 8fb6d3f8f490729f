"""The benchmark report (benchmarks/report.py): rows, ratios, skipped implementations, README.

The table builder is checked on a synthetic pytest-benchmark JSON whose ratios are known; the
whole command is run once in quick mode on tiny sizes, with an extra backend registered through
the ``tensorlite.backends`` entry point that cannot import, so a skipped backend is always there.
That run selects the reference backend and both reference rows (``--impl``): the accelerated
backends' first-use compilation (Numba: 10-20 s on a cold cache) does not fit this test's time;
they are measured by the benchmark command itself and tested by their own suites.
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tensorlite as tl

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("benchmark_report",
                                               ROOT / "benchmarks" / "report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)

NUMBA_REASON = "backend 'numba' cannot run here: No module named 'numba'"


def _bench(test, impl, median, file="ops", device=None, **params):
    ids = "-".join([impl, *map(str, params.values())])
    return {"name": f"test_{test}[{ids}]",
            "fullname": f"benchmarks/test_{file}.py::test_{test}[{ids}]",
            "params": {"impl": impl, **params},
            "stats": {"median": median, "rounds": 7},
            "extra_info": {"first_call_s": 10 * median, "device": device}}


def _skip(test, impl, reason, file="ops", status="skipped", **params):
    ids = "-".join([impl, *map(str, params.values())])
    return {"fullname": f"benchmarks/test_{file}.py::test_{test}[{ids}]", "name": f"test_{test}",
            "params": {"impl": impl, **params}, "when": "setup", "reason": reason}


def synthetic():
    impls = {"tensorlite-numpy": "cpu", "tensorlite-numba": "cpu", "tensorlite-cupy": "cuda",
             "torch": "cpu", "torch-cuda": "cuda", "numpy-hand": "cpu", "cupy-hand": "cuda"}
    return {
        "datetime": "2026-01-02T03:04:05.000000+00:00",
        "machine_info": {"cpu": {"brand_raw": "Test CPU"}},
        "benchmarks": [
            _bench("matmul", "tensorlite-numpy", 3e-3, n=64),
            _bench("matmul", "torch", 1e-3, n=64),
            _bench("matmul", "numpy-hand", 4e-3, n=64),
            _bench("matmul", "tensorlite-numpy", 8e-3, n=128),
            _bench("matmul", "torch", 2e-3, n=128),
            _bench("matmul", "numpy-hand", 2e-3, n=128),
            # GPU rows: their ratios are against the GPU references, never the CPU ones
            _bench("matmul", "tensorlite-cupy", 1e-4, device="cuda", n=128),
            _bench("matmul", "torch-cuda", 2e-4, device="cuda", n=128),
            _bench("matmul", "cupy-hand", 5e-5, device="cuda", n=128),
            _bench("mlp_step", "tensorlite-numpy", 6e-3, file="training", batch=256),
            _bench("mlp_step", "numpy-hand", 4e-3, file="training", batch=256),
        ],
        "tensorlite": {
            "mode": "quick",
            "env": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": None,
                    "OMP_NUM_THREADS": None},
            "cpu_count": 2, "numpy": "2.0", "blas": "openblas", "torch": "2.13.0",
            "torch_threads": 2, "torch_interop_threads": 2,
            "implementations": {name: {"device": dev, "reason": None}
                                for name, dev in impls.items()}
            | {"tensorlite-numba": {"device": "cpu", "reason": NUMBA_REASON}},
            "references": report.DEFAULT_REFERENCES,
            "skipped": [_skip("matmul", "tensorlite-numba", NUMBA_REASON, n=64),
                        _skip("matmul", "tensorlite-numba", NUMBA_REASON, n=128),
                        _skip("mlp_step", "torch", "no torch reference here", file="training",
                              batch=256),
                        # a case that ran nowhere here: one row for the case
                        _skip("relu_gpu", "tensorlite-numpy", "tensorlite-numpy is on the cpu",
                              file="cupy_targets"),
                        _skip("relu_gpu", "tensorlite-numba", NUMBA_REASON, file="cupy_targets"),
                        _skip("relu_gpu", "torch", "torch is on the cpu", file="cupy_targets"),
                        _skip("sum_gpu", "tensorlite-numpy", "no GPU", file="cupy_targets"),
                        _skip("sum_gpu", "torch", "no CUDA", file="cupy_targets")],
            "failed": [_skip("mlp_step", "tensorlite-cupy", "AssertionError: differs",
                             file="training", batch=256)],
        },
    }


def _by_key(rows):
    return {(r["file"], r["case"], r["impl"]): r for r in rows}


def test_ratios_are_taken_against_the_reference_on_the_same_device():
    rows, unavailable, failed = report.build_report(synthetic())
    got = _by_key(rows)
    expected = {  # (case, impl): (median, vs torch, vs hand)
        ("matmul n=64", "tensorlite-numpy"): (3e-3, 3.0, 0.75),
        ("matmul n=64", "torch"): (1e-3, 1.0, 0.25),
        ("matmul n=64", "numpy-hand"): (4e-3, 4.0, 1.0),
        ("matmul n=128", "tensorlite-numpy"): (8e-3, 4.0, 4.0),
        ("matmul n=128", "tensorlite-cupy"): (1e-4, 0.5, 2.0),
        ("matmul n=128", "torch-cuda"): (2e-4, 1.0, 4.0),
        ("matmul n=128", "cupy-hand"): (5e-5, 0.25, 1.0),
    }
    for (case, impl), (median, vs_torch, vs_hand) in expected.items():
        row = got[("ops", case, impl)]
        assert row["median"] == median
        assert row["ratio_torch"] == pytest.approx(vs_torch)
        assert row["ratio_hand"] == pytest.approx(vs_hand)
    assert got[("ops", "matmul n=128", "tensorlite-cupy")]["ref_torch"] == "torch-cuda"
    assert got[("ops", "matmul n=128", "tensorlite-numpy")]["ref_hand"] == "numpy-hand"
    mlp = got[("training", "mlp_step batch=256", "tensorlite-numpy")]
    assert mlp["ratio_torch"] is None and mlp["ratio_hand"] == pytest.approx(1.5)
    table = report.format_table(rows)
    assert "| ops: matmul n=64 | tensorlite-numpy | 3 ms | 3.00x | 0.75x | 30 ms |" in table
    assert "| ops: matmul n=128 | tensorlite-cupy | 100 us | 0.50x | 2.00x | 1 ms |" in table
    assert "| training: mlp_step batch=256 | tensorlite-numpy | 6 ms | - | 1.50x | 60 ms |" in table


def test_every_case_and_implementation_has_a_row_and_skips_say_why():
    rows, unavailable, failed = report.build_report(synthetic())
    keys = [(r["file"], r["case"], r["impl"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert set(keys) == {
        ("ops", "matmul n=64", i) for i in ("tensorlite-numpy", "torch", "numpy-hand")} | {
        ("ops", "matmul n=128", i) for i in ("tensorlite-numpy", "tensorlite-cupy", "torch",
                                             "torch-cuda", "numpy-hand", "cupy-hand")} | {
        ("training", "mlp_step batch=256", i) for i in ("tensorlite-numpy", "tensorlite-cupy",
                                                         "torch", "numpy-hand")} | {
        ("cupy_targets", "relu_gpu", "(none ran)"), ("cupy_targets", "sum_gpu", "(none ran)")}
    # ops first, in the order of the implementations, then training
    assert [r["impl"] for r in rows[:3]] == ["tensorlite-numpy", "torch", "numpy-hand"]
    assert rows[-3]["file"] == "training" and rows[-1]["file"] == "cupy_targets"
    assert rows[-2]["reason"] == "tensorlite-numpy, torch: it is on the cpu"
    assert rows[-1]["reason"] == "no GPU (+1 more reasons)"
    # a backend that ran nowhere is listed once, with its reason, and has no rows
    assert unavailable == {"tensorlite-numba": [NUMBA_REASON]}
    # a case-level skip and a failure stay in the table, with their reasons
    got = _by_key(rows)
    assert got[("training", "mlp_step batch=256", "torch")]["status"] == "skipped"
    assert [r["impl"] for r in failed] == ["tensorlite-cupy"]
    text = report.render(synthetic(), rows, unavailable, failed, "python -m benchmarks.report")
    assert f"  tensorlite-numba: {NUMBA_REASON}" in text
    # what did not run has no row in the table: it is listed once below it, by reason
    table = report.format_table(rows)
    assert "| training: mlp_step batch=256 | torch |" not in table
    assert "relu_gpu" not in table and "(none ran)" not in table
    assert "tensorlite-numba" not in table
    assert "  no torch reference here: training: mlp_step batch=256 [torch]" in text.splitlines()
    assert "  tensorlite-numpy, torch: it is on the cpu: cupy_targets: relu_gpu" \
        in text.splitlines()
    assert text.index("Not run here") > text.index("| ops: matmul n=64 |")
    assert "| training: mlp_step batch=256 | tensorlite-cupy | failed: AssertionError: differs" \
        in table
    assert "FAILED" in text and "AssertionError: differs" in text
    assert "OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE unset" in text
    assert "torch 2.13.0 with 2 threads" in text


def test_cases_from_other_files_and_plain_json_are_reported():
    """A case parametrized by ``backend`` rather than ``impl``, and a JSON without tensorlite's
    extra information (the devices then follow the names)."""
    data = {"benchmarks": [
        _bench("fused_relu", "torch", 2e-3, file="numba_targets", shape=[256, 4096]),
        {**_bench("fused_relu", "x", 1e-3, file="numba_targets", shape=[256, 4096]),
         "params": {"backend": "numba", "shape": [256, 4096]}},
        _bench("fused_relu", "torch-cuda", 4e-4, file="cupy_targets", shape=[8192, 8192]),
        _bench("fused_relu", "tensorlite-cupy", 1e-4, file="cupy_targets", shape=[8192, 8192]),
    ]}
    rows, unavailable, failed = report.build_report(data)
    got = _by_key(rows)
    assert got[("numba_targets", "fused_relu shape=256x4096", "tensorlite-numba")][
        "ratio_torch"] == pytest.approx(0.5)
    assert got[("cupy_targets", "fused_relu shape=8192x8192", "tensorlite-cupy")][
        "ratio_torch"] == pytest.approx(0.25)
    assert not unavailable and not failed


def test_figures_a_case_measured_itself_are_listed():
    """An interleaved case's medians and ratios, and its own timings (``*_s``, ``*_TBps``),
    appear under the table and in the README block; the first call is not repeated there."""
    data = synthetic()
    cross = _bench("mlp_step_interleaved", "tensorlite-numba", 40.0, file="numba_targets")
    cross["extra_info"].update(medians_ms={"tensorlite-numba": 8.0, "torch": 6.4},
                               ratios={"tensorlite-numba/torch": 1.25}, warm_start_s=0.812,
                               effective_TBps=2.5, label="not a figure")
    data["benchmarks"].append(cross)
    own = _bench("compile", "tensorlite-numba", 2.0, file="numba_targets")
    own["extra_info"].update(warm_start_s=0.5)
    data["benchmarks"].append(own)
    rows, unavailable, failed = report.build_report(data)
    want = ("- numba_targets: mlp_step_interleaved: tensorlite-numba/torch 1.25x; medians per "
            "call: tensorlite-numba 8 ms, torch 6.4 ms; warm_start_s 0.812, effective_TBps 2.5")
    for text in (report.render(data, rows, unavailable, failed, "cmd"),
                 report.readme_block(data, rows, unavailable, "cmd")):
        assert want in text.splitlines()
        assert "- numba_targets: compile [tensorlite-numba]: warm_start_s 0.5" in text.splitlines()
        assert "first_call_s" not in text and "not a figure" not in text
        # the interleaved case is shown by its ratios, never as a row with its total time
        assert "| numba_targets: mlp_step_interleaved |" not in text
        assert "| numba_targets: compile | tensorlite-numba | 2 s |" in text
    assert [r for r in rows if r["case"] == "mlp_step_interleaved"] == []
    assert report.case_figures(synthetic()) == []


def test_summary_line_per_implementation():
    """One line per implementation: the geometric mean of its ratios to PyTorch over the op
    cases, over the training steps, and over the interleaved training comparisons; the
    reference itself, the overhead cases and the ratios between two tensorlite backends are
    in none of them."""
    data = synthetic()
    data["benchmarks"] += [
        _bench("cnn_step", "tensorlite-numpy", 2e-3, file="training"),
        _bench("cnn_step", "torch", 4e-3, file="training"),
        _bench("gpt_step", "tensorlite-numpy", 9e-3, file="models"),
        _bench("gpt_step", "torch", 1e-3, file="models"),
        _bench("per_op_overhead", "tensorlite-numpy", 5e-6, file="overhead"),
        _bench("per_op_overhead", "torch", 1e-6, file="overhead"),
    ]
    cross = _bench("model_step_interleaved", "tensorlite-numba", 30.0, file="models")
    cross["extra_info"].update(medians_ms={"tensorlite-numba": 5.0, "torch": 4.0},
                               ratios={"tensorlite-numba/torch": 1.25,
                                       "tensorlite-numpy/tensorlite-numba": 2.0})
    data["benchmarks"].append(cross)
    op_cross = _bench("cpu_op_interleaved", "tensorlite-numba", 3.0, file="cpu_ops")
    op_cross["extra_info"].update(medians_ms={"tensorlite-numba": 1.0, "torch": 2.0},
                                  ratios={"tensorlite-numba/torch": 0.5})
    data["benchmarks"].append(op_cross)
    rows, unavailable, failed = report.build_report(data)
    got = report.summary(data, rows)
    assert list(got) == ["tensorlite-numpy", "tensorlite-numba", "tensorlite-cupy", "numpy-hand",
                         "cupy-hand"]
    assert got["tensorlite-numpy"]["op"] == (pytest.approx(12 ** 0.5), 2)      # 3x, 4x
    assert got["tensorlite-numpy"]["training"] == (pytest.approx(4.5 ** 0.5), 2)  # 0.5x, 9x
    assert got["tensorlite-numpy"]["interleaved"] == (None, 0)
    assert got["tensorlite-numba"] == {"op": (None, 0), "training": (None, 0),
                                       "op_interleaved": (pytest.approx(0.5), 1),
                                       "interleaved": (pytest.approx(1.25), 1)}
    assert got["tensorlite-cupy"]["op"] == (pytest.approx(0.5), 1)  # against torch-cuda
    assert got["numpy-hand"]["op"] == (pytest.approx(2.0), 2)       # 4x, 1x
    assert got["cupy-hand"]["op"] == (pytest.approx(0.25), 1)
    for text in (report.render(data, rows, unavailable, failed, "cmd"),
                 report.readme_block(data, rows, unavailable, "cmd")):
        lines = text.splitlines()
        assert "  tensorlite-numpy: op cases 3.46x (of 2), training steps 2.12x (of 2)" in lines
        assert ("  tensorlite-numba: op cases interleaved 0.50x (of 1), training steps "
                "interleaved 1.25x (of 1)") in lines
        assert "  tensorlite-cupy: op cases 0.50x (of 1)" in lines
        assert not [line for line in lines if line.startswith("  torch:")]
        assert text.index("Summary:") < text.index("| case | implementation |")


def test_readme_block_is_replaced_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n## Benchmarks\n\nrun it\n\n" + report.MARK_BEGIN + "\nold\n"
                      + report.MARK_END + "\n\n## After\nkept\n")
    data = synthetic()
    rows, unavailable, _ = report.build_report(data)
    block = report.readme_block(data, rows, unavailable, "python -m benchmarks.report --readme")
    for _ in range(2):  # idempotent: one block, whatever was there
        report.update_readme(readme, block)
        text = readme.read_text()
        assert text.startswith("# x\n\n## Benchmarks\n\nrun it\n\n" + report.MARK_BEGIN)
        assert text.endswith(report.MARK_END + "\n\n## After\nkept\n")
        assert text.count(report.MARK_BEGIN) == 1 and "old" not in text
        assert "| ops: matmul n=64 | tensorlite-numpy | 3 ms | 3.00x |" in text
        assert "2026-01-02 03:04 UTC" in text and "OPENBLAS_CORETYPE=Haswell" in text
        assert "command: `python -m benchmarks.report --readme`" in text
    bare = tmp_path / "bare.md"
    bare.write_text("# y\n")
    report.update_readme(bare, block)
    assert bare.read_text().startswith("# y\n\n## Benchmarks\n\n" + report.MARK_BEGIN)


def _broken_backend_plugin(folder):
    """A distribution registering backend 'broken' whose module does not exist."""
    dist = folder / "tl_bench_broken-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tl-bench-broken\nVersion: 0\n")
    (dist / "entry_points.txt").write_text(
        "[tensorlite.backends]\nbroken = tl_bench_no_such_module:Backend\n")


def test_quick_tiny_run_end_to_end(tmp_path):
    """The one command on tiny sizes: JSON, table, chart; every case of the suite has a row for
    every implementation that can run here; the broken backend is listed with its reason."""
    _broken_backend_plugin(tmp_path / "plugins")
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path / "plugins"),
                                                      env.get("PYTHONPATH")]))
    out = tmp_path / "out"
    selected = ["tensorlite-numpy", "tensorlite-broken", "torch", "numpy-hand"]
    done = subprocess.run([sys.executable, "-m", "benchmarks.report", "--quick", "--tiny",
                           "--out", str(out), *(f"--impl={i}" for i in selected)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((out / "bench-tiny.json").read_text())
    assert (out / "ratios-tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "table-tiny.md").read_text().strip() in done.stdout
    rows, unavailable, failed = report.build_report(data)
    assert not failed

    runnable = {"tensorlite-numpy", "torch", "numpy-hand"}
    cases = {}
    for r in rows:
        cases.setdefault((r["file"], r["case"]), {})[r["impl"]] = r
    ours = {k: v for k, v in cases.items() if k[0] in ("ops", "overhead", "training")}
    names = {case.split()[0] for _, case in ours}
    assert names == {"matmul", "bias_act", "reduce", "softmax", "cross_entropy", "log_softmax",
                     "layer_norm",
                     "per_op_overhead", "mlp_step", "cnn_step", "adam_step"}
    for key, by_impl in ours.items():
        torch_median = by_impl["torch"]["median"]
        hand_median = by_impl["numpy-hand"]["median"]
        assert set(by_impl) == runnable, (key, sorted(by_impl))
        for impl, r in by_impl.items():
            assert r["median"] > 0 and r["first_call"] > 0, (key, impl)
            if r["ref_torch"] == "torch":
                assert r["ratio_torch"] == pytest.approx(r["median"] / torch_median)
                assert r["ratio_hand"] == pytest.approx(r["median"] / hand_median)
            assert f"| {key[0]}: {key[1]} | {impl} | {report.fmt_time(r['median'])} |" \
                in done.stdout
    # the real programs' training steps: tensorlite and PyTorch ran the same model code; the
    # hand-written row did not run and has no row in the table, only a line below it
    models = {k: v for k, v in cases.items() if k[0] == "models"}
    assert {case.split()[0] for _, case in models} == {
        "mnist_cnn_step", "vae_step", "resnet_blocks_step", "gpt_step", "model_step_interleaved"}
    for key, by_impl in models.items():
        if key[1].startswith("model_step_interleaved"):
            assert all(r["status"] == "skipped" for r in by_impl.values()), key
            continue
        for impl in ("tensorlite-numpy", "torch"):
            assert by_impl[impl]["median"] > 0, (key, impl)
            assert f"| {key[0]}: {key[1]} | {impl} | {report.fmt_time(by_impl[impl]['median'])}" \
                in done.stdout
        assert by_impl["numpy-hand"]["status"] == "skipped"
        assert f"| {key[0]}: {key[1]} | numpy-hand |" not in done.stdout
    assert "  no hand-written row for a whole program: models: mnist_cnn_step [numpy-hand]" \
        in done.stdout
    # one summary line per implementation that ran beside the reference
    summary = done.stdout[done.stdout.index("Summary:"):done.stdout.index("| case |")]
    assert [line.split(":")[0].strip() for line in summary.splitlines()[1:] if line.strip()] \
        == ["tensorlite-numpy", "numpy-hand"]
    assert "  tensorlite-numpy: op cases " in summary and "training steps " in summary
    # pytest's progress dots went to the log, not to the report
    assert "[100%]" not in done.stdout and "[100%]" in (out / "bench-tiny.log").read_text()
    # pytest-benchmark's own records: one per row that ran
    assert len([b for b in data["benchmarks"] if not report.is_interleaved(b)]) \
        == sum(1 for r in rows if r["median"] is not None)
    assert "tensorlite-broken" in unavailable
    assert "tl_bench_no_such_module" in unavailable["tensorlite-broken"][0]
    assert f"  tensorlite-broken: {unavailable['tensorlite-broken'][0]}" in done.stdout
    assert set(unavailable) == ({f"tensorlite-{b}" for b in tl.backends.known()} | {
        "tensorlite-broken", "torch-cuda", "cupy-hand"}) - runnable
    for impl, reasons in unavailable.items():
        assert f"  {impl}: {reasons[0]}" in done.stdout
        if impl != "tensorlite-broken":
            assert reasons == [f"not selected (TL_BENCH_IMPLS={','.join(selected)})"]
    assert "OPENBLAS_CORETYPE" in done.stdout and "OPENBLAS_L2_SIZE" in done.stdout
    assert "threads (torch.get_num_threads()" in done.stdout


def test_the_readme_picture_shows_the_interleaved_ratios(tmp_path):
    """plot_glance draws one bar per interleaved case and tensorlite backend (the ratios to
    PyTorch only); the README block shows it after the summary; no interleaved case, no
    picture."""
    data = synthetic()
    assert report.interleaved_ratios(data) == []
    assert not report.plot_glance(data, tmp_path / "none.png", "t")
    cross = _bench("model_step_interleaved", "tensorlite-numba", 30.0, file="models")
    cross["extra_info"].update(medians_ms={"tensorlite-numba": 5.0, "torch": 4.0},
                               ratios={"tensorlite-numba/torch": 1.25,
                                       "tensorlite-numpy/torch": 2.5,
                                       "tensorlite-numpy/tensorlite-numba": 2.0})
    data["benchmarks"].append(cross)
    assert report.interleaved_ratios(data) == [
        ("models: model_step_interleaved", {"tensorlite-numba": 1.25, "tensorlite-numpy": 2.5})]
    png = tmp_path / "glance.png"
    assert report.plot_glance(data, png, "t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows, unavailable, _ = report.build_report(data)
    block = report.readme_block(data, rows, unavailable, "cmd", report.GLANCE)
    assert "![time / PyTorch eager of each interleaved case](docs/benchmarks.png)" in block
    assert block.index("Summary:") < block.index("![") < block.index("| case |")
