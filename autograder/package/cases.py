"""Inputs and reference outputs of the grading cases, computed in the grader's process.

Every case's inputs are drawn from a seed derived from the assignment, the
function and the case's index, so reruns see the same numbers. The reference
outputs come from the instructor's ``cs7150.layers``; student code never runs
here.
"""
from __future__ import annotations

import importlib
import io
import zlib
from dataclasses import dataclass

import numpy as np

from autograder.config import SCALAR_OUTPUTS, TWIN_PARAMS, Assignment, Case, Part
from cs7150.oracle import tie_free


@dataclass
class PreparedCase:
    """A case ready to run: its id, inputs, call description and reference outputs."""

    id: str  # "p03c01": part 3, case 1; also the name of its output files
    part: Part
    case: Case
    inputs: dict  # name -> array ("x", "w", "b", "dout")
    reference: dict  # output name -> array

    @property
    def params_name(self) -> str:
        return self.case.params_name

    def call(self) -> dict:
        """The JSON description of the call the child makes (see ``autograder/sandbox/runner.py``)."""
        family = _family(self.part.kind)
        params = {self.params_name: self.case.params} if self.params_name else {}
        forward_args = [["array", name] for name in _ARRAY_NAMES[family]]
        if self.params_name:
            forward_args.append(["param", self.params_name])
        call = {
            "id": self.id,
            "module": self.part.file[:-3].replace("/", "."),
            "function": self.part.function,
            "params": params,
            "outputs": list(self.part.outputs),
        }
        if family == "batchnorm":  # bn_param carries the running statistics, as arrays
            forward_args[-1] = ["param_arrays", "bn_param", {name: name for name in RUNNING}]
            if not self.part.is_backward:
                call["param_outputs"] = {name: ["bn_param", name] for name in RUNNING}
        if _is_twin(self.part.kind):  # a method of NumpyLeNet5(**options), its params set to the grader's arrays
            call["construct"] = {**self.case.spec.get("options", {}), "dtype": self.case.dtype}
            call["fill"] = {"params": {name: name for name in TWIN_PARAMS}}
        if self.part.kind in ("softmax_loss", "twin_grads"):  # returns a tuple of every output, none of them a cache
            call["returns"] = "outputs"
            call["scalars"] = {name: self.case.dtype for name in SCALAR_OUTPUTS if name in self.part.outputs}
            if self.part.kind == "twin_grads":
                call["returned"] = ["logits", "loss", {f"grads[{name}]": name for name in TWIN_PARAMS}]
        elif family == "twin":
            call["returns"] = "outputs"
        if self.part.is_backward:
            call.update(forward=self.part.forward, forward_args=forward_args, args=[["array", "dout"], ["cache", None]])
            if self.part.cache:
                call["fallback_cache"] = [["param", n] if n == self.params_name else ["array", n] for n in self.part.cache]
        else:
            call["args"] = forward_args
        return call

    def describe(self) -> str:
        """Input shapes and parameters, for feedback."""
        shapes = ", ".join(f"{name} {tuple(array.shape)}" for name, array in self.inputs.items()
                           if name not in RUNNING and name not in TWIN_PARAMS)
        if _is_twin(self.part.kind):
            shapes = f"NumpyLeNet5(**{self.case.spec.get('options', {})}) with the grader's weights, {shapes}"
        if "scale" in self.case.spec:
            shapes += f" (scores of size {self.case.spec['scale']:g})"
        params = f", {self.params_name} {self.case.params}" if self.params_name else ""
        return f"{shapes}{params}, {self.case.dtype}"


RUNNING = ("running_mean", "running_var")
_ARRAY_NAMES = {"conv": ["x", "w", "b"], "pool": ["x"], "batchnorm": ["x", "gamma", "beta"], "affine": ["x", "w", "b"],
                "relu": ["x"], "softmax": ["x", "y"], "twin": ["x"], "twin_grads": ["x", "y"]}


def _family(kind: str) -> str:
    """Which inputs a kind's functions take: a key of ``_ARRAY_NAMES``."""
    if kind.startswith(("conv", "affine", "relu", "softmax")):
        return kind.split("_")[0]
    if kind.startswith("twin"):
        return "twin_grads" if kind == "twin_grads" else "twin"
    return "batchnorm" if "batchnorm" in kind else "pool"


def _is_twin(kind: str) -> bool:
    return kind.startswith("twin")


def forward_arguments(part: Part, case: Case, inputs: dict) -> tuple[list, dict]:
    """The reference forward pass's positional arguments for these inputs, and the parameter dict among them
    (for batch norm a fresh ``bn_param`` holding copies of the running statistics, which the call updates)."""
    params = dict(case.params)
    if _family(part.kind) == "batchnorm":
        params.update({name: inputs[name].copy() for name in RUNNING})
    arrays = [inputs[name] for name in _ARRAY_NAMES[_family(part.kind)]]
    return (arrays + [params] if case.params_name else arrays), params


def reference_function(name: str):
    """The instructor's implementation of ``name`` from ``cs7150.layers``."""
    return getattr(importlib.import_module("cs7150.layers"), name)


def reference_twin(case: Case, inputs: dict):
    """The instructor's ``NumpyLeNet5(**options)`` in the case's dtype, holding the case's weights."""
    from cs7150.numpy_lenet import NumpyLeNet5

    twin = NumpyLeNet5(dtype=np.dtype(case.dtype), **case.spec.get("options", {}))
    twin.params.update({name: inputs[name].copy() for name in TWIN_PARAMS})
    return twin


