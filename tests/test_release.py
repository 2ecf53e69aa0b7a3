"""The student release: stubs in place of every solution region, no reference or hidden text, imports cleanly."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import config, markers, release

REPO = config.REPO_ROOT
PACKAGE = REPO / "cs7150"


# ---- markers -------------------------------------------------------------------------------------

GOOD = '''\
def f(x):
    """Docstring mentioning ### BEGIN SOLUTION is not a marker."""
    if x is None:
        raise ValueError("x must not be None")
    ### BEGIN SOLUTION
    y = x + 1
    return y
    ### END SOLUTION


class Layer:
    def forward(self, x):
        ### BEGIN SOLUTION
        return 2 * x
        ### END SOLUTION
'''


def test_stub_keeps_signature_docstring_and_validation():
    stubbed, regions = markers.stub_source(GOOD, "good.py", lambda name: f"{name}: implement this")
    assert [r.function for r in regions] == ["f", "Layer.forward"]
    assert '    raise NotImplementedError("f: implement this")\n' in stubbed
    assert '        raise NotImplementedError("Layer.forward: implement this")\n' in stubbed
    assert 'raise ValueError("x must not be None")' in stubbed and "Docstring mentioning" in stubbed
    assert "x + 1" not in stubbed and "2 * x" not in stubbed and "END SOLUTION" not in stubbed
    namespace = {}
    exec(compile(stubbed, "good.py", "exec"), namespace)
    with pytest.raises(ValueError):
        namespace["f"](None)
    with pytest.raises(NotImplementedError, match="f: implement this"):
        namespace["f"](1)


@pytest.mark.parametrize("source, line, words", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", 2, "without a matching"),
    ("def f():\n    return 1\n    ### END SOLUTION\n", 3, "without a matching"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", 3, "nested"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", 1, "not inside a single function"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\ndef g():\n    return 2\n    ### END SOLUTION\n", 2,
     "not inside a single function"),
    ("def f():\n    x = 1  ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", 2, "own line"),
    ("def f():\n    ## BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", 2, "malformed"),
    ("def f():\n    if True:\n        ### BEGIN SOLUTION\n        return 1\n    ### END SOLUTION\n", 5, "indented"),
])
def test_malformed_markers_are_refused_with_file_and_line(source, line, words):
    with pytest.raises(markers.MarkerError, match=words) as error:
        markers.stub_source(source, "cs7150/broken.py", str)
    assert str(error.value).startswith(f"cs7150/broken.py:{line}:")


def test_every_package_file_has_well_formed_markers():
    for path in sorted(PACKAGE.glob("*.py")):
        markers.find_regions(path.read_text(encoding="utf-8"), str(path))  # raises on a malformed file


# ---- the built release ---------------------------------------------------------------------------

def _tree_hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "assignment1"
    release.release("assignment1", out)
    return out


def test_release_holds_notebooks_and_the_whole_package(built):
    files = set(_tree_hashes(built))
    notebooks = {p.name for p in (config.COURSE_ROOT / "source" / "assignment1").glob("*.ipynb")}
    assert notebooks <= files
    assert {p.name for p in PACKAGE.glob("*.py")} == {Path(f).name for f in files if f.startswith("cs7150/")}
    assert not any("__pycache__" in f or f.startswith("autograder") or f.endswith(".json") for f in files)


def _package_lines() -> tuple[set, set]:
    """Stripped lines of the package inside and outside its solution regions."""
    inside, outside = set(), set()
    for path in sorted(PACKAGE.glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        numbers = {n for r in markers.find_regions("\n".join(lines) + "\n", str(path)) for n in range(r.begin, r.end + 1)}
        for n, line in enumerate(lines, 1):
            (inside if n in numbers else outside).add(line.strip())
    return inside, outside


def _solution_lines() -> set:
    """Non-trivial lines of every package solution region, not also present outside the regions."""
    inside, outside = _package_lines()
    return {line for line in inside - outside if len(line) >= 10 and not line.startswith("#")}


def _hidden_lines() -> set:
    """Non-trivial lines of the hidden autograder files (configuration, runner, samples)."""
    lines = set()
    for path in sorted((REPO / "autograder").rglob("*")):
        if path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            lines |= {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if len(line.strip()) >= 30}
    return lines


def _released_lines(built: Path) -> set:
    lines = set()
    for path in built.rglob("*"):
        if path.suffix == ".ipynb":
            text = "\n".join("".join(cell["source"]) for cell in json.loads(path.read_text())["cells"])
        elif path.suffix in (".py", ".md", ".txt"):
            text = path.read_text(encoding="utf-8")
        else:
            continue
        lines |= {line.strip() for line in text.splitlines()}
    return lines


def test_release_contains_no_reference_code_and_no_hidden_text(built):
    released = _released_lines(built)
    solutions = _solution_lines()
    assert len(solutions) > 50, "the grep found too few solution lines to mean anything"
    assert not solutions & released
    given = _package_lines()[1] | _released_lines(config.COURSE_ROOT / "source")  # lines students may share
    hidden = _hidden_lines() - given
    assert not hidden & released
    for notebook in (config.COURSE_ROOT / "source" / "assignment1").glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "markdown" and cell["metadata"].get("nbgrader", {}).get("solution"):
                answer = {line.strip() for line in "".join(cell["source"]).splitlines() if len(line.strip()) >= 20}
                assert not answer & released, "a written answer reached the release"
    text = "\n".join(released)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text


def test_released_package_imports_and_stubs_name_function_and_section(built):
    script = f"""
import sys
sys.path.insert(0, {str(built)!r})
import numpy as np
import cs7150.layers as layers
assert layers.__file__.startswith({str(built)!r}), layers.__file__
x, w, b = np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), np.zeros(1)
try:
    layers.conv_forward_naive(x, w, b, {{"stride": 0, "pad": 0}})
except ValueError as error:
    print("validation:", error)
try:
    layers.conv_forward_naive(x, w, b, {{"stride": 1, "pad": 0}})
except NotImplementedError as error:
    print("stub:", error)
"""
    result = subprocess.run([sys.executable, "-I", "-B", "-c", script], capture_output=True, text=True, cwd=built)
    assert result.returncode == 0, result.stderr
    assert "validation: conv_param['stride'] must be >= 1" in result.stdout
    assert "stub: conv_forward_naive: implement this in conv_pool.ipynb section 3" in result.stdout


def test_rerelease_is_identical_and_replaces_in_place(built):
    before = _tree_hashes(built)
    (built / "stale.txt").write_text("left from an older release")
    release.release("assignment1", built)
    assert _tree_hashes(built) == before
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # no temporary folders left


def test_malformed_marker_aborts_release_and_keeps_the_old_one(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(PACKAGE, repo / "cs7150", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "cs7150" / "broken.py").write_text("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    out = tmp_path / "release"
    out.mkdir()
    (out / "old.txt").write_text("previous release")
    with pytest.raises(markers.MarkerError, match=r"broken\.py:2: '### BEGIN SOLUTION' without"):
        release.release("assignment1", out, repo_root=repo, course_root=tmp_path / "course")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_release_cli_reports_an_unknown_assignment(capsys):
    import argparse

    from autograder import release_cli
    parser = argparse.ArgumentParser()
    release_cli.configure(parser)
    assert release_cli.run(parser.parse_args(["no-such-assignment"])) == 1
    assert "no configuration for assignment 'no-such-assignment'" in capsys.readouterr().err


def test_leak_check_finds_a_copied_solution_line(tmp_path):
    secret = release.secret_lines(REPO, config.COURSE_ROOT, "assignment1")
    line = sorted(_solution_lines())[0]
    (tmp_path / "cs7150").mkdir()
    (tmp_path / "cs7150" / "copied.py").write_text(f"def f():\n    {line}\n")
    (tmp_path / "notes.md").write_text("### BEGIN SOLUTION\n")
    leaks = release.find_leaks(tmp_path, secret)
    assert f"cs7150/copied.py: {line}" in leaks and "notes.md: ### BEGIN SOLUTION" in leaks


def test_commands_plug_into_the_cs7150_cli(monkeypatch, capsys):
    from coursetools import cli
    monkeypatch.setitem(cli.COMMANDS, "release", ("autograder.release_cli", "build a student release"))
    monkeypatch.setitem(cli.COMMANDS, "autograde", ("autograder.autograde_cli", "grade submissions"))
    for command in ("release", "autograde"):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0
    assert "--submissions PATH" in capsys.readouterr().out
    assert cli.main(["release", "no-such-assignment"]) == 1


def test_top_level_help_imports_no_subcommand():
    """``cs7150 --help`` lists every subcommand without importing one (no torch, no grader)."""
    import subprocess
    import sys

    code = ("import sys; from coursetools.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "loaded = [m for m in ('torch', 'autograder', 'coursetools.train_cli', 'coursetools.bench') if m in sys.modules]\n"
            "print(loaded)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert "autograde" in out and "train" in out
