"""gradlab/student/styles.py: the style and model of a file, told from its syntax tree alone."""

from __future__ import annotations

import ast

import pytest

from gradlab.student import styles
from gradlab.student.styles import ContractError
from tests.student.conftest import EXAMPLES


def _detect(text: str, style=None, model=None):
    return styles.detect(styles.definitions(ast.parse(text)), style, model)


@pytest.mark.parametrize("name, expected", [
    ("minchar_rnn.py", ("minchar", "rnn", ())),
    ("cs231n_rnn.py", ("cs231n", "rnn", ("step", "seq"))),
    ("cs231n_lstm.py", ("cs231n", "lstm", ("step", "seq"))),
    ("gradlab_rnn.py", ("gradlab", "rnn", ())),
    ("gradlab_lstm.py", ("gradlab", "lstm", ())),
    ("gradlab_gru.py", ("gradlab", "gru", ())),
    ("gradlab_gru_cho.py", ("gradlab", "gru-cho", ())),
])
def test_every_example_is_detected_with_its_model(name, expected):
    assert _detect((EXAMPLES / name).read_text()) == expected


def test_names_under_the_main_guard_and_inside_functions_do_not_count():
    text = 'if __name__ == "__main__":\n    def loss_and_grads(): pass\ndef f():\n    def lossFun(): pass\n'
    with pytest.raises(ContractError, match="could not tell the style"):
        _detect(text)


def test_ambiguity_asks_for_style_or_model():
    with pytest.raises(ContractError, match="pass --style"):
        _detect("def lossFun(): pass\ndef loss_and_grads(): pass\n")
    both = "def rnn_forward(): pass\ndef rnn_backward(): pass\ndef lstm_forward(): pass\ndef lstm_backward(): pass\n"
    with pytest.raises(ContractError, match="--model rnn or --model lstm"):
        _detect(both)
    assert _detect(both, model="lstm") == ("cs231n", "lstm", ("seq",))
    with pytest.raises(ContractError, match="which model"):
        _detect("def loss_and_grads(): pass\n")
    assert _detect("def loss_and_grads(): pass\n", model="gru-cho")[1] == "gru-cho"


def test_missing_pieces_and_bad_arguments_are_named():
    with pytest.raises(ContractError, match="does not define Wxh, Whh"):
        _detect("def lossFun(): pass\nWhy = by = bh = 0\n")
    with pytest.raises(ContractError, match="no complete pair"):
        _detect("def rnn_forward(): pass\n")
    with pytest.raises(ValueError, match="style: expected one of minchar, cs231n, gradlab, got 'keras'"):
        _detect("x = 1", style="keras")
    with pytest.raises(ValueError, match="model: expected one of"):
        _detect("x = 1", model="transformer")
    with pytest.raises(ContractError, match="--model gru does not apply"):
        _detect("def rnn_forward(): pass\ndef rnn_backward(): pass\n", model="gru")
    with pytest.raises(ContractError, match="MODEL = 'elman'"):
        _detect('MODEL = "elman"\ndef loss_and_grads(): pass\n')


def test_tuple_assignments_and_imports_count_as_definitions():
    text = "import numpy as np\nWxh, Whh, Why = 1, 2, 3\nbh = by = 0\nfrom helpers import lossFun\n"
    assert _detect(text)[:2] == ("minchar", "rnn")
