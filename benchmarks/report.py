"""The benchmark command: run the suite, save its JSON, print the comparison table, plot it.

    python -m benchmarks.report                # full mode: every size, 10+ rounds a case
    python -m benchmarks.report --quick        # fewer sizes and rounds: under 2 min on 2 cores
    python -m benchmarks.report --readme       # ... and put the table into README.md
    python -m benchmarks.report --from-json benchmarks/results/bench-full.json --readme
    python -m benchmarks.report --quick --impl tensorlite-numba --impl torch -- -k mlp

The suite (benchmarks/test_*.py, pytest-benchmark) runs in a child pytest; every case runs once
per implementation (each tensorlite backend, PyTorch, the hand-written reference), all in that
one process; pytest's own output goes to a log beside the JSON (bench-<mode>.log).  The report
opens with one summary line per implementation: the geometric mean of its ratio to PyTorch eager
over the op cases (benchmarks/test_ops.py), over the training steps (every case named *step*:
the MLP, CNN, Adam and the real models of test_models.py) and over the interleaved training
comparisons.  The table gives each case's median time per implementation that ran and its
ratios to PyTorch and to the hand-written reference on the same device; what did not run is
listed once below it, by reason; the interleaved comparisons (the implementations taking turns)
are shown as the ratios of their medians, not as a row.  It is saved beside pytest-benchmark's
JSON and a bar chart of the ratios (PNG) in --out (benchmarks/results/).  Implementations that
could not run are listed with the reason.  The environment's OPENBLAS_*/thread settings are
printed as found: this command never changes them.
"""
import argparse
import datetime
import json
import math
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = ROOT / "README.md"
MARK_BEGIN = "<!-- benchmark table: filled in by python -m benchmarks.report --readme -->"
MARK_END = "<!-- end of benchmark table -->"

# pytest-benchmark's rounds per mode; sizes per mode come from TL_BENCH_MODE (conftest.sizes)
ROUNDS = {
    "full": ["--benchmark-min-rounds=10", "--benchmark-max-time=1.0"],
    "quick": ["--benchmark-min-rounds=3", "--benchmark-max-time=0.15"],
    "tiny": ["--benchmark-min-rounds=1", "--benchmark-max-time=0.0001"],  # the self-test's
}
FILE_ORDER = ["ops", "overhead", "training"]  # then any other benchmarks/test_*.py, by name
DEFAULT_REFERENCES = {"cpu": {"torch": "torch", "hand": "numpy-hand"},
                      "cuda": {"torch": "torch-cuda", "hand": "cupy-hand"}}


# -- running the suite ----------------------------------------------------------------------------
def run_suite(mode, json_path, impls=(), pytest_args=()):
    """Run benchmarks/ under pytest-benchmark, its JSON (with tensorlite's run information)
    into ``json_path``; pytest's exit status."""
    info_path = Path(f"{json_path}.info")
    # OPENBLAS_* and the thread settings pass to the child untouched
    env = dict(os.environ, TL_BENCH_MODE=mode, TL_BENCH_INFO=str(info_path))
    if impls:
        env["TL_BENCH_IMPLS"] = ",".join(impls)
    cmd = [sys.executable, "-m", "pytest", str(HERE), "-q", "-rfE", "-p", "no:cacheprovider",
           "--benchmark-only", "--benchmark-quiet", f"--benchmark-json={json_path}",
           *ROUNDS[mode], *pytest_args]
    # pytest's progress dots and pytest-benchmark's own table go to a log beside the JSON; the
    # log's end is printed when the run fails
    log_path = Path(json_path).with_suffix(".log")
    print(f"running the benchmarks ({mode} mode); pytest's output: {log_path}", file=sys.stderr,
          flush=True)
    start = datetime.datetime.now(datetime.timezone.utc)
    with open(log_path, "w") as log:
        status = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT).returncode
    elapsed = (datetime.datetime.now(datetime.timezone.utc) - start).total_seconds()
    if status not in (0, 1):  # 1: a case failed, which the report lists itself
        tail = log_path.read_text().splitlines()[-40:]
        print("\n".join(["pytest's output ends:", *tail]), file=sys.stderr)
    if info_path.exists():  # pytest-benchmark leaves the JSON empty when no case ran
        text = Path(json_path).read_text() if Path(json_path).exists() else ""
        data = json.loads(text) if text.strip() else {"benchmarks": []}
        data.setdefault("tensorlite", json.loads(info_path.read_text()))
        data["tensorlite"]["elapsed_s"] = elapsed
        data.setdefault("datetime", datetime.datetime.now(datetime.timezone.utc).isoformat())
        Path(json_path).write_text(json.dumps(data, indent=1))
        info_path.unlink()
    return status


