"""Timing a student can trust: the median of several calls, libraries timed in alternating blocks.

``median_times`` times callables in turns; ``block_median_times`` (and
``block_times``, every call's seconds for a spread) compares
libraries (NumPy against PyTorch) one library's block at a time, blocks
alternating, so that a slow spell of a shared machine hits every side of a
ratio. ``same_threads`` gives NumPy's BLAS (through threadpoolctl) and
PyTorch the same number of threads for a comparison (``set_threads`` for
good), and ``machine_note``
says beside the figures how many threads each library used and how busy the
machine was. Used by the notebooks' timing cells and by the course's benchmarks.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time


def call_times(fns, repeats: int, warmup: int) -> list[list[float]]:
    """Seconds of every timed call of each callable, calls in turns: a list per callable (see ``median_times``)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, fn_times in zip(fns, times):
            start = time.perf_counter()
            fn()
            fn_times.append(time.perf_counter() - start)
    return times


def median_times(fns, repeats: int = 5, warmup: int = 1) -> list[float]:
    """Median wall-clock time of each callable in seconds, timed in turns.

    The calls interleave (``fns[0]``, ``fns[1]``, ..., then again), so a
    forward pass and the backward pass that consumes its graph or cache can be
    timed together. Give it the passes of ONE library at a time: after a
    PyTorch call its OpenMP workers keep spinning on the cores for a while and
    slow whatever runs next, so interleaving NumPy with PyTorch calls makes
    PyTorch look about 2x slower on a 2-core machine (measured on conv2,
    float32, forward+backward). ``block_median_times`` compares libraries.

    Args:
        fns: sequence of callables with no arguments.
        repeats: int >= 1, timed calls of each.
        warmup: int >= 0, untimed calls of each first (caches, allocator, thread pools).
    Returns:
        list of floats, seconds, one per callable (``time.perf_counter``).
    Raises:
        ValueError: ``repeats < 1`` or ``warmup < 0``.
    """
    return [statistics.median(fn_times) for fn_times in call_times(fns, repeats, warmup)]


def block_median_times(groups, repeats: int = 5, rounds: int = 3) -> list[list[float]]:
    """Median times of several libraries' callables, one library's block at a time, blocks alternating.

    Each round times every group in turn as ``median_times`` does (one
    untimed warm-up call of each, then ``repeats`` timed calls in turns); the
    median is taken over all rounds. Alternating the blocks spreads a slow
    spell of a shared machine over every library instead of charging it to
    whichever block it fell in (conv timings on the 2-core course machine
    drift by 20% or more from one second to the next).

    Args:
        groups: sequence of sequences of callables, one sequence per library.
        repeats: int >= 1, timed calls of each callable per round.
        rounds: int >= 1, blocks per group.
    Returns:
        list (per group) of lists (per callable) of median seconds.
    Raises:
        ValueError: ``repeats < 1`` or ``rounds < 1``.
    """
    return [[statistics.median(fn_samples) for fn_samples in group_samples]
            for group_samples in block_times(groups, repeats, rounds)]


def block_times(groups, repeats: int = 5, rounds: int = 3) -> list[list[list[float]]]:
    """Every timed call of ``block_median_times``: seconds per group, per callable, ``repeats * rounds`` of them.

    For a spread beside the median (quartiles, range): the arguments and errors are ``block_median_times``'.
    """
    if rounds < 1:
        raise ValueError(f"need rounds >= 1, got rounds={rounds}")
    samples = [[[] for _ in fns] for fns in groups]
    for _ in range(rounds):
        for fns, group_samples in zip(groups, samples):
            for fn_samples, times in zip(group_samples, call_times(fns, repeats, warmup=1)):
                fn_samples.extend(times)
    return samples


def median_time(fn, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock time of ``fn()`` in seconds; see ``median_times`` for the arguments and errors."""
    return median_times([fn], repeats, warmup)[0]


def _torch():
    """PyTorch if it can be imported, else None (imported here, when a timing needs it, never at import time)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


@contextlib.contextmanager
def same_threads(threads: int = 1):
    """Inside the block, NumPy's BLAS and OpenMP pools and PyTorch's intra-op pool use ``threads`` threads each.

    NumPy's libraries are limited with ``threadpoolctl.threadpool_limits``,
    PyTorch with ``torch.set_num_threads`` (PyTorch is imported here, and
    skipped where it is not installed); both are restored when the block ends,
    also after an error.

    Args:
        threads: int >= 1, threads per library.
    Yields:
        None.
    Raises:
        ValueError: ``threads`` is not an int >= 1.
    """
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    from threadpoolctl import threadpool_limits

    torch = _torch()
    torch_threads = torch.get_num_threads() if torch else None
    with threadpool_limits(limits=threads):
        if torch:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(torch_threads)


def set_threads(threads: int) -> None:
    """From now on NumPy's BLAS and OpenMP pools and PyTorch's intra-op pool use ``threads`` threads each.

    ``same_threads`` without the restoring: for a notebook on a busy machine, where threads that must share the
    cores spend their time waiting for each other. Raises ValueError: ``threads`` is not an int >= 1.
    """
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    torch = _torch()
    if torch:
        torch.set_num_threads(threads)


def thread_counts() -> dict:
    """How many threads each library would use now: ``{"NumPy BLAS (openblas)": 1, "PyTorch": 1, ...}``.

    NumPy's BLAS (and any OpenMP runtime loaded) as ``threadpoolctl`` reports
    them; PyTorch's intra-op threads if PyTorch is already imported (this
    function does not import it).
    """
    from threadpoolctl import threadpool_info

    counts = {}
    for pool in threadpool_info():
        label = f"NumPy BLAS ({pool['internal_api']})" if pool["user_api"] == "blas" else f"OpenMP ({pool['prefix']})"
        counts[label] = pool["num_threads"]
    if "torch" in sys.modules:
        counts["PyTorch"] = sys.modules["torch"].get_num_threads()
    return counts


def load_average() -> float | None:
    """The machine's load over the last minute (runnable processes, ``os.getloadavg``), or None where the
    system does not report it (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def machine_note() -> str:
    """One line for beside a timing table: threads per library, the load, the cores, and a warning when busy.

    For example ``threads: NumPy BLAS (openblas) 1, PyTorch 1; load 5.3 on 2 cores (busy: other programs
    shared the cores, so these times are longer than on a quiet machine and ratios may differ)``.
    """
    threads = ", ".join(f"{name} {count}" for name, count in thread_counts().items()) or "no thread pools found"
    cores = os.cpu_count() or 1
    load = load_average()
    if load is None:
        return f"threads: {threads}; {cores} cores (this system does not report its load)"
    busy = (" (busy: other programs shared the cores, so these times are longer than on a quiet machine and "
            "ratios may differ)") if load > cores else ""
    return f"threads: {threads}; load {load:.1f} on {cores} cores{busy}"
