"""``cs7150 demo`` with its quickest options, and the timing helpers it uses."""
import argparse
from pathlib import Path

import pytest

from coursetools import demo
from coursetools.timing import (
    check_targets,
    format_targets,
    format_timings,
    layer_timings,
)
from cs7150.stopwatch import block_median_times, block_times, median_time, median_times


def run_demo(argv):
    parser = argparse.ArgumentParser()
    demo.configure(parser)
    return demo.run(parser.parse_args(argv))


def test_demo_prints_the_worked_numbers_table_and_timings(capsys):
    assert run_demo(["--batch", "2", "--repeats", "1", "--naive-batch", "1", "--no-grading"]) == 0
    out = capsys.readouterr().out
    for line in [
        "W=7, K=3, P=0, S=1  ->  5 x 5",
        "W=7, K=3, P=0, S=2  ->  3 x 3",
        "W=7, K=3, P=1, S=1  ->  7 x 7",
        "W=7, K=3, P=0, S=3  ->  2 x 2",
        "output:        10 x 32 x 32",
        "parameters:    10 x (3 x 5 x 5) + 10 = 760",
        "multiply-adds: 10 x 32 x 32 x (3 x 5 x 5) = 768,000",
        "K=3:  L=1: 3, L=2: 5, L=3: 7, L=4: 9, L=5: 11",
    ]:
        assert line in out
    assert "does not fit evenly" in out
    assert "Conv (C_out=20, K=5, P=2, S=1)  20 x 28 x 28  20 x 1 x 5 x 5" in out
    assert "Linear (2450 -> 500)" in out and "1,256,080" in out
    assert "naive ms (scaled from batch 1)" in out
    timing_rows = [line for line in out.splitlines() if line.startswith(("conv", "pool")) and "float" in line]
    assert len(timing_rows) == 12


def test_demo_without_timing(capsys):
    assert run_demo(["--no-timing", "--no-grading"]) == 0
    out = capsys.readouterr().out
    assert "LeNet-5 on a 1 x 28 x 28 digit" in out and "Forward + backward" not in out
    assert "instructor's cycle" not in out


def test_demo_runs_the_instructor_cycle(capsys, tmp_path):
    """release -> samples -> autograde -> table; every sample gets its expected score."""
    assert run_demo(["--no-timing", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:4] for line in out.splitlines() if "/88 " in line}  # score, extra, expected
    assert rows["reference"] == ["88/88", "+12/12", "100"] and rows["blank"] == ["0/88", "+0/12", "0"]
    assert all(float(score.split("/")[0]) + float(extra[1:].split("/")[0]) == float(expected)
               for score, extra, expected in rows.values()), rows
    assert "likely mistake: bias missing" in out and "naive conv used PyTorch" in out
    assert (tmp_path / "grades" / "grades.csv").is_file()
    assert (tmp_path / "release" / "conv_pool.ipynb").is_file()
    assert (tmp_path / "grades" / "students" / "reference" / "results.json").is_file()
    said = next(line for line in out.splitlines() if "feedback per student:" in line)
    template = said.split("feedback per student: ")[1].split(" (")[0]
    assert template == str(tmp_path / "grades" / "students" / "<student>" / "feedback.html")
    assert Path(template.replace("<student>", "reference")).is_file()


def test_median_time():
    calls = []
    assert median_time(lambda: calls.append(1), repeats=3, warmup=2) >= 0
    assert len(calls) == 5
    with pytest.raises(ValueError, match="repeats >= 1"):
        median_time(lambda: None, repeats=0)


def test_median_times_interleaves_calls():
    calls = []
    times = median_times([lambda: calls.append("a"), lambda: calls.append("b")], repeats=2, warmup=1)
    assert len(times) == 2 and calls == ["a", "b"] * 3


def test_block_median_times_alternates_library_blocks():
    """Each round: one warm-up of a group's calls, then its timed calls in turns; then the next group."""
    calls = []
    numpy_block = [lambda: calls.append("f"), lambda: calls.append("b")]
    torch_block = [lambda: calls.append("F"), lambda: calls.append("B")]
    times = block_median_times([numpy_block, torch_block], repeats=2, rounds=2)
    assert calls == (["f", "b"] * 3 + ["F", "B"] * 3) * 2
    assert len(times) == 2 and all(len(group) == 2 and min(group) >= 0 for group in times)
    with pytest.raises(ValueError, match="rounds >= 1"):
        block_median_times([numpy_block], rounds=0)


def test_block_median_times_takes_the_median_over_all_rounds(monkeypatch):
    ticks = iter([0, 1, 0, 5, 0, 9, 0, 2, 0, 7, 0, 3])  # perf_counter: six timed calls of 1, 5, 9, 2, 7, 3 s
    monkeypatch.setattr("cs7150.stopwatch.time.perf_counter", lambda: next(ticks))
    (only,), = block_median_times([[lambda: None]], repeats=2, rounds=3)
    assert only == 4.0  # median of 1, 5, 9, 2, 7, 3 (a median of round medians would be 5)


def test_block_times_keeps_every_timed_call(monkeypatch):
    ticks = iter([0, 1, 0, 5, 0, 9, 0, 2, 0, 7, 0, 3])  # perf_counter: six timed calls of 1, 5, 9, 2, 7, 3 s
    monkeypatch.setattr("cs7150.stopwatch.time.perf_counter", lambda: next(ticks))
    ((only,),) = block_times([[lambda: None]], repeats=2, rounds=3)
    assert only == [1, 5, 9, 2, 7, 3]
    with pytest.raises(ValueError, match="rounds >= 1"):
        block_times([[lambda: None]], rounds=0)


def test_layer_timings_rows_and_targets():
    rows = layer_timings(batch=2, repeats=1, dtypes=("float64",), naive=False, layers=["conv1", "pool2 max"])
    assert [(r["layer"], r["dtype"], r["input"]) for r in rows] == [
        ("conv1", "float64", "2 x 1 x 28 x 28"), ("pool2 max", "float64", "2 x 50 x 14 x 14"),
    ]
    assert all(r["naive_s"] is None and r["fast_s"] > 0 and r["torch_s"] > 0 for r in rows)
    assert rows[0]["fast_over_torch"] == rows[0]["fast_s"] / rows[0]["torch_s"]
    assert "naive ms" in format_timings(rows).splitlines()[0]
    results = check_targets(rows)
    assert [(r["target"], r["layer"]) for r in results] == [
        ("fast conv faster than PyTorch float64", "conv1"), ("fast pool within 2x PyTorch", "pool2 max"),
    ]
    assert len(format_targets(results).splitlines()) == 2 + len(results)


def test_check_targets_bounds():
    row = {"layer": "conv1", "kind": "conv", "dtype": "float32", "fast_over_torch": 1.5, "naive_over_fast": 19.9}
    results = {r["target"]: r["met"] for r in check_targets([row])}
    assert results == {"fast conv within 1.5x PyTorch float32": True, "fast conv >= 20x faster than naive": False}


@pytest.mark.parametrize(
    "kwargs, match",
    [({"batch": 0}, "batch"), ({"layers": ["conv3"]}, "unknown layers"), ({"dtypes": ("float16",)}, "float16")],
)
def test_layer_timings_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        layer_timings(**kwargs)
