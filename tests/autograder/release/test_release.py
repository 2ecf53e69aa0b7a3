"""The student release: stubs in place of every solution region, no reference or hidden text, imports cleanly."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import config
from autograder.release import build as release, markers

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


@pytest.fixture(scope="module")
def built2(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "assignment2"
    release.release("assignment2", out)
    return out


def _package_files(folder: Path) -> set[str]:
    return {f for f in _tree_hashes(folder) if f.startswith("cs7150/")}


@pytest.mark.parametrize("name", ["assignment1", "assignment2"])
def test_release_holds_exactly_its_manifest(name, tmp_path):
    out = release.release(name, tmp_path / name)
    assignment = config.load(name)
    files = set(_tree_hashes(out))
    notebooks = {p.name for p in (config.COURSE_ROOT / "source" / name).glob("*.ipynb")}
    assert notebooks <= files and {"README.md", "requirements.txt", "release.json"} <= files
    assert _package_files(out) == {*assignment.helpers, *assignment.own_files}
    assert not {f for f in files if not f.startswith(("cs7150/", *assignment.data))} - notebooks - {
        "README.md", "requirements.txt", "release.json"}
    assert not any(f.startswith(("coursetools", "autograder")) or "__pycache__" in f for f in files)
    manifest = json.loads((out / "release.json").read_text())
    assert manifest["handin"] == [*sorted(notebooks), *assignment.student_files]
    assert set(manifest["files"]) == files


def test_files_of_no_assignment_and_answers_are_not_released(built, built2, run_alone):
    """The reference LeNet-5 ships nowhere (assignment 2 asks for it); assignment 1 gets no cs7150.shapes, whose
    functions answer its exercises 1a, 2, 7a and 7b, and none of assignment 2's files."""
    for out in (built, built2):
        assert "cs7150/lenet5.py" not in _package_files(out)
    assert not {"cs7150/shapes.py", "cs7150/batchnorm.py", "cs7150/dense.py", "cs7150/models.py"} & _package_files(built)
    script = ("from cs7150.models import build_model\n"
              "build_model('linear')\n"
              "try:\n    build_model('lenet5')\nexcept NotImplementedError as error:\n    print(error)\n")
    result = run_alone(built2, script)
    assert result.returncode == 0, result.stderr
    assert "build LeNet-5 yourself with lenet5() in lenet5.ipynb section 1" in result.stdout


