"""The status protocol the sandbox's runner and the grader share (standard library only).

The runner appends one JSON record per line to ``<results>/status.jsonl``; a
case's last record is its state. The runner loads this file by its path (it
imports nothing of the grader); the grader imports it. docs/grader.md has the
record fields.
"""
import json
import os
import stat

STATUS_FILE = "status.jsonl"

STARTED = "started"  # the case began; a later record says how it finished
OK = "ok"
EXCEPTION = "exception"
TIMEOUT = "timeout"
BAD_OUTPUT = "bad_output"
ENDED = "ended"  # its process died in it (the runner's worker or the whole runner)
SKIPPED = "skipped"  # not run: too many workers of its function had died
STRAYS = "strays"  # keyed by a function's name: processes its worker left running
NAME_FIELDS = ("id", "function", "module", "forward", "phase")


def open_regular(path, mode: str = "rb"):
    """Open a file the student's code could have replaced: never through a link, never a FIFO or a device.

    Returns the open file, or None when ``path`` is missing or not a regular file.
    """
    flags = os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_RDONLY if mode == "rb" else os.O_WRONLY | os.O_APPEND)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        return None
    return os.fdopen(descriptor, mode)


def parse_records(text: str) -> dict[str, dict]:
    """Case id -> the last record written for it; lines that are not a record with a string id are skipped."""
    records = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # malformed, or nested past the parser's depth by student code
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            records[record["id"]] = record
    return records


def unfinished(ids, records: dict) -> list:
    """Of ``ids`` (in order), those with no record or only a ``started`` one."""
    return [i for i in ids if records.get(i, {}).get("status") in (None, STARTED)]


def culprit(ids, records: dict):
    """Of ``ids``, the first one that started and never finished: the case its process died in, or None."""
    return next((i for i in ids if records.get(i, {}).get("status") == STARTED), None)


def ended(names: dict, **how) -> dict:
    """The record of a case whose process died in it: its name fields from ``names``, and ``how``."""
    return {**{key: names[key] for key in NAME_FIELDS if key in names}, **how, "status": ENDED}


def line(record: dict) -> str:
    """One record as a line of the status file."""
    return json.dumps(record) + "\n"
