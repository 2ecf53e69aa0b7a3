"""Inputs and reference outputs of the grading cases, computed in the grader's process.

Every case's inputs are drawn from a seed derived from the assignment, the
function and the case's index, so reruns see the same numbers. The reference
outputs come from the instructor's ``cs7150.layers``; student code never runs
here.
"""
from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import numpy as np

from autograder.config import Assignment, Case, Part
from autograder.kinds import KINDS, Kind
from autograder.kinds.kind import reference_function


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

    @property
    def kind(self) -> Kind:
        return KINDS[self.part.kind]

    def call(self) -> dict:
        """The JSON description of the call the runner makes (see ``autograder/sandbox/runner.py``)."""
        kind = self.kind
        forward_args = [["array", name] for name in kind.arrays]
        if self.params_name:
            forward_args.append(["param", self.params_name])
        call = {
            "id": self.id,
            "module": self.part.file[:-3].replace("/", "."),
            "function": self.part.function,
            "params": {self.params_name: self.case.params} if self.params_name else {},
            "outputs": list(self.part.outputs),
        }
        if kind.param_arrays:  # the parameter dict carries arrays (batch norm's running statistics)
            forward_args[-1] = ["param_arrays", self.params_name, {name: name for name in kind.param_arrays}]
            if not self.part.is_backward:
                call["param_outputs"] = {name: [self.params_name, name] for name in kind.param_arrays}
        if kind.extend_call:
            kind.extend_call(self, call)
        if self.part.is_backward:
            call.update(forward=self.part.forward, forward_args=forward_args, args=[["array", "dout"], ["cache", None]])
            if self.part.cache:
                call["fallback_cache"] = [["param", n] if n == self.params_name else ["array", n] for n in self.part.cache]
        else:
            call["args"] = forward_args
        return call

    def describe(self) -> str:
        """Input shapes and parameters, for feedback."""
        hidden = self.kind.param_arrays + self.kind.hidden_inputs
        shapes = ", ".join(f"{name} {tuple(array.shape)}" for name, array in self.inputs.items() if name not in hidden)
        params = f", {self.params_name} {self.case.params}" if self.params_name else ""
        return f"{self.kind.describe(self, shapes)}{params}, {self.case.dtype}"


def forward_arguments(part: Part, case: Case, inputs: dict) -> tuple[list, dict]:
    """The reference forward pass's positional arguments for these inputs, and the parameter dict among them
    (for batch norm a fresh ``bn_param`` holding copies of the running statistics, which the call updates)."""
    kind = KINDS[part.kind]
    params = dict(case.params)
    params.update({name: inputs[name].copy() for name in kind.param_arrays})
    arrays = [inputs[name] for name in kind.arrays]
    return (arrays + [params] if case.params_name else arrays), params


def _seed(assignment: str, function: str, index: int) -> int:
    return zlib.crc32(f"{assignment}/{function}/{index}".encode())


def make_inputs(assignment: str, part: Part, index: int) -> dict:
    """Deterministic inputs of ``part.cases[index]`` (with ``dout`` for a backward pass)."""
    case = part.cases[index]
    rng = np.random.default_rng(_seed(assignment, part.function, index))
    dtype = np.dtype(case.dtype)
    inputs = KINDS[part.kind].draw(rng, case.spec)
    inputs = {name: array if name == "y" else array.astype(dtype) for name, array in inputs.items()}
    if part.is_backward:
        out, _ = reference_function(part.forward)(*forward_arguments(part, case, inputs)[0])
        inputs["dout"] = rng.standard_normal(out.shape).astype(dtype)
    return inputs


def reference_outputs(part: Part, case: Case, inputs: dict) -> dict:
    """The instructor package's outputs for these inputs, by output name."""
    kind = KINDS[part.kind]
    if kind.reference:
        return kind.reference(part, case, inputs)
    arguments, params = forward_arguments(part, case, inputs)
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
