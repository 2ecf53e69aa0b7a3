"""The package grader's assignment-2 kinds end to end (dense layers, softmax loss, the NumPy twin, batch norm):

The forward kinds grade ``out`` and the running statistics the call leaves in ``bn_param`` (the grader passes
them in as arrays); the backward kinds grade ``dx``, ``dgamma``, ``dbeta`` after the student's own forward pass.
"""
import json

import numpy as np
import pytest

from autograder import autograde, config
from autograder.kinds import twin
from autograder.package import cases
from coursetools.samples import samples_for, write_samples
from cs7150.numpy_lenet import NumpyLeNet5

LIMITS = autograde.Limits(wall_s=10, case_s=4)
SAMPLES = {sample.name: sample for sample in samples_for("assignment2")}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("autograde2")
    subs, out = root / "submissions", root / "out"
    write_samples("assignment2", subs)
    results = autograde.autograde(autograde.ClassRun("assignment2", subs, out, jobs=2, limits=LIMITS, progress=False, log=lambda _: None))
    return {"out": out, "results": {r.student_id: r for r in results}}


def _feedback(graded, student: str) -> str:
    return (graded["out"] / "students" / student / "feedback.txt").read_text()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_batchnorm_samples_score_exactly_as_expected(graded, name):
    result = graded["results"][name]
    assert result.max_score == 47
    assert result.score == SAMPLES[name].expected, _feedback(graded, name)
    for function, text in SAMPLES[name].diagnoses.items():
        assert text in _feedback(graded, name), f"{function}: expected the diagnosis {text!r}"


def test_forward_cases_grade_the_running_statistics_the_call_leaves():
    assignment = config.load("assignment2")
    prepared = [pc for pc in cases.prepare(assignment) if pc.part.function == "batchnorm_forward"]
    train = next(pc for pc in prepared if pc.case.params["mode"] == "train")
    test = next(pc for pc in prepared if pc.case.params["mode"] == "test")
    assert set(train.reference) == {"out", "running_mean", "running_var"}
    assert not np.allclose(train.reference["running_mean"], train.inputs["running_mean"]), "train mode moves them"
    assert np.array_equal(test.reference["running_var"], test.inputs["running_var"]), "test mode leaves them"
    call = train.call()
    assert call["args"][-1][0] == "param_arrays" and call["param_outputs"]["running_var"] == ["bn_param", "running_var"]


def test_a_bn_case_with_a_bad_bn_param_is_a_config_error(tmp_path):
    (tmp_path / "a.json").write_text('{"student_files": ["cs7150/batchnorm.py"], "parts": [{"function": '
                                     '"batchnorm_forward", "kind": "batchnorm_forward", "cases": [{"x": [4, 3], '
                                     '"bn_param": {"mode": "train", "running_mean": [0, 0, 0]}, "points": 1}]}]}')
    with pytest.raises(config.ConfigError, match="'bn_param' must be an object with 'mode'"):
        config.load("a", config_dir=tmp_path)


@pytest.mark.parametrize("options, words", [({"pool": "median"}, "'options' must be"), ({"padding": 1}, "'options' must be"),
                                            ({"seed": 3}, "'options' must be")])
def test_a_twin_case_with_a_bad_option_is_a_config_error(tmp_path, options, words):
    (tmp_path / "a.json").write_text(json.dumps({"student_files": ["cs7150/numpy_lenet.py"], "parts": [
        {"function": "NumpyLeNet5.forward", "kind": "twin_forward",
         "cases": [{"x": [2, 1, 28, 28], "options": options, "points": 1}]}]}))
    with pytest.raises(config.ConfigError, match=words):
        config.load("a", config_dir=tmp_path)


def test_twin_cases_grade_the_graders_weights_and_every_gradient():
    prepared = [pc for pc in cases.prepare(config.load("assignment2")) if pc.part.kind.startswith("twin")]
    grads = next(pc for pc in prepared if pc.part.kind == "twin_grads")
    assert set(grads.reference) == {"logits", "loss", *(f"grads[{name}]" for name in twin.PARAMS)}
    assert grads.reference["loss"].shape == ()
    call = grads.call()
    assert call["construct"]["dtype"] == grads.case.dtype and set(call["fill"]["params"]) == set(twin.PARAMS)
    seeded = twin.reference_twin(grads.case, {**grads.inputs, **NumpyLeNet5(dtype=grads.case.dtype).params})
    assert not np.allclose(seeded.forward(grads.inputs["x"]), grads.reference["logits"]), "the weights are the grader's"
