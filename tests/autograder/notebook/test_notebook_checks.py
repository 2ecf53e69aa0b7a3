"""Test cells run in nbgrader's process (``autograder.notebook.executor``): what crosses from the kernel, and attacks.

The fast tests check the pieces: which names a test cell takes from the student, the hidden lines, the
decoding of what a kernel sends back (plain data only, headers checked before any allocation), the exceptions.
The slow tests run nbgrader's own commands (``generate_assignment``, ``autograde``) on a copy of the course
root whose ``nbgrader_config.py`` loads the repository's, as an instructor would: an honest submission scores
every notebook point; one whose added cells redefine the helpers, rebind the functions under test, install input
transformers and exception handlers, or patch NumPy loses exactly the points of its wrong answers; code that
looks for the hidden tests in the kernel's folder, its history and its frames finds none; a submission without
its ``cs7150/`` folder fails its setup cell with a message saying so.
"""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import config
from autograder.notebook import evidence
from autograder.notebook import executor as nc
from autograder.notebook import wire

REPO = Path(__file__).resolve().parents[3]
COURSE = REPO / "assignments"
ASSIGNMENT = "assignment1"
NOTEBOOK = "conv_pool.ipynb"


def test_free_names_are_what_a_cell_reads_and_never_binds():
    source = ("import io\nrows = [r for r in table]\ndef check(x, seed):\n    return compose_convs(x) + seed\n"
              "try:\n    output_size(1)\nexcept ValueError as error:\n    print(error, io)\n")
    assert nc.free_names(source) == {"table", "compose_convs", "output_size"}


