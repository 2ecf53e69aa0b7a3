"""The ``cs7150`` command: one subcommand per module.

Each entry of ``COMMANDS`` names a module that defines
``configure(parser: argparse.ArgumentParser)`` and ``run(args) -> int``.
Modules are imported only when their subcommand (or ``--help``) needs them.

Exit statuses, the same for every subcommand: 0 done; 1 a configuration, path or input error (the reason on
stderr); 2 a usage error (unknown option, missing argument: argparse's own status); ``cs7150 autograde``
also exits 3 (``autograder.cli.autograde.PROBLEMS``) when the class was graded but some submissions had
problems, so a batch engine can tell a graded shard from a mistyped command; ``cs7150 final-grades`` exits 3
when its file is written but some written answers are still to be graded.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from importlib import metadata

USAGE_ERROR = 2  # argparse's status for a usage error; also a missing subcommand

COMMANDS = {
    "demo": ("coursetools.demo", "print the lecture's worked numbers and a naive/fast/PyTorch timing table"),
    "bench": ("coursetools.bench", "run every benchmark and print one table: figures, ratio to the reference, PASS/MISS"),
    "data": ("coursetools.data_cli", "check the offline MNIST subset, or download full MNIST (--full)"),
    "train": ("coursetools.train_cli", "train one model on MNIST; print a results table, save PNGs and a checkpoint to runs/<model>/"),
    "compare": ("coursetools.compare_cli", "train the baselines, LeNet-5 and its variants on one budget; print one table"),
    "release": ("autograder.cli.release", "build the student release of an assignment: notebooks and the stubbed cs7150/ package"),
    "gradescope": ("autograder.cli.gradescope", "build the zip to upload as an assignment's Gradescope autograder (setup.sh, run_autograder, the grader)"),
    "autograde": ("autograder.cli.autograde", "grade submissions in sandboxes; write grades.csv, Gradescope results.json and feedback"),
    "final-grades": ("autograder.cli.final_grades", "final grades as CSV: the grader's package and notebook points plus the written points of the course gradebook, lateness, a Canvas import"),
    "merge-grades": ("autograder.cli.merge", "combine the outputs of `autograde --shard K/N` runs into one grades.csv and student folders"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``cs7150`` parser; only ``command``'s module is imported (none for the top-level help).

    Args:
        command: a key of ``COMMANDS``, or None to list the subcommands without importing any.
    Raises:
        ValueError: ``command`` is not a key of ``COMMANDS``.
    """
    if command is not None and command not in COMMANDS:
        raise ValueError(f"unknown command {command!r}; expected one of {', '.join(COMMANDS)}")
    parser = argparse.ArgumentParser(prog="cs7150", description="CS7150 CNN course tools.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            module.configure(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser


def version() -> str:
    """The installed distribution's version (pyproject.toml's), or ``"unknown (not installed)"``."""
    try:
        return metadata.version("cs7150")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return USAGE_ERROR
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