def test_student_readme_and_requirements(built, built2):
    pins = {line.split("==")[0]: line for line in (REPO / "requirements.txt").read_text().splitlines() if "==" in line}
    for out in (built, built2):
        name = out.name
        readme = (out / "README.md").read_text()
        for words in ("## What you edit", "python3 -m venv .venv", "python -m pip install -r requirements.txt",
                      "MPS", "### On JupyterHub", "### On Google Colab", 'drive.mount("/content/drive")',
                      f'os.chdir("/content/drive/MyDrive/cs7150/{name}")', "sys.path.insert(0, os.getcwd())",
                      "files.download(str(make_submission()))", "python -m cs7150.handin", f"{name}_submission.zip"):
            assert words in readme, f"{name} README lacks {words!r}"
        assert "${" not in readme
        requirements = [line for line in (out / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
        assert requirements and all(line == pins[line.split("==")[0]] for line in requirements)
    assert "T4 GPU" in (built2 / "README.md").read_text() and "T4 GPU" not in (built / "README.md").read_text()
    assert "copy `cs7150/conv_fast.py`" in (built2 / "README.md").read_text()


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
    assert "stub: conv_forward_naive: implement this in cs7150/conv.py (conv_pool.ipynb, section 3)" in result.stdout


def test_released_fast_path_names_the_core_and_the_extension(built):
    """Section 6's 2-D core and its fast pooling are stubs naming section 6; the extension (1-D, 3-D, groups) names
    section 9, also where a grouped 2-D convolution reaches it through conv_forward_fast."""
    script = f"""
import sys
sys.path.insert(0, {str(built)!r})
import numpy as np
from cs7150 import conv_fast, layers, pool_fast
x, w, b = np.zeros((1, 2, 4, 4)), np.zeros((2, 2, 3, 3)), np.zeros(2)
calls = {{
    "core": lambda: layers.conv_forward_fast(x, w, b, {{"stride": 1, "pad": 1}}),
    "im2col": lambda: conv_fast.im2col(x, 3, 3, (1, 1), (1, 1)),
    "grouped": lambda: layers.conv_forward_fast(x, w[:, :1], b, {{"stride": 1, "pad": 1, "groups": 2}}),
    "1-D": lambda: layers.conv1d_forward_fast(x[..., 0], w[..., 0], b, {{"stride": 1, "pad": 1}}),
    "pool": lambda: layers.max_pool_forward_fast(x, {{"pool_height": 2, "pool_width": 2, "stride": 2}}),
    "window_view": lambda: pool_fast.window_view(x, 2, 2, (2, 2), (2, 2)),
}}
for name, call in calls.items():
    try:
        call()
    except NotImplementedError as error:
        print(f"{{name}}: {{error}}")
"""
    result = subprocess.run([sys.executable, "-I", "-B", "-c", script], capture_output=True, text=True, cwd=built)
    assert result.returncode == 0, result.stderr
    expected = {"core": "conv_forward_fast: implement this in cs7150/conv_fast.py (conv_pool.ipynb, section 6)",
                "im2col": "im2col: implement this in cs7150/conv_fast.py (conv_pool.ipynb, section 6)",
                "grouped": "conv_nd_forward: implement this in cs7150/conv_fast.py (conv_pool.ipynb, section 9)",
                "1-D": "conv_nd_forward: implement this in cs7150/conv_fast.py (conv_pool.ipynb, section 9)",
                "pool": "max_pool_forward_fast: implement this in cs7150/pool_fast.py (conv_pool.ipynb, section 6)",
                "window_view": "window_view: implement this in cs7150/pool_fast.py (conv_pool.ipynb, section 6)"}
    assert result.stdout.splitlines() == [f"{name}: {message}" for name, message in expected.items()]


def test_rerelease_is_identical_and_replaces_in_place(built):
    before = _tree_hashes(built)
    release.release("assignment1", built)
    assert _tree_hashes(built) == before
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # no temporary folders left


def test_release_never_replaces_what_is_not_its_own(built, tmp_path):
    """Assignment 2 into assignment 1's folder, into a folder of other files, or over a release with added files:
    refused, nothing changed."""
    before = _tree_hashes(built)
    with pytest.raises(release.ReleaseError, match="is not a release of assignment2"):
        release.release("assignment2", built)
    assert _tree_hashes(built) == before
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(release.ReleaseError, match=r"not empty and is not a release of assignment1 \(1 files: notes.txt\)"):
        release.release("assignment1", other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    (built / "stale.txt").write_text("added by hand")
    try:
        with pytest.raises(release.ReleaseError, match=r"1 files that are not part of it \(stale.txt\)"):
            release.release("assignment1", built)
    finally:
        (built / "stale.txt").unlink()
    assert _tree_hashes(built) == before
    assert release.release("assignment1", tmp_path / "empty") == tmp_path / "empty"


def _repo_copy(tmp_path: Path) -> Path:
    """The package and requirements.txt, copied: a repository to break, released without notebooks."""
    repo = tmp_path / "repo"
    shutil.copytree(PACKAGE, repo / "cs7150", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "requirements.txt", repo / "requirements.txt")
    return repo


def test_malformed_marker_aborts_release_and_keeps_the_old_one(tmp_path):
    repo, course = _repo_copy(tmp_path), tmp_path / "course"
    out = release.release("assignment1", tmp_path / "release", repo_root=repo, course_root=course)
    before = _tree_hashes(out)
    with (repo / "cs7150" / "conv.py").open("a") as file:
        file.write("\n\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(markers.MarkerError, match=r"conv\.py:\d+: '### BEGIN SOLUTION' without"):
        release.release("assignment1", out, repo_root=repo, course_root=course)
    assert _tree_hashes(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _config_dir(tmp_path: Path, **changes) -> Path:
    """The assignment configurations, with ``changes`` applied to assignment1's."""
    folder = tmp_path / "configs"
    shutil.copytree(config.ASSIGNMENTS_DIR, folder)
    path = folder / "assignment1.json"
    raw = json.loads(path.read_text())
    raw.update(changes)
    path.write_text(json.dumps(raw))
    return folder


@pytest.mark.parametrize("key, left_out, message", [
    ("helpers", "cs7150/_params.py",
     r"cs7150/_windows\.py imports cs7150\._params, which the release does not ship \(cs7150/_params\.py\)"),
    ("requirements", "threadpoolctl",
     r"cs7150/stopwatch\.py imports threadpoolctl \(threadpoolctl\), which the release's requirements do not install"),
])
def test_what_a_shipped_file_imports_must_ship_or_be_installed(tmp_path, key, left_out, message):
    raw = json.loads((config.ASSIGNMENTS_DIR / "assignment1.json").read_text())
    kept = [entry for entry in raw[key] if entry != left_out]
    with pytest.raises(release.ReleaseError, match=message):
        release.release("assignment1", tmp_path / "out", course_root=tmp_path / "course",
                        config_dir=_config_dir(tmp_path, **{key: kept}))
    assert not (tmp_path / "out").exists()


def test_a_helper_with_solution_regions_is_refused(tmp_path):
    raw = json.loads((config.ASSIGNMENTS_DIR / "assignment1.json").read_text())
    with pytest.raises(release.ReleaseError, match=r"cs7150/dense\.py is listed as a helper but holds solution regions"):
        release.release("assignment1", tmp_path / "out", course_root=tmp_path / "course",
                        config_dir=_config_dir(tmp_path, helpers=[*raw["helpers"], "cs7150/dense.py"]))


def test_builds_on_files_are_brought_or_the_reference_on_request(built2, tmp_path):
    brought = config.load("assignment2").brought_files
    assert brought and not set(brought) & _package_files(built2)
    out = release.release("assignment2", tmp_path / "assignment2", with_reference=True, course_root=tmp_path / "course")
    for rel in brought:
        text = (out / rel).read_text()
        assert "BEGIN SOLUTION" not in text and "raise NotImplementedError" not in text
        assert text == markers.unmark_source((REPO / rel).read_text(), rel)
    assert json.loads((out / "release.json").read_text())["reference_shipped"] == list(brought)


def test_layers_name_a_missing_file(built2, run_alone):
    script = ("import cs7150.layers as layers\n"
              "assert 'affine_forward' in layers.__all__ and 'conv_forward_fast' not in layers.__all__\n"
              "from cs7150.layers import conv_forward_fast\n")
    result = run_alone(built2, script)
    assert result.returncode == 1
    assert ("ImportError: conv_forward_fast is defined in cs7150/conv_fast.py, which is not in "
            f"{built2.resolve() / 'cs7150'}: if this assignment builds on an earlier one, copy your own "
            "cs7150/conv_fast.py") in result.stderr


@pytest.mark.parametrize("builds_on, words", [
    ({"assignment9": ["cs7150/conv.py"]}, "not another configured assignment"),
    ({"assignment2": ["cs7150/dense.py"]}, "not in student_files"),
])
def test_builds_on_is_checked(tmp_path, builds_on, words):
    with pytest.raises(config.ConfigError, match=words):
        config.load("assignment1", _config_dir(tmp_path, builds_on=builds_on))


def test_release_cli_reports_an_unknown_assignment(capsys):
    import argparse

    from autograder.cli import release as release_cli
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
    monkeypatch.setitem(cli.COMMANDS, "release", ("autograder.cli.release", "build a student release"))
    monkeypatch.setitem(cli.COMMANDS, "autograde", ("autograder.cli.autograde", "grade submissions"))
    for command in ("release", "autograde"):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0
    assert "--submissions PATH" in capsys.readouterr().out
    assert cli.main(["release", "no-such-assignment"]) == 1


def test_version_and_the_usage_error_statuses(capsys):
    """``cs7150 --version`` names pyproject.toml's version; a usage error is 2, distinct from autograde's
    "graded with problems" (3); the autograder's former ``--quiet`` is a usage error naming ``--no-progress``,
    the one name ``train`` and ``compare`` use too."""
    import tomllib
    from autograder.cli import autograde as autograde_cli
    from coursetools import cli
    version = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"cs7150 {version}"
    assert cli.main([]) == cli.USAGE_ERROR == 2
    with pytest.raises(SystemExit) as done:
        cli.main(["autograde", "assignment1", "--submissions", "x", "--quiet"])
    assert done.value.code == cli.USAGE_ERROR != autograde_cli.PROBLEMS
    assert "--quiet was renamed --no-progress" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:
        cli.main(["autograde", "assignment1", "--submisions", "x"])
    assert done.value.code == 2
    for module in ("autograder.cli.autograde", "coursetools.train_cli", "coursetools.compare_cli"):
        parser = cli.build_parser(next(k for k, (m, _) in cli.COMMANDS.items() if m == module))
        text = parser.format_help() + "".join(a.format_help() for a in parser._subparsers._group_actions[0].choices.values())
        assert "--no-progress" in text and "--quiet" not in text, module


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