# -- from pytest-benchmark's JSON to rows ---------------------------------------------------------
def _fmt_param(value):
    """[256, 4096] -> 256x4096; [[4, 3], [3]] -> 4x3,3."""
    if isinstance(value, (list, tuple)):
        sep = "," if any(isinstance(v, (list, tuple)) for v in value) else "x"
        return sep.join(_fmt_param(v) for v in value)
    return str(value)


def case_of(record):
    """((file, case label), implementation) of a benchmark or a skip/failure record."""
    params = dict(record.get("params") or {})
    impl = params.pop("impl", None)
    if impl is None and "backend" in params:
        impl = f"tensorlite-{params.pop('backend')}"
    path = record["fullname"].split("::")[0]
    file = Path(path).stem.removeprefix("test_")
    name = record["name"].split("[")[0].removeprefix("test_")
    label = name + "".join(f" {k}={_fmt_param(v)}" for k, v in params.items())
    return (file, label), impl or "-"


def is_interleaved(record):
    """A case that times several implementations itself, taking turns (its ``extra_info``
    holds their medians and ratios): reported by its ratios, not by a row of its own."""
    return bool((record.get("extra_info") or {}).get("ratios"))


def _order(items, known):
    """``items`` in the order of ``known``, the rest after them by name."""
    rank = {name: i for i, name in enumerate(known)}
    return sorted(items, key=lambda x: (rank.get(x, len(rank)), x))


