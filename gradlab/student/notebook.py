"""A submission's source, read in the parent: a .py file as it is, or a notebook turned into a module.

Notebooks are parsed here with nbformat (never executed here): the code cells, in order, become one
module; a cell that starts with a ``%%`` cell magic is dropped whole; a line magic (``%timeit``) or a
shell line (``!pip install``) becomes ``pass  # <the line>`` at its own indentation, so a block that
held only that line stays valid Python. A line map sends line numbers of the module back to
(cell, line) so that syntax errors and tracebacks point at the notebook the student knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_SOURCE_BYTES = 4 << 20  # a submission larger than this is refused before parsing


@dataclass(frozen=True)
class Source:
    """A submission's Python source and where its lines came from."""

    path: str  # as the student named it
    text: str
    cells: tuple[tuple[int, int], ...] = field(default=())  # per module line (1-based): (cell, line in cell)
    dropped: tuple[str, ...] = ()  # what was left out, e.g. "cell 4: %%timeit cell"

    @property
    def is_notebook(self) -> bool:
        return bool(self.cells)

    def where(self, lineno: int) -> str:
        """'line 12' for a .py file; 'cell 3, line 2' for a notebook."""
        if self.cells and 1 <= lineno <= len(self.cells):
            cell, line = self.cells[lineno - 1]
            return f"cell {cell}, line {line}" if cell else f"line {lineno} (added by the checker)"
        return f"line {lineno}"

    def relabel(self, text: str, module_name: str = "submission.py") -> str:
        """Rewrite 'File "submission.py", line N' in a traceback to the student's file and cell."""
        name = Path(self.path).name

        def repl(match: re.Match) -> str:
            return f'File "{name}", {self.where(int(match.group(1)))}'

        return re.sub(r'File "[^"]*' + re.escape(module_name) + r'", line (\d+)', repl, text)


def read(path: str | Path) -> Source:
    """The Source of a .py file or a .ipynb notebook; OSError/ValueError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"submission: no such file: {path}")
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise ValueError(f"submission: expected at most {MAX_SOURCE_BYTES >> 20} MiB of source, got {size} bytes")
    raw = path.read_bytes()
    if path.suffix == ".ipynb":
        return from_notebook(raw, str(path))
    if path.suffix != ".py":
        raise ValueError(f"submission: expected a .py file or a .ipynb notebook, got {path.name!r}")
    try:
        return Source(str(path), raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"submission: {path.name} is not UTF-8 text ({exc})") from None


def from_notebook(raw: bytes, path: str = "notebook.ipynb") -> Source:
    """Code cells in order; %% cells dropped; % and ! lines neutralised; a line map kept."""
    import nbformat

    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for bad JSON and bad schemas
        raise ValueError(f"submission: {Path(path).name} is not a readable notebook ({type(exc).__name__}: "
                         f"{exc})") from None
    lines: list[str] = []
    where: list[tuple[int, int]] = []
    dropped: list[str] = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        if source.lstrip().startswith("%%"):
            dropped.append(f"cell {number}: {source.lstrip().splitlines()[0]} cell")
            continue
        lines.append(f"# --- cell {number} ---")
        where.append((0, 0))
        for k, line in enumerate(source.splitlines(), start=1):
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")):
                indent = line[:len(line) - len(stripped)]
                line = f"{indent}pass  # {stripped}"
                dropped.append(f"cell {number}, line {k}: {stripped}")
            lines.append(line)
            where.append((number, k))
    return Source(path, "\n".join(lines) + "\n", tuple(where), tuple(dropped))
