"""A synthetic class for ``gradlab grade``, built from examples/: correct submissions (as a file, a notebook
and a folder), each min-char-rnn named mistake, and crashing and hostile code from examples/unrunnable/.

Every submission follows the minchar style as far as it gets: a hostile one is a correct min-char-rnn
file with the attack of an examples/unrunnable/ file appended, so the attack runs at import (in the
sandbox) instead of the file being refused by style detection. ``KIND`` of each student says what it is;
the tests derive the expected score from that and the task's weights.

    python tests/grade/classroom.py DEST [--copies N]   # write a class to DEST (the benchmark uses it)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
UNRUNNABLE = EXAMPLES / "unrunnable"
# the buggy min-char-rnn examples, each with a mistake of gradlab/mistakes.py and how many of the class make it.
# A recurrence bug gets dWxh, dWhh and dbh wrong; a bug before the recurrence gets all five gradients wrong;
# either way the backward disagrees with the submission's own forward, and the forward stays right.
RECURRENCE_BUGS = {"no_dhnext": "minchar_no_dhnext.py", "tanh_preactivation": "minchar_tanh_preactivation.py",
                   "whh_not_transposed": "minchar_whh_not_transposed.py",
                   "tanh_prime_missing": "minchar_tanh_prime_missing.py"}
OUTPUT_BUGS = {"sign_flipped": "minchar_sign_flipped.py", "softmax_p": "minchar_softmax_p.py"}
BUGS = {**RECURRENCE_BUGS, **OUTPUT_BUGS}
HOW_MANY = {"no_dhnext": 4, "tanh_preactivation": 3, "whh_not_transposed": 2, "tanh_prime_missing": 2,
            "sign_flipped": 1, "softmax_p": 1}
RECURRENCE_GRADIENTS = ("dWxh", "dWhh", "dbh")
ALL_GRADIENTS = ("dWxh", "dWhh", "dWhy", "dbh", "dby")
MISTAKES = {  # the ids the checker names, by kind (at least these)
    "no_dhnext": {"rnn-recurrent-term-dropped"}, "tanh_preactivation": {"rnn-tanh-prime-of-preactivation"},
    "whh_not_transposed": {"rnn-W_hh-not-transposed"}, "tanh_prime_missing": {"rnn-tanh-prime-missing"},
    "sign_flipped": {"rnn-sign-flipped"}, "softmax_p": {"rnn-softmax-p-not-p-minus-y"},
}
HOSTILE = {  # kind -> (examples/unrunnable file, the error kinds check reports)
    "sleeps_forever": ("sleeps_forever.py", "timeout"),
    "infinite_loop": ("infinite_loop.py", "cpu_limit|timeout"),  # which limit comes first depends on the load
    "exits_at_import": ("exits_at_import.py", "exit"),
    "os_exit_at_import": ("os_exit_at_import.py", "no_result"),
    "reads_data_at_import": ("reads_data_at_import.py", "import"),
    "allocates_10gb": ("allocates_10gb.py", "memory"),
    "prints_gigabytes": ("prints_gigabytes.py", "output_limit"),
    "forged_frame_dtype": ("forged_frame_dtype.py", "bad_result"),
    "syntax_error": ("syntax_error.py", "syntax"),
}
OTHER_ERRORS = {"raises": "exception", "wrong_contract": "missing_function"}
ERROR_KINDS = {**{k: v[1] for k, v in HOSTILE.items()}, **OTHER_ERRORS}
RAISING_LOSSFUN = "\n\ndef lossFun(inputs, targets, hprev):\n    return 1 / 0  # ZeroDivisionError\n"


@dataclass(frozen=True)
class Student:
    name: str
    kind: str  # "correct", a BUGS key, or an ERROR_KINDS key


def correct_source(seed: int, marker: str = "") -> str:
    """examples/minchar_rnn.py at a size that checks fast, with its own random weights."""
    text = (EXAMPLES / "minchar_rnn.py").read_text()
    for old, new in (("vocab_size = 65", "vocab_size = 9"), ("hidden_size = 100", "hidden_size = 7"),
                     ("seq_length = 25", "seq_length = 8"), ("default_rng(1)", f"default_rng({seed})")):
        assert old in text, f"examples/minchar_rnn.py no longer has {old!r}"
        text = text.replace(old, new)
    return text + (f"\n# {marker}\n" if marker else "")


def source_of(kind: str, seed: int, marker: str = "") -> str:
    """The text of a submission of ``kind``."""
    tail = f"\n# {marker} {seed}\n" if marker else f"\n# student {seed}\n"
    if kind == "correct":
        return correct_source(seed, marker)
    if kind in BUGS:
        return (EXAMPLES / BUGS[kind]).read_text() + tail
    if kind in HOSTILE:
        return correct_source(seed) + "\n" + (UNRUNNABLE / HOSTILE[kind][0]).read_text() + tail
    if kind == "raises":
        return correct_source(seed) + RAISING_LOSSFUN + tail
    if kind == "wrong_contract":
        return (EXAMPLES / "gradlab_rnn.py").read_text() + tail
    raise ValueError(f"kind: expected correct, {', '.join(BUGS)} or {', '.join(ERROR_KINDS)}, "
                     f"got {kind!r}")


def write_student(dest: Path, student: Student, seed: int, form: str = "file", marker: str = "") -> Path:
    """Write one submission as a .py file, a notebook, or a folder (with a README beside the code)."""
    text = source_of(student.kind, seed, marker)
    if form == "file":
        path = dest / f"{student.name}.py"
        path.write_text(text)
    elif form == "notebook":
        path = dest / f"{student.name}.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell("# Homework 3: min-char-rnn"), nbformat.v4.new_code_cell(text)]
        nbformat.write(nb, str(path))
    elif form == "folder":
        path = dest / student.name
        path.mkdir()
        (path / "min-char-rnn.py").write_text(text)
        (path / "helpers.py").write_text("def unused():\n    return 0\n")
        (path / "README.txt").write_text("my homework\n")
    else:
        raise ValueError(f"form: expected file, notebook or folder, got {form!r}")
    return path


def roster(copies: int = 1) -> list[tuple[Student, str]]:
    """(student, form) for a class of 32 per copy: 8 correct (3 files, 2 notebooks, 3 folders), 13 with a
    named mistake (HOW_MANY of each), and one of each crash or attack."""
    out = []
    for c in range(copies):
        kinds = [("correct", form) for form, n in (("file", 3), ("notebook", 2), ("folder", 3)) for _ in range(n)]
        kinds += [(k, "file") for k, n in HOW_MANY.items() for _ in range(n)]
        kinds += [(k, "file") for k in ERROR_KINDS]
        out += [(Student(f"s{c}{i:02d}_{kind}", kind), form) for i, (kind, form) in enumerate(kinds)]
    return out


def make_class(dest: str | Path, copies: int = 1, marker: str = "") -> dict[str, str]:
    """Write the class into ``dest`` (created); return student -> kind."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    kinds = {}
    for seed, (student, form) in enumerate(roster(copies), start=2):
        write_student(dest, student, seed, form, marker)
        kinds[student.name] = student.kind
    return kinds


if __name__ == "__main__":
    args = sys.argv[1:]
    n = int(args[args.index("--copies") + 1]) if "--copies" in args else 1
    made = make_class(args[0], n)
    print(f"wrote {len(made)} submissions to {args[0]}")
