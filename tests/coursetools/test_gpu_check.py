"""benchmarks/gpu_check.py in its CPU mode (no CUDA here): run as a plain script, from another folder."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def cpu_check(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--out", str(out)], cwd=out, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout, json.loads((out / "gpu_check.json").read_text())


def test_cpu_mode_says_so_and_runs_every_step_at_tiny_sizes(cpu_check):
    _, stdout, results = cpu_check
    assert "mode cpu-tiny (no CUDA: the same steps on the CPU at tiny sizes" in stdout
    assert results["mode"] == "cpu-tiny" and results["device"] == "cpu" and results["gpu"] is None
    assert results["sizes"]["name"] == "tiny"
    assert results["cs7150"] == str(REPO / "cs7150")  # this checkout's package, put on sys.path by the script
    train = results["train"]
    assert train["train_images"] == 512 and len(train["runs"]) == 1
    history = train["runs"][0]["history"]
    assert [row["epoch"] for row in history] == [1] and history[0]["cumulative_seconds"] > 0
    assert not train["runs"][0]["amp"] and not train["runs"][0]["channels_last"]  # CUDA only
    engines = [(row["engine"], row["device"]) for row in results["per_batch"]["rows"]]
    assert engines == [("numpy twin", "cpu"), ("pytorch", "cpu")]
    assert all(row["seconds_per_batch"] > 0 for row in results["per_batch"]["rows"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a CUDA machine the tests run instead of being skipped")
def test_cuda_tests_are_collected_and_skipped_without_cuda(cpu_check):
    tests = cpu_check[2]["tests"]
    assert tests["status"] == "skipped: no CUDA"
    assert tests["tests"] == tests["skipped"] > 0 and tests["returncode"] == 0


def test_table_lists_every_step(cpu_check):
    out = cpu_check[0]
    table = (out / "gpu_check.md").read_text()
    assert table.splitlines()[0].startswith("gpu-check, ") and "(cpu-tiny)" in table.splitlines()[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith(("| step", "| ---"))]
    assert [row.split(" | ")[0] for row in rows] == ["| tests", "| train", "| per batch", "| per batch"]
    assert "n/a (tiny sizes)" in table
    assert sorted(p.name for p in out.iterdir()) == ["cuda_tests.xml", "gpu_check.json", "gpu_check.md"]
