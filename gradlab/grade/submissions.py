"""Finding the submissions in a class folder: one file, notebook or folder per student.

    CLASS/alice.py            student "alice", that file
    CLASS/bob.ipynb           student "bob", that notebook
    CLASS/carol/...           student "carol", the one .py/.ipynb inside (searched recursively), or
                              the task's ``file`` when it holds several, or the only one that defines
                              the style's entry point (lossFun, loss_and_grads, rnn_backward, ...)

Hidden entries (".x"), ``__pycache__``, ``__MACOSX`` and ``.ipynb_checkpoints`` are skipped, and so
is anything else (a PDF, a zip). A folder in which no file can be chosen is still a submission: it is
graded as an error that says why, so the student shows up in the class CSV.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from gradlab.grade.tasks import Task

SUFFIXES = (".py", ".ipynb")
SKIP = ("__pycache__", "__MACOSX", ".ipynb_checkpoints")
ENTRY = {  # what the chosen file must define, by style (None: any of them)
    "minchar": r"def\s+lossFun\b",
    "cs231n": r"def\s+(rnn|lstm)_(step_)?backward\b",
    "gradlab": r"def\s+(loss_and_grads|step)\b",
    None: r"def\s+(lossFun|loss_and_grads|step|(rnn|lstm)_(step_)?backward)\b",
}


@dataclass(frozen=True)
class Submission:
    """One student's submission: ``file`` is what gets checked (None, with ``problem``, when none could be)."""

    student: str
    path: Path  # the entry in the class folder (a file or a folder)
    file: Path | None
    problem: str = ""  # why no file could be chosen

    def fingerprint(self) -> str:
        """sha256 of the file that is checked (of the problem, when there is none)."""
        data = self.file.read_bytes() if self.file is not None else self.problem.encode()
        return hashlib.sha256(data).hexdigest()[:16]


def discover(folder: str | Path, task: Task) -> list[Submission]:
    """Every submission in ``folder``, sorted by student; ValueError if it is not a folder."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"DIR: expected a folder of submissions, got {str(folder)!r} "
                         f"({'a file' if root.exists() else 'no such folder'})")
    entries = [p for p in sorted(root.iterdir()) if not _skipped(p) and (p.is_dir() or p.suffix in SUFFIXES)]
    stems = [p.stem if p.is_file() else p.name for p in entries]
    out = []
    for p, stem in zip(entries, stems):
        student = stem if stems.count(stem) == 1 else p.name  # alice.py and alice.ipynb: keep both apart
        out.append(Submission(student, p, p) if p.is_file() else one_folder(p, task, student))
    return out


def one_folder(folder: str | Path, task: Task, student: str | None = None) -> Submission:
    """The submission held in one folder (a class member's folder, or Gradescope's /autograder/submission)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"DIR: expected a submission folder, got {str(folder)!r}")
    student = student or folder.resolve().name
    candidates = sorted((p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                         and not any(_skipped(Path(part)) for part in p.relative_to(folder).parts)),
                        key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    names = [str(p.relative_to(folder)) for p in candidates]
    if not candidates:
        return Submission(student, folder, None, "no .py or .ipynb file in the submission")
    if task.file:
        named = [p for p in candidates if p.name == task.file]
        if named:
            return Submission(student, folder, named[0])
    if len(candidates) == 1:
        return Submission(student, folder, candidates[0])
    entry = re.compile(ENTRY[None if task.optimizer else task.style])
    defining = [p for p in candidates if entry.search(p.read_text(encoding="utf-8", errors="replace"))]
    if len(defining) == 1:
        return Submission(student, folder, defining[0])
    hint = f"name it {task.file}" if task.file else "set `file` in the task"
    return Submission(student, folder, None, f"several files could be the submission ({', '.join(names[:6])}): "
                                              f"{hint}")


def _skipped(p: Path) -> bool:
    return p.name.startswith(".") or p.name in SKIP
