"""cs7150.stopwatch's thread control and the note printed beside timing tables."""
from __future__ import annotations

import os

import numpy as np  # noqa: F401  (loads NumPy's BLAS, whose threads are controlled)
import pytest
import torch
from threadpoolctl import threadpool_info

from cs7150 import stopwatch


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_same_threads_limits_both_libraries_and_restores_them():
    before_blas, before_torch = blas_threads(), torch.get_num_threads()
    assert before_blas, "NumPy's BLAS is not visible to threadpoolctl"
    with stopwatch.same_threads(1):
        assert blas_threads() == [1] * len(before_blas)
        assert torch.get_num_threads() == 1
        counts = stopwatch.thread_counts()
        assert counts["PyTorch"] == 1 and all(n == 1 for n in counts.values()), counts
    assert blas_threads() == before_blas and torch.get_num_threads() == before_torch


def test_same_threads_restores_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="inside"):
        with stopwatch.same_threads(1):
            raise RuntimeError("inside")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_same_threads_rejects_a_bad_count(threads):
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        with stopwatch.same_threads(threads):
            pass


def test_machine_note_names_threads_load_and_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.7, 0.5, 0.4))
    with stopwatch.same_threads(1):
        quiet = stopwatch.machine_note()
    assert "PyTorch 1" in quiet and "NumPy BLAS" in quiet and "load 0.7 on 2 cores" in quiet, quiet
    assert "busy" not in quiet
    monkeypatch.setattr(os, "getloadavg", lambda: (5.3, 4.0, 2.0))
    assert "load 5.3 on 2 cores (busy" in stopwatch.machine_note()


def test_machine_note_without_a_load_average(monkeypatch):
    monkeypatch.delattr(os, "getloadavg")
    assert stopwatch.load_average() is None
    assert "does not report its load" in stopwatch.machine_note()


def test_set_threads_keeps_the_limit_until_set_again():
    before_blas, before_torch = blas_threads(), torch.get_num_threads()
    try:
        stopwatch.set_threads(1)
        assert blas_threads() == [1] * len(before_blas) and torch.get_num_threads() == 1
    finally:
        stopwatch.set_threads(max(before_blas))
        torch.set_num_threads(before_torch)
    assert blas_threads() == before_blas
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        stopwatch.set_threads(0)
