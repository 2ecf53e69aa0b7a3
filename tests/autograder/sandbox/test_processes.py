"""``autograder.sandbox.processes.run_jobs``: the order of starts, ends and follow-ups."""
import sys

from autograder.sandbox import processes


def job(tmp_path, key, seconds=0.0):
    code = f"import time; time.sleep({seconds})"
    return processes.Job(key=key, command=[sys.executable, "-c", code], cwd=tmp_path, log_dir=tmp_path / key,
                         wall_s=30, memory_mb=1024, file_mb=16)


def test_next_job_starts_before_the_ended_one_is_graded(tmp_path):
    """With one slot, b starts as soon as a ends, and a is graded (on_done) while b runs."""
    events = []

    def on_done(done):
        events.append(f"done {done.key}")
        if done.key == "a":
            assert jobs[1].process.poll() is None, "b should still be running while a is graded"

    jobs = [job(tmp_path, "a"), job(tmp_path, "b", seconds=1.0)]
    processes.run_jobs(jobs, 1, on_done, before_start=lambda started: events.append(f"start {started.key}"))
    assert events == ["start a", "start b", "done a", "done b"]
    assert all(j.returncode == 0 for j in jobs)


def test_a_follow_up_starts_before_the_rest_of_the_queue(tmp_path):
    events = []
    follow_up = job(tmp_path, "a again")

    def on_done(done):
        events.append(f"done {done.key}")
        return follow_up if done.key == "a" else None

    jobs = [job(tmp_path, "a"), job(tmp_path, "b"), job(tmp_path, "c")]
    processes.run_jobs(jobs, 1, on_done, before_start=lambda started: events.append(f"start {started.key}"))
    # a's follow-up waits for the slot b took, then starts before c
    assert events == ["start a", "start b", "done a", "start a again", "done b", "start c", "done a again", "done c"]