def test_hidden_lines_are_numbered_as_nbgrader_delimits_them():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nb = 2\nc = 3\n### END HIDDEN TESTS\nd = 4\n"
    assert nc.hidden_line_numbers(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS") == {3, 4}


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_arrays_come_back_as_numbers_only():
    array = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(wire.decode(("\x00cs7150:ndarray", base64.b64encode(_npy(array)).decode())), array)
    with pytest.raises(ValueError):
        wire.decode(("\x00cs7150:ndarray", _npy(array)))  # arrays travel as base64 text (about 1.3x, not 3x as repr)
    with pytest.raises(ValueError):
        wire.read_npy(_npy(np.array([object()], dtype=object)))  # a pickle inside: never loaded
    forged = _npy(np.zeros(2)).replace(b"(2,)", b"(9999999999,)".ljust(4))  # a header claiming 80 GB
    with pytest.raises(ValueError):
        wire.read_npy(forged)


def test_values_keep_their_shape_and_objects_stay_opaque():
    encoded = ("\x00cs7150:dict", [((32, 5, 0, 1, 1), 28), ("k", ("\x00cs7150:tuple", [1, ("\x00cs7150:float", "nan")]))])
    decoded = wire.decode(encoded)
    assert decoded[(32, 5, 0, 1, 1)] == 28 and decoded["k"][0] == 1 and np.isnan(decoded["k"][1])
    opaque = wire.decode(("\x00cs7150:object", "AlwaysEqual"))
    assert isinstance(opaque, wire.StudentObject) and opaque != 1 and "AlwaysEqual" in repr(opaque)


def test_a_kernels_exception_becomes_a_builtin_one():
    error = wire.student_exception(["MyError", "ValueError", "Exception", "BaseException", "object"], "too long")
    assert type(error) is ValueError and str(error) == "too long"
    assert type(wire.student_exception(["SystemExit", "BaseException", "object"], "bye")) is RuntimeError


def test_a_failure_after_a_hidden_line_shows_no_details():
    source = "print('visible')\nassert f(1) == 1\n### BEGIN HIDDEN TESTS\nprint('secret input 42')\nassert f(42) == 0, 'f(42) secret'\n### END HIDDEN TESTS\n"
    namespace = {"f": lambda v: v}
    outputs = nc.run_test_cell("t", source, namespace, nc.hidden_line_numbers(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"))
    text = json.dumps(outputs)
    assert "visible" in text and "42" not in text and "secret" not in text
    assert outputs[-1]["ename"] == nc.HIDDEN_ENAME and outputs[-1]["evalue"] == nc.HIDDEN_FAILURE


def test_which_exception_a_hidden_test_raised_is_not_shown():
    """A function that picks the exception it raises from a hidden input (a KeyError naming it, a class named after
    it) learns nothing from the verdict: every hidden failure has one name and one message."""
    source = "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(42) == 0\n### END HIDDEN TESTS\n"
    hidden = nc.hidden_line_numbers(source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

    def leaky(value):
        if value == 1:
            return 1
        raise type(f"Input{value}", (KeyError,), {})(f"input {value}")

    outputs = nc.run_test_cell("t", source, {"f": leaky}, hidden)
    assert "42" not in json.dumps(outputs) and "KeyError" not in json.dumps(outputs)
    assert (outputs[-1]["ename"], outputs[-1]["evalue"]) == (nc.HIDDEN_ENAME, nc.HIDDEN_FAILURE)


def test_helper_cells_never_hand_the_reference_package_to_a_test():
    namespace, package = nc.helper_namespace([("setup", "import numpy as np\nfrom cs7150.layers import conv_forward_naive\n"
                                                         "from cs7150 import conv\n%matplotlib inline\n")])
    assert "np" in namespace and {"conv_forward_naive", "conv"} <= package
    assert "conv_forward_naive" not in namespace and "conv" not in namespace


# ---------------------------------------------------------------------------------------------
# nbgrader's own commands on a course root (slow)

ATTACK_CELL = r'''
import sys, numpy, torch
from IPython import get_ipython

def assert_close(*args, **kwargs):  # the locked helpers, redefined to pass everything
    return None

def check_composition(*args, **kwargs):
    return None

def check_fc_to_conv(*args, **kwargs):
    return None

numpy.allclose = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
F = type("AnythingGoes", (), {"__getattr__": lambda self, name: (lambda *a, **k: torch.zeros(1, 1, 1, 1))})()
get_ipython().input_transformers_cleanup.append(lambda lines: [] if any("assert" in line for line in lines) else lines)
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
'''

SNOOP_CELL = r'''
import glob, sys
marker = "BEGIN " + "HIDDEN TESTS"
seen = []
for path in glob.glob("*.ipynb") + glob.glob("**/*.ipynb", recursive=True):
    seen.append(marker in open(path, encoding="utf-8").read())
seen.append(any(marker in cell for cell in In))
print("hidden tests found in the kernel:", any(seen), len(seen))

def fc_to_conv(W_fc, b_fc, input_shape):  # a correct answer that looks around while it is called
    frame, found = sys._getframe(), False
    while frame is not None:
        found = found or marker in repr(frame.f_code.co_consts) or marker in repr(frame.f_locals)
        frame = frame.f_back
    print("hidden tests found from a test's call:", found or any(marker in cell for cell in In))
    return W_fc.reshape(W_fc.shape[0], *input_shape), b_fc.copy()
'''


def _nbgrader(course: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    env.pop("NBGRADER_EXECUTION", None)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=600)


def _course(root: Path, assignment: str) -> Path:
    """A course root as an instructor has it: this repository's configuration, ``assignment`` generated."""
    shutil.copytree(COURSE / "source" / assignment, root / "source" / assignment)
    (root / "nbgrader_config.py").write_text(f"load_subconfig({str(COURSE / 'nbgrader_config.py')!r})\n")
    result = _nbgrader(root, "generate_assignment", assignment, "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return _course(tmp_path_factory.mktemp("course"), ASSIGNMENT)


@pytest.fixture(scope="module")
def course2(tmp_path_factory) -> Path:
    return _course(tmp_path_factory.mktemp("course2"), "assignment2")


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _submit(course: Path, student: str, edit=None, package: bool = True, assignment: str = ASSIGNMENT,
            notebook: str = NOTEBOOK) -> dict:
    """Autograde the reference notebook, changed by ``edit(nb)``; return grade_id -> (score, outputs)."""
    nb = nbformat.read(COURSE / "source" / assignment / notebook, as_version=4)
    if edit:
        edit(nb)
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / notebook)
    if package:
        shutil.copytree(REPO / "cs7150", folder / "cs7150", ignore=shutil.ignore_patterns("__pycache__"))
    for data in config.load(assignment).data:  # as the release ships it, next to the notebook
        shutil.copytree(REPO / data, folder / data)
    result = _nbgrader(course, "autograde", assignment, f"--student={student}", "--force")
    assert result.returncode == 0, result.stderr[-3000:]
    from nbgrader.api import Gradebook

    executed = nbformat.read(course / "autograded" / student / assignment / notebook, as_version=4)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        graded = gradebook.find_submission_notebook(Path(notebook).stem, assignment, student)
        scores = {grade.name: grade.auto_score for grade in graded.grades if grade.cell.cell_type == "code"}
    return {name: (score, _cell(executed, name).outputs) for name, score in scores.items()}, executed


def _wrong_answers(nb):
    """fc_to_conv (3 points) and compose_convs (4 points) answered wrongly."""
    _cell(nb, "fc_to_conv").source += "\n\ndef fc_to_conv(W_fc, b_fc, input_shape):\n    return W_fc, b_fc\n"
    _cell(nb, "compose_convs").source += "\n\ndef compose_convs(w1, b1, w2, b2):\n    return w1, b1\n"


def _with_slow_only(request, covered_by: str) -> None:
    """Skip unless ``-m slow`` selects the test: it repeats a notebook run that ``make test`` makes elsewhere."""
    expression = request.config.getoption("markexpr") or ""
    if "slow" not in expression or "not slow" in expression:
        pytest.skip(f"runs with -m slow; make test checks the same in {covered_by}")


@pytest.mark.slow
def test_honest_notebook_scores_every_notebook_point(course, request):
    _with_slow_only(request, "test_points.py (the reference earns every notebook point through the grader's "
                             "nbgrader) and test_added_cells_cannot_change_a_verdict (plain nbgrader: every test cell "
                             "but the two answered wrongly earns its points)")
    grades, executed = _submit(course, "honest")
    assert set(executed.metadata[evidence.RECORD]["tests"].values()) == {evidence.PASSED}
    assert {name: score for name, (score, _) in grades.items()} == {
        "test_output_size": 4, "test_output_size_table": 3, "test_receptive_field": 4, "test_counting": 3,
        "test_lenet_counts": 3, "test_compose_convs": 4, "test_fc_to_conv": 3}


@pytest.mark.slow
def test_added_cells_cannot_change_a_verdict(course):
    def edit(nb):
        _wrong_answers(nb)
        at = nb.cells.index(_cell(nb, "fc_to_conv")) + 1
        nb.cells.insert(at, nbformat.v4.new_code_cell(ATTACK_CELL))
        nb.cells.append(nbformat.v4.new_code_cell("fc_to_conv = compose_convs = lambda *args: (args[0], args[1])\n"
                                                  + ATTACK_CELL))

    grades, _ = _submit(course, "tamperer", edit)
    scores = {name: score for name, (score, _) in grades.items()}
    assert scores["test_fc_to_conv"] == 0 and scores["test_compose_convs"] == 0, scores
    assert sum(scores.values()) == 24 - 3 - 4


@pytest.mark.slow
def test_a_test_cell_the_kernel_never_reached_fails_saying_so(course, ending="import os\nos._exit(0)"):
    """The reference's answers, and a cell right after the setup cell that ends the kernel: no test cell ran in
    the grader, so none passes (nbgrader alone would score a test cell with no error output full marks)."""
    def edit(nb):
        nb.cells.insert(nb.cells.index(_cell(nb, "setup")) + 1, nbformat.v4.new_code_cell(ending))

    grades, executed = _submit(course, "dies", edit)
    assert {name: score for name, (score, _) in grades.items()} == dict.fromkeys(grades, 0)
    record = executed.metadata[evidence.RECORD]
    assert record["executor"] == "apart" and set(record["tests"]) == set(grades)
    died = f"the kernel died at cell {[c.metadata.get('nbgrader', {}).get('grade_id') for c in executed.cells].index('setup') + 2}"
    assert all(verdict == f"{evidence.NOT_RUN}: {died}" for verdict in record["tests"].values()), record
    assert all(outputs[0]["evalue"] == f"not run: {died}" for _, outputs in grades.values())


def test_a_kernel_that_cannot_start_gives_no_point_and_says_the_notebook_can_be_graded_again(course, tmp_path,
                                                                                             monkeypatch):
    """The reference notebook, and a machine where its kernel dies before it answers (nbgrader alone would stop on
    the error and lose the notebook): every test cell fails, saying that no cell ran and why, and nbgrader ends
    normally, so the notebook is graded (0) and can be graded again."""
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", "import sys; sys.exit(3)"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    grades, executed = _submit(course, "no_kernel")
    assert grades and {name: score for name, (score, _) in grades.items()} == dict.fromkeys(grades, 0)
    record = executed.metadata[evidence.RECORD]["tests"]
    assert set(record) == set(grades)
    why = ("not run: the notebook's kernel could not be started "
           "(RuntimeError: Kernel died before replying to kernel_info)")
    assert all(verdict.startswith(why) and "graded again" in verdict for verdict in record.values()), record
    assert all(outputs[0]["evalue"] == record[name] for name, (_, outputs) in grades.items())


@pytest.mark.slow
def test_an_honest_crash_costs_only_the_test_cells_after_it(course):
    """A kernel that ends before the last test cell: the test cells before it are graded in a new kernel that ran
    the notebook again up to that cell; those after it fail, saying why."""
    def edit(nb):
        nb.cells.insert(nb.cells.index(_cell(nb, "test_fc_to_conv")), nbformat.v4.new_code_cell("import os\nos._exit(1)"))

    grades, executed = _submit(course, "crash", edit)
    order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in executed.cells]
    after = {name for name in grades if order.index(name) > order.index("test_fc_to_conv") - 1}
    assert after and after != set(grades)
    record = executed.metadata[evidence.RECORD]["tests"]
    assert all(grades[name][0] == 0 and record[name].startswith("not run: the kernel died at cell") for name in after)
    assert all(grades[name][0] > 0 and record[name] == evidence.PASSED for name in set(grades) - after), record


@pytest.mark.slow
def test_the_kernel_never_sees_a_hidden_test(course):
    def edit(nb):
        _cell(nb, "fc_to_conv").source = SNOOP_CELL

    grades, executed = _submit(course, "snoop", edit)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "hidden tests found in the kernel: False" in printed
    assert "hidden tests found from a test's call" not in printed  # what the kernel prints for a call is never shown
    assert grades["test_fc_to_conv"][0] == 3


@pytest.mark.slow
def test_a_submission_without_its_package_fails_its_setup_clearly(course):
    grades, executed = _submit(course, "nopackage", package=False)
    errors = [o for o in _cell(executed, "setup").outputs if o.output_type == "error"]
    assert errors and "not from the cs7150/ folder next to it" in errors[0].evalue


@pytest.mark.parametrize("notebook", sorted(COURSE.glob("source/*/*.ipynb")), ids=lambda path: path.parent.name)
def test_setup_cells_refuse_a_package_that_is_not_next_to_the_notebook(notebook, tmp_path):
    """The setup cell's check, run where a submission without its cs7150/ would run (the reference installed
    for the grader is then what ``import cs7150`` finds), in the instructor's tree, and next to a package."""
    source = _cell(nbformat.read(notebook, as_version=4), "setup").source
    check = "from pathlib import Path\n" + source[source.index("import cs7150\n"):source.index("from cs7150")]
    check = check.replace("in_kernel = __name__ == \"__main__\"", "in_kernel = True")

    def run(folder):
        return subprocess.run([sys.executable, "-c", check], cwd=folder, capture_output=True, text=True, timeout=60)

    refused = run(tmp_path)
    assert refused.returncode != 0 and "not from the cs7150/ folder next to it" in refused.stderr
    assert run(notebook.parent).returncode == 0  # the instructor's source tree: the reference is the package
    (tmp_path / "submission").mkdir()
    shutil.copytree(REPO / "cs7150", tmp_path / "submission" / "cs7150", ignore=shutil.ignore_patterns("__pycache__"))
    assert run(tmp_path / "submission").returncode == 0, "a student's cs7150/ next to the notebook"


# ---------------------------------------------------------------------------------------------
# Models from the kernel: sent as descriptions of torch.nn layers, rebuilt here


def _through_the_bridge(value):
    """``value`` as the grader receives it: encoded by the kernel's bridge (run here), then decoded."""
    import ast

    kernel = {"value": value}
    exec(nc.BRIDGE, kernel)
    snapshot = ast.literal_eval(kernel["_cs7150_snapshot"]("k", ["value"]))["value"][1]
    return wire.decode(snapshot, fetch=lambda index: ast.literal_eval(kernel["_cs7150_fetch"]("k", index))[1])


def _snapshot_text(value) -> str:
    kernel = {"value": value}
    exec(nc.BRIDGE, kernel)
    return kernel["_cs7150_snapshot"]("k", ["value"])


def test_a_sequential_of_torch_layers_comes_back_rebuilt_with_its_weights_and_modes():
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Sequential(nn.Flatten(), nn.Dropout(0.3)), nn.Linear(4 * 14 * 14, 10, bias=False))
    model(torch.randn(5, 1, 28, 28))  # moves the batch-norm statistics
    model.eval()
    model[4].train()
    rebuilt = _through_the_bridge({"model": model, "history": [{"test_acc": 0.5}]})  # a snapshot keeps the model
    assert "\x00cs7150:module" not in repr(_snapshot_text({"model": model})), "and sends it when it is asked for"
    copy = rebuilt["model"]
    assert type(copy) is nn.Sequential and [type(m) for m in copy] == [type(m) for m in model]
    assert copy is not model and rebuilt["history"] == [{"test_acc": 0.5}]
    assert [m.training for m in copy.modules()] == [m.training for m in model.modules()]
    for (key, mine), (_, theirs) in zip(model.state_dict().items(), copy.state_dict().items()):
        assert torch.equal(mine, theirs), key
    x = torch.randn(2, 1, 28, 28)
    copy.eval()
    model.eval()
    with torch.no_grad():
        assert torch.equal(copy(x), model(x))


def test_a_model_of_another_class_fails_every_use_saying_what_a_model_must_be():
    import pickle

    import torch
    from torch import nn

    class Liar(nn.Sequential):  # claims LeNet-5's children and returns whatever it likes
        def forward(self, x):
            return torch.zeros(len(x), 10)

    for value in (Liar(nn.Linear(2, 2)), nn.Sequential(nn.Linear(2, 2), Liar())):
        model = _through_the_bridge(value)
        assert isinstance(model, wire.StudentModel) and "Liar" in repr(model)
        for use in (lambda: model(torch.zeros(1, 2)), lambda: model.named_children(), lambda: pickle.dumps(model),
                    lambda: list(model)):
            with pytest.raises(TypeError, match="must be an nn.Sequential"):
                use()


@pytest.mark.parametrize("description, why", [
    (("\x00cs7150:module", "Module", ("\x00cs7150:dict", []), True, [], []), "not a torch.nn layer"),
    (("\x00cs7150:module", "Linear", ("\x00cs7150:dict", [("in_features", 10**9), ("out_features", 10**9),
                                                          ("bias", True)]), True, [], []), "parameters"),
    (("\x00cs7150:module", "ReLU", ("\x00cs7150:dict", [("inplace", "os.system('x')")]), True, [], []), "arguments"),
    (("\x00cs7150:module", "ReLU", ("\x00cs7150:dict", [("inplace", False), ("extra", 1)]), True, [], []), "arguments"),
])
def test_a_forged_description_is_refused_before_anything_is_allocated(description, why):
    model = wire.decode(description)  # a Linear of 10^18 weights would need 4 EB: it is made on the meta device first
    assert isinstance(model, wire.StudentModel) and why in model.why


# ---------------------------------------------------------------------------------------------
# Assignment 2 through nbgrader (slow: each submission trains its models in grading mode)

A2_POINTS = {"test_lenet5": 10, "test_lenet5_variants": 6, "test_params_by_hand": 4, "test_evaluate_accuracy": 6,
             "test_lenet5_trained": 6, "test_results_table": 5, "test_twin_trained": 2, "test_feature_maps": 6,
             "test_most_confident_mistakes": 6, "test_templates": 5}

A2_LIAR = r'''
class Liar(nn.Sequential):  # LeNet-5's children, and logits that never depend on the image
    def forward(self, x):
        return torch.zeros(len(x), 10)

honest_lenet5 = lenet5
lenet5 = lambda **options: Liar(honest_lenet5(**options))
'''

A2_TAMPER = r'''
import torch
assert_close = lambda *args, **kwargs: None  # the locked helpers and PyTorch's comparisons, redefined to pass
torch.equal = torch.allclose = lambda *args, **kwargs: True
WatchedModel = lambda model, batches: model

def most_confident_mistakes(logits, labels, k=12):  # wrong: the first k images, mistakes or not
    return torch.arange(min(k, len(labels)))
'''

A2_FORGED_RESULTS = r'''
results["lenet5"] = {"model": lenet5(), "history": [dict(results["lenet5"]["history"][-1], test_acc=0.99)]}
honest_evaluate = evaluate_accuracy

def evaluate_accuracy(model, images, labels, batch_size=500):  # 0.99 for a LeNet-5, honest for any other model
    if isinstance(model, nn.Sequential) and len(model) == 10:
        return 0.99
    return honest_evaluate(model, images, labels, batch_size)
'''

A2_SNOOP = r'''
import glob
marker = "BEGIN " + "HIDDEN TESTS"
seen = [marker in open(path, encoding="utf-8").read() for path in glob.glob("**/*.ipynb", recursive=True)]
seen += [marker in cell for cell in In] + [marker in cell for cell in _ih]
print("hidden tests found in the kernel:", any(seen), len(seen))
'''


def _a2(grades):
    return {name: score for name, (score, _) in grades.items()}


@pytest.mark.slow
def test_assignment2_honest_notebook_scores_every_notebook_point(course2, request):
    _with_slow_only(request, "test_points.py (the reference earns every notebook point through the grader's "
                             "nbgrader) and test_assignment2_added_cells_cannot_change_a_verdict_and_see_no_"
                             "hidden_test (plain nbgrader: every test cell the tampering does not touch earns its "
                             "points)")
    grades, executed = _submit(course2, "honest2", assignment="assignment2", notebook="lenet5.ipynb")
    assert _a2(grades) == A2_POINTS, {name: outputs for name, (_, outputs) in grades.items() if outputs}


@pytest.mark.slow
def test_assignment2_added_cells_cannot_change_a_verdict_and_see_no_hidden_test(course2):
    """A model of another class, helpers and PyTorch's comparisons redefined, a wrong answer, an untrained model
    with a forged history and an evaluate_accuracy that lies about it, the history read."""
    def edit(nb):
        nb.cells.insert(nb.cells.index(_cell(nb, "test_lenet5")), nbformat.v4.new_code_cell(A2_LIAR))
        nb.cells.insert(nb.cells.index(_cell(nb, "test_lenet5_variants")) + 1,
                        nbformat.v4.new_code_cell("lenet5 = honest_lenet5\n"))
        nb.cells.insert(nb.cells.index(_cell(nb, "most_confident_mistakes")) + 1,
                        nbformat.v4.new_code_cell(A2_TAMPER))
        nb.cells.insert(nb.cells.index(_cell(nb, "train_lenet5")) + 1, nbformat.v4.new_code_cell(A2_FORGED_RESULTS))
        nb.cells.append(nbformat.v4.new_code_cell(A2_SNOOP))

    grades, executed = _submit(course2, "tamperer2", edit, assignment="assignment2", notebook="lenet5.ipynb")
    scores = _a2(grades)
    lost = {name for name in A2_POINTS if scores[name] == 0}
    assert lost == {"test_lenet5", "test_lenet5_variants", "test_most_confident_mistakes", "test_lenet5_trained",
                    "test_results_table"}, scores  # the forged history is caught by both tests that read it
    assert "the model's own logits classify" in json.dumps(_cell(executed, "test_lenet5_trained").outputs)
    assert "lenet5: its history says 0.9900" in json.dumps(_cell(executed, "test_results_table").outputs)
    assert "must be an nn.Sequential" in json.dumps(_cell(executed, "test_lenet5").outputs)
    printed = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "hidden tests found in the kernel: False" in printed


def test_nbgrader_failing_names_the_exception_before_its_warnings(tmp_path):
    from autograder.notebook import nbgrade as notebooks
    from autograder.sandbox import processes

    job = processes.Job(key="s", command=["true"], cwd=tmp_path, log_dir=tmp_path, wall_s=1, memory_mb=64, file_mb=1)
    (tmp_path / "stderr.txt").write_text(
        "[AutogradeApp | WARNING] Checksum for grade cell test_counting has changed!\n"
        "[AutogradeApp | ERROR] There was an error processing assignment: x\n"
        "Traceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
        "KeyError: 'hidden input 42'\n")
    text = notebooks._nbgrader_complaints(job)
    assert text.startswith("nbgrader stopped on a KeyError") and "42" not in text and "Checksum" in text


def test_every_assignment_runs_its_test_cells_apart_unless_it_opts_out_explicitly():
    """A new assignment (say one copied from the first) gets the strict executor without a word of configuration:
    the course names no assignment list, only the opt-outs, and there are none."""
    import nbtools  # tests/, on the path through its conftest.py

    settings = nbtools.course_config()
    assert settings.ExecuteApart.in_kernel == [] and "assignments" not in settings.ExecuteApart
    preprocessors = settings.Autograde.autograde_preprocessors
    assert nc.ExecuteApart in preprocessors and not any(p.__name__ == "Execute" for p in preprocessors)
    assert nc.ExecuteApart().in_kernel == []  # the executor's own default: apart
