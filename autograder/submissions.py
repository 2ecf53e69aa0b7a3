"""Find the submissions under a folder, open zips safely, locate the student files.

Its specification: docs/grader.md, `autograder/submissions.py`.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
DEVICE_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
IGNORED_NAMES = {"__MACOSX", ".DS_Store", "__pycache__", ".ipynb_checkpoints"}
MAX_ZIP_ENTRIES = 2000
MAX_ZIP_BYTES = 50 * 2**20
MAX_STUDENT_FILE_BYTES = 2 * 2**20
MAX_COPIED_FILE_BYTES = 20 * 2**20  # the largest file the grader reads from a submission (a notebook)


@dataclass(frozen=True)
class Skipped:
    """An entry of the submissions folder that is not graded: its name, why, and whether a student's
    submission was refused (an unsafe or colliding id) rather than a stray file ignored."""

    entry: str
    why: str
    refused: bool = True

    def __str__(self) -> str:
        return f"{self.entry}: {self.why}"


def folder_key(student_id: str) -> str:
    """The name a case-insensitive file system that drops trailing dots (macOS, Windows) gives the id's folder."""
    return student_id.rstrip(". ").casefold()


class UnsafeArchive(ValueError):
    """A zip archive breaks a safety rule (path, link, size or entry count)."""


@dataclass
class Submission:
    """One student's submission: where its files are, or why it cannot be read."""

    student_id: str
    source: Path  # the folder or zip as found
    root: Path | None = None  # the folder holding cs7150/ (None when unreadable)
    notes: list[str] = field(default_factory=list)

    def student_file(self, rel: str) -> Path | None:
        """The submitted copy of ``rel`` (``cs7150/conv.py``), or None.

        Also accepted: the file directly in the submission root (``conv.py``).
        """
        if self.root is None:
            return None
        root = self.root.resolve()
        for candidate in (self.root / rel, self.root / PurePosixPath(rel).name):
            if candidate.is_file() and not candidate.is_symlink() and candidate.resolve().is_relative_to(root):
                return candidate
        return None


def safe_extract(archive: Path, dest: Path, max_entries: int = MAX_ZIP_ENTRIES, max_bytes: int = MAX_ZIP_BYTES) -> None:
    """Extract ``archive`` into ``dest``; raise UnsafeArchive (or BadZipFile) if it is not safe."""
    with zipfile.ZipFile(archive) as zf:
        entries = zf.infolist()
        if len(entries) > max_entries:
            raise UnsafeArchive(f"{len(entries)} entries (limit {max_entries})")
        written = 0
        dest.mkdir(parents=True, exist_ok=True)  # an archive with no entries is an empty submission
        dest = dest.resolve()
        for info in entries:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                raise UnsafeArchive(f"entry {info.filename!r} points outside the archive folder")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchive(f"entry {info.filename!r} is a symbolic link")
            target = dest.joinpath(*parts)
            if not target.resolve().is_relative_to(dest):
                raise UnsafeArchive(f"entry {info.filename!r} points outside the archive folder")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "wb") as out:
                while chunk := source.read(1 << 16):
                    written += len(chunk)  # counted as written: a header's sizes may lie
                    if written > max_bytes:
                        raise UnsafeArchive(f"more than {max_bytes} bytes uncompressed")
                    out.write(chunk)


