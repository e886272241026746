"""gradlab/student/notebook.py: notebooks become modules in the parent, with a line map; nothing runs."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from gradlab.student import notebook
from tests.student.conftest import EXAMPLES


def _write(tmp_path, cells) -> str:
    nb = new_notebook()
    nb.cells = cells
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    return str(path)


def test_cell_magics_are_dropped_and_line_magics_and_shell_lines_are_neutralised(tmp_path):
    path = _write(tmp_path, [new_markdown_cell("# title"), new_code_cell("%matplotlib inline\nx = 1"),
                             new_code_cell("%%bash\nrm -rf /"), new_code_cell("if x:\n    !ls\ny = 2")])
    src = notebook.read(path)
    assert "rm -rf" not in src.text and "%%bash" not in src.text
    assert "pass  # %matplotlib inline" in src.text
    assert "    pass  # !ls" in src.text  # a block that held only a shell line stays valid Python
    compile(src.text, "nb", "exec")
    assert any("%%bash" in d for d in src.dropped) and any("!ls" in d for d in src.dropped)


def test_lines_map_back_to_cells_and_tracebacks_are_relabelled(tmp_path):
    path = _write(tmp_path, [new_markdown_cell("m"), new_code_cell("a = 1\nb = 2"), new_code_cell("c = 1 / 0")])
    src = notebook.read(path)
    line = src.text.splitlines().index("c = 1 / 0") + 1
    assert src.where(line) == "cell 3, line 1"
    tb = f'  File "/tmp/x/submission.py", line {line}, in <module>'
    assert src.relabel(tb) == '  File "nb.ipynb", cell 3, line 1, in <module>'


def test_a_py_file_is_read_as_it_is_and_the_example_notebook_parses():
    src = notebook.read(EXAMPLES / "gradlab_rnn.py")
    assert not src.is_notebook and src.where(3) == "line 3"
    nb = notebook.read(EXAMPLES / "gradlab_rnn_notebook.ipynb")
    assert nb.is_notebook and "def loss_and_grads" in nb.text
    compile(nb.text, "nb", "exec")


def test_unreadable_notebooks_and_other_files_are_refused_with_the_reason(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable notebook"):
        notebook.read(bad)
    other = tmp_path / "code.txt"
    other.write_text("x = 1")
    with pytest.raises(ValueError, match="expected a .py file or a .ipynb notebook"):
        notebook.read(other)
    with pytest.raises(FileNotFoundError, match="no such file"):
        notebook.read(tmp_path / "missing.py")
