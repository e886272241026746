"""``gradescope_bundle``: the autograder zip that grades on Gradescope's own per-submission machines.

The zip holds, at its root (Gradescope's autograder specification)::

    setup.sh          run once, as root, when Gradescope builds the image: a virtual environment at
                      /autograder/venv with gradlab installed from gradlab-src/ (dependencies from PyPI)
    run_autograder    run per submission: ``gradlab grade /autograder/submission --task task.toml
                      --format gradescope --out /autograder/results``; if gradlab itself fails it still
                      writes a results.json that says so
    task.toml         the task, resolved (a built-in task or the teacher's own file)
    gradlab-src/      gradlab's own source, exactly the version that made the bundle, with a pyproject.toml

Why the source in the zip, not ``pip install gradlab==X`` or a git URL: the grade a student sees must
come from the very code the teacher ran locally, whether or not that version was ever published, and
the image then needs only PyPI for the dependencies. ``GRADLAB_AUTOGRADER_ROOT`` (default /autograder)
lets both scripts be tried on any machine.
"""

from __future__ import annotations

import json
import re
import zipfile
from importlib import metadata
from pathlib import Path

import gradlab
from gradlab.grade.tasks import Task, tomllib

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. It installs gradlab from the
# source in this zip (gradlab-src/: the version that made the bundle) into a virtual environment,
# with gradlab's dependencies from PyPI.
set -euo pipefail
ROOT="${GRADLAB_AUTOGRADER_ROOT:-/autograder}"
if ! python3 -m venv --help >/dev/null 2>&1; then
  apt-get install -y python3 python3-venv python3-pip
fi
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --upgrade pip
"$ROOT/venv/bin/pip" install "$ROOT/source/gradlab-src"
"$ROOT/venv/bin/gradlab" grade --list-tasks
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this once per submission: grade /autograder/submission with task.toml and write
# /autograder/results/results.json in Gradescope's format. Whatever happens, a results.json is written.
ROOT="${GRADLAB_AUTOGRADER_ROOT:-/autograder}"
GRADLAB="$ROOT/venv/bin/gradlab"
[ -x "$GRADLAB" ] || GRADLAB=gradlab
mkdir -p "$ROOT/results"
rm -f "$ROOT/results/results.json"
"$GRADLAB" grade "$ROOT/submission" --task "$ROOT/source/task.toml" --format gradescope --out "$ROOT/results"
code=$?
if [ ! -s "$ROOT/results/results.json" ]; then
  why="The autograder failed (gradlab exit $code): please tell your instructor."
  printf '{"score": 0, "output": "%s", "tests": []}\\n' "$why" > "$ROOT/results/results.json"
fi
exit 0
"""

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "gradlab"
version = {version}
requires-python = ">=3.10"
dependencies = {dependencies}

[project.scripts]
gradlab = "gradlab.cli:entry"

[tool.setuptools.packages.find]
include = ["gradlab*"]

[tool.setuptools.package-data]
"gradlab.grade" = ["tasks/*.toml"]
"""


def gradescope_bundle(task: Task, out: str | Path) -> Path:
    """Write the autograder zip for ``task`` to ``out``; return its path."""
    if not isinstance(task, Task):
        raise TypeError(f"task: expected a Task (load_task(...)), got {type(task).__name__}")
    out = Path(out)
    if out.suffix != ".zip":
        raise ValueError(f"out: expected a path ending in .zip, got {str(out)!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    package = Path(gradlab.__file__).resolve().parent
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        _add(zf, "setup.sh", SETUP_SH, executable=True)
        _add(zf, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add(zf, "task.toml", task.to_toml())
        _add(zf, "gradlab-src/pyproject.toml", pyproject())
        for path in sorted(package.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".toml"):
                zf.write(path, f"gradlab-src/gradlab/{path.relative_to(package).as_posix()}")
    tmp.replace(out)
    return out


def _add(zf: zipfile.ZipFile, name: str, text: str, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    zf.writestr(info, text)


def pyproject() -> str:
    """The pyproject.toml that installs the bundled source: gradlab's version and runtime dependencies."""
    return PYPROJECT.format(version=json.dumps(gradlab.__version__), dependencies=json.dumps(dependencies()))


def dependencies() -> list[str]:
    """gradlab's runtime dependencies (no extras): from its pyproject.toml in a source checkout, else from its
    installed metadata."""
    path = Path(gradlab.__file__).resolve().parents[1] / "pyproject.toml"
    if path.is_file():
        requires = list(tomllib.loads(path.read_text(encoding="utf-8"))["project"]["dependencies"])
    else:
        try:
            requires = metadata.requires("gradlab") or []
        except metadata.PackageNotFoundError:
            raise ValueError("gradlab's dependencies: expected its pyproject.toml or installed metadata, found "
                             "neither") from None
    return [r for r in requires if not re.search(r"extra\s*==", r)]