def private_copy(folder: Path, dest: Path, max_entries: int = MAX_ZIP_ENTRIES, max_bytes: int = MAX_ZIP_BYTES,
                 max_file_bytes: int = MAX_COPIED_FILE_BYTES) -> list[str]:
    """Copy ``folder``'s regular files and real folders into ``dest``, at any depth, never through a link.

    What is graded is this copy: a symbolic link (to a file or a folder, anywhere in the submission), a FIFO, a
    socket or a device is left out, and its relative path is returned so that the student can be told (with why:
    "(a link or special file)", or "(larger than N MiB)" for a file over ``max_file_bytes``, which nothing graded
    is). Each file is opened without following links and checked to be a regular file on the opened descriptor.
    Raises UnsafeArchive past ``max_entries`` entries or ``max_bytes`` bytes copied (the limits of a zip).
    """
    skipped, entries, written = [], 0, 0
    dest.mkdir(parents=True, exist_ok=True)
    pending = [(folder, dest, "")]
    while pending:
        source, target, rel = pending.pop()
        with os.scandir(source) as listing:
            children = sorted(listing, key=lambda child: child.name)
        for child in children:
            entries += 1
            if entries > max_entries:
                raise UnsafeArchive(f"more than {max_entries} entries")
            name = f"{rel}{child.name}"
            if child.is_dir(follow_symlinks=False):
                (target / child.name).mkdir()
                pending.append((Path(child.path), target / child.name, name + "/"))
                continue
            try:
                descriptor = os.open(child.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:  # a link (ELOOP), or gone
                skipped.append(f"{name} (a symbolic link or special file)")
                continue
            with os.fdopen(descriptor, "rb") as file:
                info = os.fstat(descriptor)
                if not stat.S_ISREG(info.st_mode):
                    skipped.append(f"{name} (a symbolic link or special file)")
                    continue
                if info.st_size > max_file_bytes:
                    skipped.append(f"{name} (larger than {max_file_bytes >> 20} MiB)")
                    continue
                with open(target / child.name, "xb") as out:
                    while chunk := file.read(1 << 16):
                        written += len(chunk)
                        if written > max_bytes:
                            raise UnsafeArchive(f"more than {max_bytes} bytes")
                        out.write(chunk)
    return sorted(skipped)


def _find_root(folder: Path, assignment: str, package: str) -> Path:
    """The folder holding ``<package>/`` (or the files), allowing one wrapping folder."""
    if (folder / package).is_dir():
        return folder
    if (folder / assignment).is_dir():
        return folder / assignment
    children = [c for c in folder.iterdir() if c.name not in IGNORED_NAMES and not c.name.startswith(".")]
    folders = [c for c in children if c.is_dir() and not c.is_symlink()]
    if len(folders) == 1 and not any(c.is_file() and c.suffix == ".py" for c in children):
        return folders[0]
    return folder


def discover(path: Path, assignment: str, extract_to: Path, package: str = "cs7150",
             only: str | None = None, keep=None) -> tuple[list[Submission], list[Skipped]]:
    """Submissions under ``path`` (sorted by id) and the entries skipped (``Skipped``).

    Zips are extracted under ``extract_to``. ``only`` keeps one student id;
    ``keep`` (a callable, or None) keeps the ids for which ``keep(id)`` is
    true (one shard of the class), asked once per id that passed the checks
    above, before its zip is opened.
    An entry that cannot be read becomes a submission without files, with the
    reason in its notes.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"submissions folder {path} does not exist")
    submissions: dict[str, Submission] = {}
    skipped: list[Skipped] = []
    entries = {}
    for entry in sorted(path.iterdir()):
        if entry.name in IGNORED_NAMES or entry.name.startswith("."):
            continue
        is_zip = entry.is_file() and entry.suffix.lower() == ".zip"
        if entry.is_symlink() or not (entry.is_dir() or is_zip):
            skipped.append(Skipped(entry.name, "not a folder or a .zip, ignored", refused=False))
            continue
        student_id = entry.stem if is_zip else entry.name
        if not SAFE_ID.match(student_id):
            skipped.append(Skipped(repr(entry.name), "unsafe student id (letters, digits and ._@+- only), refused"))
            continue
        if folder_key(student_id).split(".")[0] in DEVICE_NAMES:
            skipped.append(Skipped(entry.name, "a Windows device name cannot be a folder, refused"))
            continue
        entries.setdefault(folder_key(student_id), []).append((student_id, entry, is_zip))
    for key, group in entries.items():
        ids = sorted({student_id for student_id, _, _ in group})
        if len(ids) > 1:
            skipped += [Skipped(entry.name, f"ids {', '.join(ids)} would share one output folder on a file system "
                                            "that ignores case or trailing dots; refused, rename them")
                        for _, entry, _ in group]
            continue
        for student_id, entry, is_zip in group[1:]:
            skipped.append(Skipped(entry.name, f"a second submission for {student_id}, refused"))
        student_id, entry, is_zip = group[0]
        if only is not None and student_id != only or keep is not None and not keep(student_id):
            continue
        submissions[student_id] = _open(Submission(student_id, entry), entry, is_zip, assignment, package,
                                        Path(extract_to))
    return [submissions[k] for k in sorted(submissions)], skipped


def _open(submission: Submission, entry: Path, is_zip: bool, assignment: str, package: str,
          extract_to: Path) -> Submission:
    """``submission`` with its root found in a private copy of regular files (a zip extracted, a folder copied
    without its links), or with a note saying why it has none."""
    folder = extract_to / submission.student_id
    try:
        if is_zip:
            safe_extract(entry, folder)
        else:
            skipped = private_copy(entry, folder)
            if skipped:
                shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
                submission.notes.append(f"not read (only regular files are, and no symbolic link is followed): {shown}")
        submission.root = _find_root(folder, assignment, package)
    except (UnsafeArchive, zipfile.BadZipFile, OSError, RuntimeError, ValueError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        submission.root = None
        submission.notes.append(f"{entry.name} could not be opened safely: {error}")
    return submission


def read_student_files(submission: Submission, student_files) -> tuple[dict[str, bytes], dict[str, str]]:
    """The allow-listed files' contents by relative path, and why each other one is missing.

    A symbolic link, a file larger than ``MAX_STUDENT_FILE_BYTES`` or not
    UTF-8 text counts as missing; the reason reads after the file's name
    ("was not found in the submission", "was not used: ...").
    """
    files, missing = {}, {}
    for rel in student_files:
        found = submission.student_file(rel)
        if found is None:
            links = [] if submission.root is None else [
                c for c in (submission.root / rel, submission.root / PurePosixPath(rel).name) if c.is_symlink()]
            missing[rel] = ("was not used: it is a symbolic link (links are not followed)" if links
                            else "was not found in the submission")
            continue
        try:
            if found.stat().st_size > MAX_STUDENT_FILE_BYTES:
                raise ValueError(f"larger than {MAX_STUDENT_FILE_BYTES} bytes")
            data = found.read_bytes()
            if len(data) > MAX_STUDENT_FILE_BYTES:
                raise ValueError(f"larger than {MAX_STUDENT_FILE_BYTES} bytes")
            data.decode("utf-8")
        except (ValueError, UnicodeDecodeError, OSError) as error:
            missing[rel] = f"was not used: {error}"
            continue
        files[rel] = data
    return files, missing


def write_files(files: dict[str, bytes], folder: Path) -> None:
    """Write {relative path: bytes} under ``folder`` (the paths come from the configuration, not the student)."""
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