def _seed(assignment: str, function: str, index: int) -> int:
    return zlib.crc32(f"{assignment}/{function}/{index}".encode())


def _pool_input(rng, shape, ties: bool) -> np.ndarray:
    """Distinct values (``cs7150.oracle.tie_free``) unless ``ties``, then values from {0, 1, 2} (many ties)."""
    if ties:
        return rng.integers(0, 3, size=shape).astype(np.float64)
    return tie_free(rng, shape)


def make_inputs(assignment: str, part: Part, index: int) -> dict:
    """Deterministic inputs of ``part.cases[index]`` (without ``dout``)."""
    case = part.cases[index]
    rng = np.random.default_rng(_seed(assignment, part.function, index))
    dtype = np.dtype(case.dtype)
    if part.kind.startswith("conv"):
        x = rng.standard_normal(case.spec["x"])
        w = rng.standard_normal(case.spec["w"])
        b = rng.standard_normal(case.spec["w"][0])
        inputs = {"x": x, "w": w, "b": b}
    elif part.kind.startswith("affine"):
        x = rng.standard_normal(case.spec["x"])
        inputs = {"x": x, "w": rng.standard_normal(case.spec["w"]), "b": rng.standard_normal(case.spec["w"][1])}
    elif part.kind.startswith("relu"):
        x = rng.standard_normal(case.spec["x"])
        if case.spec.get("zeros", False):  # x = 0 exactly at every third element: the gradient there is 0
            x.reshape(-1)[::3] = 0.0
        inputs = {"x": x}
    elif part.kind == "softmax_loss":
        N, C = case.spec["x"]
        inputs = {"x": case.spec.get("scale", 1.0) * rng.standard_normal((N, C)), "y": rng.integers(0, C, N)}
    elif _is_twin(part.kind):
        options = case.spec.get("options", {})
        from cs7150.numpy_lenet import NumpyLeNet5

        weights = NumpyLeNet5(dtype=np.float64, seed=int(rng.integers(2**31)), **options).params  # PyTorch's init
        inputs = {"x": rng.standard_normal(case.spec["x"]), **weights}
        if part.kind == "twin_grads":
            inputs["y"] = rng.integers(0, options.get("num_classes", 10), case.spec["x"][0])
    elif _family(part.kind) == "batchnorm":
        features = case.spec["x"][1]  # D, or the channels C
        inputs = {"x": 2 * rng.standard_normal(case.spec["x"]) + rng.uniform(-1, 1),
                  "gamma": rng.standard_normal(features), "beta": rng.standard_normal(features),
                  "running_mean": rng.standard_normal(features), "running_var": rng.uniform(0.5, 2, features)}
    else:
        inputs = {"x": _pool_input(rng, case.spec["x"], case.spec.get("ties", False))}
    inputs = {name: array if name == "y" else array.astype(dtype) for name, array in inputs.items()}
    if part.is_backward:
        out, _ = reference_function(part.forward)(*forward_arguments(part, case, inputs)[0])
        inputs["dout"] = rng.standard_normal(out.shape).astype(dtype)
    return inputs


def reference_outputs(part: Part, case: Case, inputs: dict) -> dict:
    """The instructor package's outputs for these inputs, by output name."""
    if _is_twin(part.kind):
        twin = reference_twin(case, inputs)
        if part.kind == "twin_forward":
            return {"logits": twin.forward(inputs["x"])}
        logits, loss, grads = twin.logits_loss_and_grads(inputs["x"], inputs["y"])
        return {"logits": logits, "loss": np.asarray(loss, dtype=case.dtype),
                **{f"grads[{name}]": grads[name] for name in TWIN_PARAMS}}
    arguments, params = forward_arguments(part, case, inputs)
    if part.kind == "softmax_loss":
        loss, dx = reference_function(part.function)(*arguments)
        return {"loss": np.asarray(loss, dtype=case.dtype), "dx": dx}
    if not part.is_backward:
        out, _ = reference_function(part.function)(*arguments)
        return {"out": out, **{name: params[name] for name in part.outputs[1:]}}
    _, cache = reference_function(part.forward)(*arguments)
    grads = reference_function(part.function)(inputs["dout"], cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return dict(zip(part.outputs, grads))


def prepare(assignment: Assignment) -> list[PreparedCase]:
    """Every case of every part, with inputs and reference outputs."""
    prepared = []
    for p, part in enumerate(assignment.parts):
        for c, case in enumerate(part.cases):
            inputs = make_inputs(assignment.name, part, c)
            prepared.append(PreparedCase(f"p{p:02d}c{c:02d}", part, case, inputs, reference_outputs(part, case, inputs)))
    return prepared


def inputs_by_function(prepared: list[PreparedCase]) -> dict[str, bytes]:
    """Each graded function's inputs as the bytes of one ``.npz`` (keys ``<case id>__<name>``), by function
    name: a plan hands the runner one function's inputs at a time (``autograder.autograde``)."""
    arrays: dict[str, dict] = {}
    for p in prepared:
        arrays.setdefault(p.part.function, {}).update({f"{p.id}__{name}": a for name, a in p.inputs.items()})
    blobs = {}
    for function, named in arrays.items():
        buffer = io.BytesIO()
        np.savez(buffer, **named)
        blobs[function] = buffer.getvalue()
    return blobs