def build_report(data):
    """Rows (one per case and implementation), the implementations that ran nowhere (with
    their reasons) and the failed cases, from a pytest-benchmark JSON with tensorlite's info."""
    info = data.get("tensorlite", {})
    impl_info = info.get("implementations", {})
    refs = info.get("references", DEFAULT_REFERENCES)
    order = {nodeid: i for i, nodeid in enumerate(info.get("order", []))}
    cases = {}   # (file, label) -> {impl: entry}
    first_seen = {}
    interleaved_cases = {case_of(b)[0] for b in data.get("benchmarks", []) if is_interleaved(b)}

    def add(record, entry):
        key, impl = case_of(record)
        cases.setdefault(key, {})[impl] = entry
        seen = order.get(record["fullname"], len(order) + len(first_seen))
        first_seen[key] = min(first_seen.get(key, seen), seen)

    for b in data.get("benchmarks", []):
        extra = b.get("extra_info") or {}
        if is_interleaved(b):
            continue  # its total time means nothing: its ratios are listed by case_figures
        add(b, {"median": b["stats"]["median"], "rounds": b["stats"]["rounds"],
                "first_call": extra.get("first_call_s"), "device": extra.get("device")})
    for status in ("skipped", "failed"):
        for r in info.get(status, []):
            if status == "failed" or case_of(r)[0] not in interleaved_cases:
                add(r, {"status": status, "reason": r["reason"]})

    ran = {impl for entries in cases.values() for impl, e in entries.items() if "median" in e}
    unavailable = {}
    for entries in cases.values():
        for impl, e in entries.items():
            if impl not in ran and e.get("status") == "skipped":
                unavailable.setdefault(impl, []).append(e["reason"])
    for impl, i in impl_info.items():
        if impl not in ran and i.get("reason"):
            unavailable.setdefault(impl, []).append(i["reason"])
    unavailable = {impl: list(dict.fromkeys(reasons)) for impl, reasons in unavailable.items()}

    def device(impl, entry):
        return entry.get("device") or impl_info.get(impl, {}).get("device") or (
            "cuda" if "cupy" in impl or "cuda" in impl else "cpu")

    rank = {f: i for i, f in enumerate(FILE_ORDER)}
    keys = sorted(cases, key=lambda k: (rank.get(k[0], len(rank)), k[0] if k[0] not in rank
                                        else "", first_seen[k]))
    rows, failed = [], []
    for key in keys:
        entries = cases[key]
        if not any("median" in e or e.get("status") == "failed" for e in entries.values()):
            # nothing ran (e.g. GPU cases on a CPU machine): one row, not one per implementation
            own = {i: e["reason"] for i, e in entries.items() if i not in unavailable}
            reason = "see the skipped implementations"
            if own:
                first, reason = next(iter(own.items()))
                # the same words but for the implementation's name: say it once, for all
                if len({r.replace(i, "{}", 1) for i, r in own.items()}) == 1 and len(own) > 1:
                    reason = f"{', '.join(own)}: {reason.replace(first, 'it', 1)}"
                elif len(set(own.values())) > 1:
                    reason += f" (+{len(set(own.values())) - 1} more reasons)"
            rows.append({"file": key[0], "case": key[1], "impl": "(none ran)", "median": None,
                         "first_call": None, "rounds": None, "status": "skipped",
                         "reason": reason, "ratio_torch": None, "ratio_hand": None,
                         "ref_torch": None, "ref_hand": None})
            continue
        for impl in _order(entries, list(impl_info)):
            e = entries[impl]
            if impl in unavailable and e.get("status") == "skipped":
                continue  # listed once, under the skipped implementations
            row = {"file": key[0], "case": key[1], "impl": impl, "median": e.get("median"),
                   "first_call": e.get("first_call"), "rounds": e.get("rounds"),
                   "status": e.get("status", "ok"), "reason": e.get("reason"),
                   "ratio_torch": None, "ratio_hand": None}
            ref = refs.get(device(impl, e), {})
            row["ref_torch"], row["ref_hand"] = ref.get("torch"), ref.get("hand")
            if row["median"] is not None:
                for what in ("torch", "hand"):
                    base = entries.get(ref.get(what), {}).get("median")
                    if base:
                        row[f"ratio_{what}"] = row["median"] / base
            if row["status"] == "failed":
                failed.append(row)
            rows.append(row)
    return rows, unavailable, failed


# Figures a case measures itself, kept in its extra_info: the interleaved comparisons' medians
# and ratios (the targets are read from those), start-up times, effective bandwidth.
FIGURE_SUFFIXES = ("_s", "_us", "_TBps")


def case_figures(data):
    """(case label, text) for every case that recorded figures of its own."""
    out = []
    for b in data.get("benchmarks", []):
        extra = b.get("extra_info") or {}
        parts = []
        if extra.get("ratios"):  # the ratios first: they are what an interleaved run measures
            parts.append(", ".join(f"{k} {v:.2f}x" for k, v in extra["ratios"].items()))
        if extra.get("medians_ms"):
            parts.append("medians per call: " + ", ".join(
                f"{k} {fmt_time(v / 1e3)}" for k, v in extra["medians_ms"].items()))
        scalars = [f"{k} {v:.3g}" for k, v in extra.items() if k != "first_call_s"
                   and k.endswith(FIGURE_SUFFIXES) and isinstance(v, (int, float))]
        if scalars:
            parts.append(", ".join(scalars))
        if parts:
            key, impl = case_of(b)
            # an interleaved case runs every implementation: the row it ran as says nothing
            label = f"{key[0]}: {key[1]}" + ("" if is_interleaved(b) else f" [{impl}]")
            out.append((label, "; ".join(parts)))
    return out


