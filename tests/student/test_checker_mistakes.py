"""check() names each catalogue entry on its example submission, and names nothing on correct ones."""

from __future__ import annotations

import pytest

from gradlab import mistakes
from gradlab.cli import main
from gradlab.student import check
from tests.student.conftest import EXAMPLES

EXAMPLE_OF = {  # catalogue id -> its example in examples/
    "rnn-recurrent-term-dropped": "minchar_no_dhnext.py",
    "rnn-tanh-prime-of-preactivation": "minchar_tanh_preactivation.py",
    "rnn-W_hh-not-transposed": "minchar_whh_not_transposed.py",
    "rnn-dW_hh-with-h_t": "minchar_dWhh_with_h_t.py",
    "rnn-tanh-prime-missing": "minchar_tanh_prime_missing.py",
    "rnn-bias-from-last-step": "minchar_bias_from_last_step.py",
    "rnn-softmax-p-not-p-minus-y": "minchar_softmax_p.py",
    "rnn-sign-flipped": "minchar_sign_flipped.py",
    "rnn-grads-accumulated": "minchar_grads_accumulated.py",
    "rnn-dh-next-not-reset": "minchar_dhnext_not_reset.py",
    "lstm-dc-not-carried": "gradlab_lstm_dc_not_carried.py",
    "lstm-forget-on-c_t": "gradlab_lstm_forget_on_c_t.py",
    "lstm-output-path-missing": "gradlab_lstm_output_path_missing.py",
    "lstm-gate-order": "cs231n_lstm_gate_order_backward.py",
    "gru-other-reset": "gradlab_gru_other_reset.py",
    "gru-z-swapped": "gradlab_gru_z_swapped.py",
    "gru-cho-other-reset": "gradlab_gru_cho_other_reset.py",
    "gru-cho-z-swapped": "gradlab_gru_cho_z_swapped.py",
}
QUICK = {"rnn-grads-accumulated", "rnn-dh-next-not-reset", "lstm-gate-order", "gru-other-reset"}  # each style, state


def test_every_catalogue_entry_has_an_example():
    assert set(EXAMPLE_OF) == set(mistakes.MISTAKES)
    assert all((EXAMPLES / name).is_file() for name in EXAMPLE_OF.values())


def _params(mistake_id):
    marks = () if mistake_id in QUICK else (pytest.mark.slow,)
    return pytest.param(mistake_id, EXAMPLE_OF[mistake_id], id=mistake_id, marks=marks)


@pytest.mark.parametrize("mistake_id, name", [_params(m) for m in EXAMPLE_OF])
def test_check_names_exactly_the_mistake_of_each_example(mistake_id, name):
    result = check(EXAMPLES / name)
    assert result.verdict == "wrong", result.to_dict()
    named = [m for m in result.mistakes if m["id"] in mistakes.MISTAKES or m["id"] == "unrecognised"]
    assert [m["id"] for m in named] == [mistake_id], (result.mistakes, result.notes)
    assert all(m.get("same_as") == mistake_id for m in result.mistakes if m not in named)  # truncated BPTT, k = 1
    entry = named[0]
    assert entry["params"] and set(entry["params"]) <= {p.student_name for p in result.wrong_params()}
    assert entry["explanation"] == mistakes.MISTAKES[mistake_id].explanation


def test_a_wrong_gate_slope_outside_the_catalogue_is_unrecognised_with_evidence():
    result = check(EXAMPLES / "cs231n_lstm_wrong_gate.py")
    (entry,) = result.mistakes
    assert entry["id"] == "unrecognised" and set(entry["params"]) == {"dh0", "dWx", "dWh", "db"}
    assert {e["param"] for e in entry["evidence"]} == set(entry["params"])


def test_a_forward_of_another_model_is_not_called_an_unrecognised_backward():
    result = check(EXAMPLES / "cs231n_lstm_gate_order.py")
    assert result.verdict == "wrong" and result.mistakes == []


def test_the_report_shows_the_name_the_explanation_and_the_hint(capsys):
    assert main(["check", str(EXAMPLES / "minchar_grads_accumulated.py")]) == 1
    text = " ".join(capsys.readouterr().out.split())
    m = mistakes.MISTAKES["rnn-grads-accumulated"]
    assert f"recognised: {m.title}" in text and m.hint in text and m.equation in text
    assert "keeps state between calls" in text
