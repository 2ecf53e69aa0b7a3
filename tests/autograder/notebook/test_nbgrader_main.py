"""autograder/notebook/nbgrader_main.py: nbgrader's command line without the import it never uses, validating as before."""
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "autograder" / "notebook" / "nbgrader_main.py"
SOURCE = Path(__file__).resolve().parents[3] / "assignments" / "source" / "assignment1" / "conv_pool.ipynb"

PROBE = """
import runpy, sys
sys.argv = [SCRIPT, "--version"]
try:
    runpy.run_path(SCRIPT, run_name="__main__")
except SystemExit:
    pass
import nbformat
notebook = nbformat.read(SOURCE, as_version=4)
nbformat.validate(notebook)                          # the schema still accepts the source notebook...
notebook.cells[0]["cell_type"] = "not a cell type"
try:
    nbformat.validate(notebook)                      # ...and still refuses a broken one
    print("accepted")
except nbformat.ValidationError:
    print("refused")
print("grammar loaded" if sys.modules.get("rfc3987_syntax") is not None else "grammar not loaded")
"""


def test_nbgrader_runs_without_the_iri_grammar_and_still_validates_notebooks():
    code = f"SCRIPT, SOURCE = {str(SCRIPT)!r}, {str(SOURCE)!r}\n" + PROBE
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("nbgrader version "), done.stdout  # nbgrader's own --version ran
    assert lines[-2:] == ["refused", "grammar not loaded"]


def test_the_launcher_is_nbgraders_command_line():
    done = subprocess.run([sys.executable, str(SCRIPT), "autograde", "--help"], capture_output=True, text=True,
                          cwd=SOURCE.parent)
    assert done.returncode == 0, done.stderr
    assert "nbgrader autograde" in done.stdout