def format_figures(figures):
    return ["Interleaved comparisons (the implementations take turns, block after block, each "
            "in its own process or all in one; ratios of their median times per call) and other "
            "figures the cases measured themselves:"] + [
                f"- {case}: {text}" for case, text in figures]


# -- text -----------------------------------------------------------------------------------------
def fmt_time(seconds):
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r):
    return "-" if r is None else f"{r:.2f}x"


def format_table(rows):
    """A markdown table (readable as plain text too): one line per case and implementation
    that ran (or failed); what did not run is listed once below it (``format_not_run``)."""
    lines = ["| case | implementation | median | vs torch | vs hand | first call |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        case = f"{r['file']}: {r['case']}"
        if r["status"] == "skipped":
            continue
        if r["status"] != "ok":
            lines.append(f"| {case} | {r['impl']} | {r['status']}: {r['reason']} | | | |")
        else:
            lines.append(f"| {case} | {r['impl']} | {fmt_time(r['median'])} | "
                         f"{fmt_ratio(r['ratio_torch'])} | {fmt_ratio(r['ratio_hand'])} | "
                         f"{fmt_time(r['first_call'])} |")
    return "\n".join(lines)


def format_not_run(rows):
    """The cases (or case and implementation) that did not run, grouped by reason: one line a
    reason (the implementations that ran nowhere are listed apart, with theirs)."""
    by_reason = {}
    for r in rows:
        if r["status"] == "skipped":
            what = f"{r['file']}: {r['case']}" + ("" if r["impl"] == "(none ran)"
                                                  else f" [{r['impl']}]")
            by_reason.setdefault(r["reason"], []).append(what)
    if not by_reason:
        return []
    return ["Not run here (no row above):"] + [f"  {reason}: {', '.join(cases)}"
                                                for reason, cases in by_reason.items()]


# Which cases a summary line averages: the op cases (benchmarks/test_ops.py, and the interleaved
# ones of test_cpu_ops.py), and the training steps (every case whose name says "step": the MLP,
# CNN, Adam and the real models)
OP_FILES = ("ops", "cpu_ops")


def case_kind(file, case):
    """"op", "training" or None (overhead, start-up and other cases: in no summary)."""
    if file in OP_FILES:
        return "op"
    return "training" if "step" in case.split()[0] else None


def geomean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def summary(data, rows):
    """Per implementation: (geometric mean, n) of the ratios to PyTorch eager on the same device
    over the op cases ("op"), the training steps ("training"), and the interleaved comparisons
    of op cases ("op_interleaved") and of training steps ("interleaved"); None where there is
    nothing to average.  The references themselves have no line."""
    refs = {r["ref_torch"] for r in rows if r.get("ref_torch")}
    ratios = {}
    for r in rows:
        kind = case_kind(r["file"], r["case"])
        if r["status"] == "ok" and r["ratio_torch"] and kind and r["impl"] not in refs:
            ratios.setdefault(r["impl"], {}).setdefault(kind, []).append(r["ratio_torch"])
    for b in data.get("benchmarks", []):
        if not is_interleaved(b):
            continue
        (file, case), _ = case_of(b)
        kind = {"op": "op_interleaved", "training": "interleaved"}.get(case_kind(file, case))
        if kind is None:  # neither an op case nor a training step (test_compile's chain)
            continue
        for pair, value in b["extra_info"]["ratios"].items():
            impl, _, ref = pair.partition("/")
            if ref in refs and impl not in refs and value:
                ratios.setdefault(impl, {}).setdefault(kind, []).append(value)
    out = {}
    for impl in _order(ratios, list((data.get("tensorlite") or {}).get("implementations", {}))):
        out[impl] = {kind: (geomean(ratios[impl].get(kind, [])), len(ratios[impl].get(kind, [])))
                     for kind in ("op", "op_interleaved", "training", "interleaved")}
    return out


def format_summary(data, rows):
    lines = []
    for impl, kinds in summary(data, rows).items():
        parts = []
        for kind, label in (("op", "op cases"), ("op_interleaved", "op cases interleaved"),
                            ("training", "training steps"),
                            ("interleaved", "training steps interleaved")):
            mean, n = kinds[kind]
            if n:
                parts.append(f"{label} {fmt_ratio(mean)} (of {n})")
        lines.append(f"  {impl}: " + ", ".join(parts))
    if not lines:
        return []
    return ["Summary: geometric mean of the time / PyTorch eager on the same device (below 1.00x "
            "is faster):"] + lines


def _setting(env, name):
    value = env.get(name)
    return f"{name}={value}" if value is not None else f"{name} unset"


def describe_run(data, command):
    """The lines that say how the figures were taken."""
    info = data.get("tensorlite", {})
    env = info.get("env", {})
    cpu = (((data.get("machine_info") or {}).get("cpu") or {}).get("brand_raw")
           or info.get("cpu") or "unknown CPU")
    when = data.get("datetime", "")[:16].replace("T", " ")
    lines = [f"{info.get('mode', '?')} mode, {when} UTC, {cpu}, {info.get('cpu_count', '?')} "
             f"cores{', GPU: ' + info['gpu'] if info.get('gpu') else ''}",
             f"command: {command}",
             "OpenBLAS settings as set in the environment (never changed by the benchmarks): "
             + ", ".join(_setting(env, n) for n in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")),
             "threads: " + ", ".join(_setting(env, n) for n in env if not
                                     n.startswith("OPENBLAS_C") and n != "OPENBLAS_L2_SIZE")]
    load = info.get("load")
    if info.get("elapsed_s"):
        lines.append(f"the suite took {info['elapsed_s']:.0f} s")
    if load:
        lines.append(f"machine load (1-minute average): {load['start']:.2f} at the start, "
                     f"{load['end']:.2f} at the end, on {info.get('cpu_count', '?')} cores "
                     "(other work on the machine makes the figures noisy)")
    libs = [f"numpy {info.get('numpy', '?')} (BLAS: {info.get('blas', '?')})"]
    if "torch" in info:
        libs.append(f"torch {info['torch']} with {info.get('torch_threads')} threads "
                    f"(torch.get_num_threads(); {info.get('torch_interop_threads')} inter-op)")
    if "numba" in info:
        libs.append(f"numba {info['numba']} with {info.get('numba_threads')} threads")
    lines.append("; ".join(libs))
    lines += ["PyTorch and tensorlite are timed in one process, one after the other; their "
              "thread pools (OpenBLAS, PyTorch's, Numba's) can slow each other on few cores.",
              "median: of pytest-benchmark's rounds, without the first call (compile, warm-up), "
              "which is timed alone as 'first call'.",
              "vs torch, vs hand: the median divided by PyTorch eager's / the hand-written "
              "NumPy (CuPy on the GPU) code's on the same device and work; below 1.00x is faster."]
    return lines


def render(data, rows, unavailable, failed, command):
    parts = ["tensorlite benchmarks", *("  " + line for line in describe_run(data, command)), ""]
    if format_summary(data, rows):
        parts += format_summary(data, rows) + [""]
    parts += [format_table(rows), ""]
    if format_not_run(rows):
        parts += format_not_run(rows) + [""]
    figures = case_figures(data)
    if figures:
        parts += format_figures(figures) + [""]
    if unavailable:
        parts.append("Skipped implementations:")
        parts += [f"  {impl}: {'; '.join(reasons)}" for impl, reasons in unavailable.items()]
    if failed:
        parts.append("")
        parts.append("FAILED cases (a result differed from the reference, or an error):")
        parts += [f"  {r['file']}: {r['case']} [{r['impl']}]: {r['reason']}" for r in failed]
    return "\n".join(parts)


# -- the picture ----------------------------------------------------------------------------------
def plot(rows, path, title):
    """Horizontal bars of each implementation's ratio to PyTorch and to the hand-written code
    (log scale, 1.0 marked), one group of bars per case."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [r for r in rows if r["median"]]
    cases = list(dict.fromkeys(f"{r['file']}: {r['case']}" for r in timed))
    impls = list(dict.fromkeys(r["impl"] for r in timed))
    by_key = {(f"{r['file']}: {r['case']}", r["impl"]): r for r in timed}
    panels = {}
    for what in ("torch", "hand"):  # a panel leaves out its own reference (1.0 by definition)
        refs = {r[f"ref_{what}"] for r in timed}
        panels[what] = [i for i in impls if i not in refs]
    n = max(1, max(len(shown) for shown in panels.values()))
    height = 0.8 / n
    colors = {impl: f"C{i % 10}" for i, impl in enumerate(impls)}
    fig, axes = plt.subplots(1, 2, sharey=True, figsize=(13, 1.5 + 0.18 * len(cases) * n))
    for ax, what, label in zip(axes, ("torch", "hand"),
                               ("time / PyTorch eager", "time / hand-written NumPy (CuPy)")):
        for k, impl in enumerate(panels[what]):
            values = [(by_key.get((c, impl)) or {}).get(f"ratio_{what}") for c in cases]
            ax.barh([i + k * height for i in range(len(cases))],
                    [math.nan if v is None else v for v in values], height, color=colors[impl])
        ax.axvline(1.0, color="black", linewidth=1)
        ax.set_xscale("log")
        ax.set_xlabel(label + " (below 1 is faster)")
        ax.grid(axis="x", which="both", alpha=0.3)
    axes[0].set_yticks([i + (n - 1) * height / 2 for i in range(len(cases))], cases, fontsize=8)
    axes[0].invert_yaxis()
    fig.legend([plt.Rectangle((0, 0), 1, 1, color=colors[i]) for i in impls], impls,
               loc="upper right", fontsize=8)
    fig.suptitle(title, x=0.3)
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def interleaved_ratios(data):
    """[(case, {implementation: its median / PyTorch's})] of the interleaved comparisons, the
    figures to read on a shared machine (each implementation in its own process, in turns)."""
    out = []
    for b in data.get("benchmarks", []):
        if not is_interleaved(b):
            continue
        (file, case), _ = case_of(b)
        ratios = {}
        for pair, value in b["extra_info"]["ratios"].items():
            impl, _, ref = pair.partition("/")
            if ref.startswith("torch") and value:
                ratios[impl] = value
        if ratios:
            out.append((f"{file}: {case}", ratios))
    return out


def plot_glance(data, path, title):
    """The picture for the README: one bar per interleaved case and tensorlite backend, its
    time / PyTorch eager's (log scale, 1.0 marked, the figure printed at the bar's end).
    Returns False when there is no interleaved comparison to draw."""
    items = interleaved_ratios(data)
    if not items:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    impls = list(dict.fromkeys(i for _, r in items for i in r))
    n, height = len(impls), 0.8 / len(impls)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.25 * len(items) * n))
    for k, impl in enumerate(impls):
        ys = [i + k * height for i in range(len(items))]
        values = [r.get(impl, math.nan) for _, r in items]
        ax.barh(ys, values, height, color=f"C{k}", label=impl)
        for y, v in zip(ys, values):
            if v == v:
                ax.text(v, y, f" {v:.2f}x", va="center", fontsize=7)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("time / PyTorch eager, each in its own process, taking turns (below 1 is "
                  "faster)")
    ax.set_yticks([i + (n - 1) * height / 2 for i in range(len(items))],
                  [case for case, _ in items], fontsize=8)
    ax.invert_yaxis()
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


# -- README ---------------------------------------------------------------------------------------
GLANCE = ROOT / "docs" / "benchmarks.png"  # the README's picture (tracked: docs/*.png)


def readme_block(data, rows, unavailable, command, picture=None):
    """The README's benchmark section; ``picture`` (a path under the repository) is shown
    after the summary."""
    lines = [f"- {line}" for line in describe_run(data, f"`{command}`")]
    block = [MARK_BEGIN, *lines, ""]
    if format_summary(data, rows):
        block += format_summary(data, rows) + [""]
    if picture is not None:
        rel = Path(picture).resolve().relative_to(ROOT).as_posix()
        block += [f"![time / PyTorch eager of each interleaved case]({rel})", ""]
    block += [format_table(rows), ""]
    if format_not_run(rows):
        block += format_not_run(rows) + [""]
    figures = case_figures(data)
    if figures:
        block += format_figures(figures) + [""]
    if unavailable:
        block.append("Skipped here: " + "; ".join(f"{i} ({r[0]})" for i, r in unavailable.items()))
        block.append("")
    block.append(MARK_END)
    return "\n".join(block)


def update_readme(path, block):
    """Replace the text from the begin marker to the end marker with ``block`` (which starts
    and ends with them); without the begin marker, add a Benchmarks section at the end."""
    text = Path(path).read_text()
    if MARK_BEGIN in text:
        start = text.index(MARK_BEGIN)
        end = text.find(MARK_END, start)
        end = start + len(MARK_BEGIN) if end < 0 else end + len(MARK_END)
        text = text[:start] + block + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + block + "\n"
    Path(path).write_text(text)


# -- the command ----------------------------------------------------------------------------------
def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer sizes and rounds (under 2 minutes on 2 cores)")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny sizes, one round: checks the harness, not speed")
    parser.add_argument("--impl", action="append", default=[],
                        help="run only this implementation (repeatable), e.g. tensorlite-numba")
    parser.add_argument("--out", default=str(HERE / "results"),
                        help="folder for the JSON, the table and the PNG (default %(default)s)")
    parser.add_argument("--from-json", help="report a saved run instead of running the suite")
    parser.add_argument("--readme", nargs="?", const=str(README), default=None, metavar="PATH",
                        help="also rewrite the benchmark table in README.md (or PATH)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    args = parser.parse_args(own)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    out = Path(args.out).resolve()  # the child pytest runs in the repository root
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks.report" + "".join(f" {a}" for a in argv)

    status = 0
    if args.from_json:
        json_path = Path(args.from_json)
    else:
        json_path = out / f"bench-{mode}.json"
        if json_path.exists():
            json_path.unlink()
        status = run_suite(mode, json_path, args.impl, pytest_args)
        if not json_path.exists() or not json_path.read_text().strip():
            print(f"the benchmark run wrote no JSON (pytest exit status {status})",
                  file=sys.stderr)
            return status or 1
    data = json.loads(json_path.read_text())
    rows, unavailable, failed = build_report(data)
    text = render(data, rows, unavailable, failed, command)
    stem = json_path.stem.removeprefix("bench-")
    table_path = out / f"table-{stem}.md"
    table_path.write_text(text + "\n")
    print("\n" + text)
    print(f"\nJSON: {json_path}\ntable: {table_path}")
    if not args.no_plot and any(r["median"] for r in rows):
        png = out / f"ratios-{stem}.png"
        plot(rows, png, f"tensorlite benchmarks ({data.get('tensorlite', {}).get('mode', stem)}"
                        f" mode, {data.get('datetime', '')[:10]})")
        print(f"chart: {png}")
    if args.readme:
        title = (f"tensorlite / PyTorch eager, {data.get('tensorlite', {}).get('mode', stem)} "
                 f"mode, {data.get('datetime', '')[:10]}")
        picture = GLANCE if plot_glance(data, GLANCE, title) else None
        update_readme(args.readme, readme_block(data, rows, unavailable, command, picture))
        print(f"README: table written to {args.readme}")
    if failed and not status:
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
