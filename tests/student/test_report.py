"""gradlab/student/report.py: one line per gradient, the evidence, the verdict; errors with their reason."""

from __future__ import annotations

from rich.console import Console

from gradlab.student import check
from gradlab.student.report import render, summary_line
from tests.student.conftest import EXAMPLES, FAST, RAISE_LINE, UNRUNNABLE


def _text(result) -> str:
    console = Console(record=True, width=160, force_terminal=False)
    render(result, console)
    return console.export_text()


def test_a_wrong_submission_shows_each_gradient_the_evidence_and_the_verdict():
    result = check(EXAMPLES / "minchar_whh_not_transposed.py")
    text = _text(result)
    for name in ("dWxh", "dWhh", "dWhy", "dbh", "dby"):
        assert f"\n{name} " in text
    assert "FAIL" in text and "first wrong at T=2" in text and "rel err by sequence length" in text
    assert "smallest failing case: T=2, H=8, V=21" in text
    assert "diagnosis: your forward matches gradlab's" in text
    assert "verdict: wrong: 3 of 5 gradients wrong (exit 1)" in text
    assert summary_line(result).endswith("wrong (dWxh, dWhh, dbh)")


def test_a_correct_submission_and_an_unrunnable_one():
    text = _text(check(EXAMPLES / "cs231n_rnn.py"))
    assert "rnn_step_backward" in text and "verdict: correct (exit 0)" in text and "FAIL" not in text
    text = _text(check(UNRUNNABLE / "raises.py", limits=FAST))
    assert "could not run (raised an exception): loss_and_grads raised ZeroDivisionError" in text
    assert f'File "raises.py", line {RAISE_LINE}' in text and "verdict: could not run (exit 2)" in text
