"""Checking submissions: the one call into ``gradlab check``, and many of them in parallel.

``run_check`` is the only place that calls the checker: ``check`` for a model task, ``check_optimizer``
for an optimiser task. ``check_submission`` wraps it so that
nothing a submission does (nor a bug of gradlab's) escapes: it always returns a result dict.

``run_parallel`` runs them in a pool of worker PROCESSES (spawned), not threads. Each worker is the
subreaper of its own sandbox children, so no two concurrent runs share a process table: the sandbox
finds a child's escaped descendants among the orphans of its process, and with threads one run could
take another's freshly started child for one. The checker's comparisons also run in the grader's own
process, where threads share one GIL. Measured (benchmarks/results/grade_throughput.md, 2 shared cores):
processes 1.7x one worker's throughput with --jobs 2; threads did as well on that loaded machine, and
1.2x against processes' 2.0x in an earlier, quieter measurement of model checks alone.

Stopping (Ctrl-C, or SIGINT to the grader): the workers ignore SIGINT themselves; the parent cancels
what has not started and sends each worker SIGTERM, on which a worker raises inside the running check
(the sandbox's own cleanup kills its child and every descendant), kills anything of its own still
alive, and exits. Results are handed back to the parent, which alone writes files.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from gradlab.grade.submissions import Submission
from gradlab.grade.tasks import Task
from gradlab.student import check
from gradlab.student.result import CheckResult


def optimizer_checker() -> Callable | None:
    """The optimiser checker, ``check_optimizer(path, optimizer, style, *, limits, seed)``, where this gradlab
    has it (gradlab/student/optimizer_check.py); None otherwise."""
    try:
        from gradlab.student.optimizer_check import check_optimizer
    except ImportError:
        return None
    return check_optimizer


def optimizer_supported() -> bool:
    """Whether this gradlab can check optimisers (the optimiser tasks need it)."""
    return optimizer_checker() is not None


def run_check(path: str | Path, task: Task) -> dict:
    """The checker on ``path`` with the task's style, model or optimiser, limits and seed, as a dict."""
    if task.optimizer:
        checker = optimizer_checker()
        if checker is None:
            raise ValueError(f"task {task.name}: optimizer {task.optimizer!r} needs the optimiser checker "
                             "(gradlab/student/optimizer_check.py), which this gradlab does not have")
        return checker(path, task.optimizer, task.style, limits=task.limits, seed=task.seed).to_dict()
    return check(path, style=task.style, model=task.model, limits=task.limits, seed=task.seed).to_dict()


def error_result(submission: Submission, task: Task, kind: str, message: str, trace: str = "") -> dict:
    """A result dict in check's shape for a submission that could not be checked at all."""
    where = str(submission.file or submission.path)
    result = CheckResult(where, task.style, task.model or task.optimizer, "error",
                         error={"kind": kind, "message": message, "traceback": trace})
    return result.to_dict()


def check_submission(submission: Submission, task: Task) -> dict:
    """check()'s result dict for one submission; never raises for anything the submission does."""
    if submission.file is None:
        return error_result(submission, task, "no_submission", submission.problem)
    try:
        return run_check(submission.file, task)
    except (ValueError, OSError, UnicodeError) as exc:  # an unreadable notebook, a file that went away
        return error_result(submission, task, "unreadable", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a bug in gradlab: recorded for this student, never stops the class
        return error_result(submission, task, "internal", f"gradlab's checker failed ({type(exc).__name__}: "
                                                          f"{exc}); please report it", traceback.format_exc())


# --- the worker processes ---------------------------------------------------------------------------------

class _Stopped(BaseException):
    """Raised inside a worker's running check when the parent stops the pool."""


_STATE = {"stopping": False, "busy": False}


def _on_sigterm(signum, frame) -> None:
    if not _STATE["stopping"]:
        _STATE["stopping"] = True
        if _STATE["busy"]:
            raise _Stopped()


def _worker_init() -> None:
    from gradlab.student import procs

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    signal.signal(signal.SIGTERM, _on_sigterm)
    procs.become_subreaper()  # before anything runs: orphans of even the isolation probe come to the worker


def _work(submission: Submission, task: Task) -> tuple[dict, float] | None:
    """In a worker: check one submission; None when the pool is stopping."""
    if _STATE["stopping"]:
        return None
    started = time.monotonic()
    _STATE["busy"] = True
    try:
        result = check_submission(submission, task)
    except _Stopped:
        return None
    finally:
        _STATE["busy"] = False
        _kill_descendants()  # nothing of a check outlives it, not even a zombie the sandbox left unreaped
    return result, time.monotonic() - started


def _kill_descendants() -> None:
    """SIGKILL and reap every process below this worker (sandbox children and their orphans, reparented to
    it as their subreaper); without the reaping, a worker's unreaped zombies pass to the grader at its exit."""
    from gradlab.student import procs

    me = os.getpid()
    for _ in range(50):
        table = procs.process_table()
        mine = [pid for pid in table if pid != me and _descends(pid, me, table)]
        if not mine:
            return
        for pid in mine:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.01)


def _descends(pid: int, ancestor: int, table: dict) -> bool:
    seen = 0
    while pid in table and seen < 64:
        pid, seen = table[pid][1], seen + 1
        if pid == ancestor:
            return True
    return False


# --- the pool ---------------------------------------------------------------------------------------------

def run_parallel(submissions: list[Submission], task: Task, jobs: int,
                 on_done: Callable[[Submission, dict, float], None]) -> list[tuple[Submission, str]]:
    """Check every submission in ``jobs`` worker processes, calling ``on_done(sub, result, seconds)`` in
    this process as each finishes. Returns those that could not be checked (a worker that died), with why.
    KeyboardInterrupt stops the workers and their sandboxes, then propagates.
    """
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs: expected an integer >= 1, got {jobs!r}")
    failed: list[tuple[Submission, str]] = []
    if not submissions:
        return failed
    pool = ProcessPoolExecutor(min(jobs, len(submissions)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)
    futures: dict[Future, Submission] = {}
    try:
        futures = {pool.submit(_work, s, task): s for s in submissions}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f].student):
                sub = futures[fut]
                try:
                    answer = fut.result()
                except Exception as exc:  # noqa: BLE001 - the worker died (BrokenProcessPool) or could not start
                    failed.append((sub, f"{type(exc).__name__}: {exc}"))
                    continue
                if answer is not None:
                    on_done(sub, *answer)
    except BaseException:
        _stop(pool, futures)
        raise
    pool.shutdown(wait=True)
    return failed


def _stop(pool: ProcessPoolExecutor, futures: dict[Future, Submission]) -> None:
    """Cancel what has not started, SIGTERM each worker (it stops its sandbox), wait for them to exit."""
    for fut in futures:
        fut.cancel()
    workers = list((getattr(pool, "_processes", None) or {}).values())  # no public handle on the workers
    for proc in workers:
        if proc.is_alive():
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    pool.shutdown(wait=True, cancel_futures=True)
    for proc in workers:
        proc.join(timeout=10)
