"""nbgrader configuration for the CS7150 course root (this folder).

Run nbgrader from this folder (``cd assignments && nbgrader ...``) or through
``cs7150 release`` / ``cs7150 autograde``, which pass this file explicitly.

Layout: ``source/<assignment>/`` holds the instructor notebooks (solutions
between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, hidden tests between
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``, every graded cell marked
with nbgrader cell metadata). ``release/``, ``submitted/``, ``autograded/``,
``feedback/`` and ``gradebook.db`` are generated and not tracked.

Notebooks import the layers with ``from cs7150.layers import ...``: in the
instructor tree that is the reference package; in a student release the
stubbed ``cs7150/`` package sits next to the notebooks (``cs7150 release``
puts it there), and Jupyter puts the notebook's folder first on ``sys.path``.

The package files a student edits for each assignment are listed once, in
``autograder/assignments/<assignment>.json`` (``"student_files"``); they are
read here so that ``nbgrader autograde`` never copies a reference file over a
student's submitted one.
"""
import json
import pathlib
import sys

COURSE_ROOT = pathlib.Path(__file__).resolve().parent
# The grading code lives beside this folder (autograder/): importable whether the checkout is pip-installed,
# on PYTHONPATH (Gradescope's zip) or neither (nbgrader run from this folder), so this file never fails to load.
if str(COURSE_ROOT.parent) not in sys.path:
    sys.path.append(str(COURSE_ROOT.parent))

from autograder.notebook.feedback import FEEDBACK_PREPROCESSORS, SafeFeedbackExporter  # noqa: E402
from autograder.notebook.executor import ExecuteApart  # noqa: E402
from autograder.notebook.nbgrader_course import HIDDEN_TESTS, SOLUTION  # noqa: E402
from nbgrader.converters.autograde import Autograde  # noqa: E402
from nbgrader.preprocessors import Execute  # noqa: E402

c = get_config()  # noqa: F821  (injected by nbgrader when it loads this file)

ASSIGNMENT_CONFIGS = COURSE_ROOT.parent / "autograder" / "assignments"

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = "cs7150-cnn"
# Never copy caches, checkpoints or instructor-only files into a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.egg-info"]

# Solution regions and hidden tests use nbgrader's default delimiters, written
# as comments in code cells:   ### BEGIN SOLUTION ... ### END SOLUTION
#                              ### BEGIN HIDDEN TESTS ... ### END HIDDEN TESTS
c.ClearSolutions.begin_solution_delimeter, c.ClearSolutions.end_solution_delimeter = SOLUTION
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("implement this cell")',
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearHiddenTests.begin_test_delimeter, c.ClearHiddenTests.end_test_delimeter = HIDDEN_TESTS

# Naive loops on the notebooks' small inputs finish in seconds; leave headroom
# for a slow student implementation on a busy grading machine.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Test cells run in nbgrader's process, not in the student's kernel (autograder/notebook/executor.py): code a
# student adds cannot change their verdicts, and hidden tests never reach the kernel. This holds for every
# assignment, a new one included: their package functions are graded by cs7150 autograde only, and the PyTorch
# models a notebook returns come back as descriptions of torch.nn layers, rebuilt in the grader. An assignment
# whose test cells must run in the kernel is named in ExecuteApart.in_kernel (an opt-out nbgrader logs).
c.Autograde.autograde_preprocessors = [
    ExecuteApart if preprocessor is Execute else preprocessor
    for preprocessor in Autograde.class_traits()["autograde_preprocessors"].default()
]
c.ExecuteApart.in_kernel = []

# The student's package files are submitted next to the notebooks: keep them.
c.Autograde.exclude_overwriting = {
    path.stem: json.loads(path.read_text())["student_files"]
    for path in sorted(ASSIGNMENT_CONFIGS.glob("*.json"))
}

# `nbgrader zip_collect`: accept the package files with the notebooks.
c.FileNameCollectorPlugin.valid_ext = [".ipynb", ".py"]

# Feedback pages (`nbgrader generate_feedback`) never show hidden tests, tracebacks that quote them, or output
# of student code that could hold them (only cs7150 autograde's jail keeps the kernel from reading the course's
# files: it sets ClearHiddenTestsFromFeedback.kernel_confined); what they show is sanitised (nh3), and every page
# is rebuilt under a restrictive Content-Security-Policy, the first element of its head (SafeFeedbackExporter).
c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
c.GenerateFeedback.exporter_class = SafeFeedbackExporter
