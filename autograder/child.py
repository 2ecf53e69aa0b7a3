"""The per-submission runner: calls a student's functions on the grader's inputs.

Started by the grader as ``python -I -S child.py PLAN.json`` with the working
directory set to the submission's sandbox, resource limits already applied and
a scrubbed environment. It uses only the standard library and NumPy, and
imports nothing of the grader.

For each case of the plan, in order, it imports the student's module from the
sandbox, calls the function (for a backward pass: first the student's forward
pass, for its cache) under a per-case time limit, and writes

- ``<results>/<case id>.npz``: the returned arrays (plain float ndarrays only),
- one JSON line in ``<results>/status.jsonl``: ``ok`` / ``exception`` (type,
  message, student frame) / ``timeout`` / ``bad_output``, the seconds taken and
  the watched modules (``torch``, ``cs7150.*``) that importing the student's
  module and, separately, calling its functions imported.

Nothing here decides a score: the grader re-reads the arrays with
``allow_pickle=False`` and compares them with its own reference outputs, so
whatever the student's code writes into these files cannot raise a score.
"""
import importlib
import json
import os
import signal
import sys
import time
import traceback

WATCHED_MODULES = ("torch",)  # top-level packages whose import is reported (not their submodules)
WATCHED_PREFIX = "cs7150."
MESSAGE_LIMIT = 600


class CaseTimeout(BaseException):
    """Raised by the interval timer when a case runs past its time limit."""


class ForwardFailed(Exception):
    """The student's forward pass failed, so its backward pass has no cache to run on."""


def _on_alarm(signum, frame):
    raise CaseTimeout()


def _student_frame(tb, sandbox):
    """``"cs7150/conv.py:123 in conv_forward_naive"`` for the deepest frame in the sandbox."""
    where = None
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith(sandbox):
            where = f"{os.path.relpath(frame.filename, sandbox)}:{frame.lineno} in {frame.name}"
    return where


def _describe(error, sandbox):
    text = str(error)
    return {
        "type": type(error).__name__,
        "message": text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + "...",
        "where": _student_frame(error.__traceback__, sandbox),
    }


def _arguments(spec, inputs, call, cache=None):
    """Build positional arguments: ["array", name] from the inputs, ["param", key], ["cache", _]."""
    values = []
    for kind, name in spec:
        if kind == "array":
            values.append(inputs[f"{call['id']}__{name}"])  # a fresh copy from the .npz each time
        elif kind == "param":
            values.append(json.loads(json.dumps(call["params"][name])))  # a fresh dict
        else:
            values.append(cache)
    return values


def _watched(modules):
    return sorted(m for m in modules if m in WATCHED_MODULES or m.startswith(WATCHED_PREFIX))


def _call(call, inputs, sandbox, record):
    before = set(sys.modules)
    module = importlib.import_module(call["module"])
    record["import_modules"] = _watched(set(sys.modules) - before)
    before = set(sys.modules)
    try:
        return _call_functions(module, call, inputs, sandbox, record)
    finally:
        record["call_modules"] = _watched(set(sys.modules) - before)


def _call_functions(module, call, inputs, sandbox, record):
    cache = None
    if "forward" in call:
        try:
            forward_result = getattr(module, call["forward"])(*_arguments(call["forward_args"], inputs, call))
            cache = forward_result[1]
        except Exception as error:
            record["forward_error"] = _describe(error, sandbox)
            if "fallback_cache" not in call:
                raise ForwardFailed(f"{call['forward']} failed, so there is no cache to call "
                                    f"{call['function']} with") from None
            cache = tuple(_arguments(call["fallback_cache"], inputs, call))
    return getattr(module, call["function"])(*_arguments(call["args"], inputs, call, cache))


def _outputs(call, result, np):
    """The returned arrays by output name, or a message saying what is wrong with them."""
    names = call["outputs"]
    if "forward" not in call:  # a forward pass returns (out, cache)
        if not (isinstance(result, tuple) and len(result) == 2):
            return None, f"{call['function']} must return a tuple (out, cache), got {type(result).__name__}"
        values = [result[0]]
    elif len(names) == 1:
        values = [result]
    else:
        if not (isinstance(result, tuple) and len(result) == len(names)):
            return None, f"{call['function']} must return a tuple ({', '.join(names)}), got {type(result).__name__}"
        values = list(result)
    arrays = {}
    for name, value in zip(names, values):
        if type(value) is not np.ndarray:
            return None, f"{name} is a {type(value).__module__}.{type(value).__name__}, not a numpy.ndarray"
        if value.dtype.kind != "f":
            return None, f"{name} has dtype {value.dtype}, expected a float dtype"
        arrays[name] = np.ascontiguousarray(value)
    return arrays, None


def run_case(call, inputs, plan, np):
    sandbox, results = plan["sandbox"], plan["results"]
    record = {"id": call["id"], "status": "ok"}
    start = time.perf_counter()
    result = None
    signal.setitimer(signal.ITIMER_REAL, plan["case_timeout"])
    try:
        result = _call(call, inputs, sandbox, record)
    except CaseTimeout:
        record["status"] = "timeout"
    except BaseException as error:  # SystemExit and KeyboardInterrupt too: one case, not the run
        record.update(status="exception", **_describe(error, sandbox))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    record["seconds"] = round(time.perf_counter() - start, 3)
    if record["status"] == "ok":
        arrays, problem = _outputs(call, result, np)
        if problem:
            record.update(status="bad_output", message=problem)
        else:
            try:
                np.savez(os.path.join(results, call["id"] + ".npz"), **arrays)
            except Exception as error:  # e.g. past the file size limit
                record.update(status="bad_output", message=f"could not save the outputs: {error}")
    return record


def main(plan_path):
    with open(plan_path) as file:
        plan = json.load(file)
    sys.path[:0] = [plan["sandbox"]]
    sys.path.extend(plan["site_packages"])
    import numpy as np

    signal.signal(signal.SIGALRM, _on_alarm)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the size limit a write fails instead of killing us
    inputs = np.load(plan["inputs"], allow_pickle=False)
    with open(os.path.join(plan["results"], "status.jsonl"), "a", buffering=1) as status:
        for call in plan["cases"]:
            status.write(json.dumps(run_case(call, inputs, plan, np)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
