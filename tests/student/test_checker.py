"""gradlab/student/checker.py: the verdicts, the evidence and the JSON of ``check`` on real submissions."""

from __future__ import annotations

import json

import pytest

from gradlab.student import check, isolation
from tests.student.conftest import EXAMPLES, FAST

CORRECT = ["cs231n_rnn.py", "cs231n_lstm.py", "gradlab_rnn.py", "gradlab_lstm.py", "gradlab_gru.py",
           "gradlab_gru_cho.py", "gradlab_rnn_notebook.ipynb"]
GRADLAB_RNN = (EXAMPLES / "gradlab_rnn.py").read_text()


@pytest.mark.parametrize("name", CORRECT)
def test_correct_submissions_pass_every_check(name, healthy):
    result = check(EXAMPLES / name)
    assert result.verdict == "correct" and result.exit_code == 0, result.to_dict()
    assert result.params and all(p.ok and p.vs_own_forward_ok for p in result.params)
    assert all(f.ok for f in result.forward) and not result.mistakes and result.smallest_failing_case is None
    assert result.sandbox["tier"] == isolation.select() and result.sandbox["missing_layers"] == []


def test_the_min_char_rnn_sized_submission_passes(healthy):
    result = check(EXAMPLES / "minchar_rnn.py")
    assert result.verdict == "correct", result.to_dict()
    assert result.sizes == {"T": 25, "H": 100, "V": 65}
    assert [p.student_name for p in result.params] == ["dWxh", "dWhh", "dWhy", "dbh", "dby"]


@pytest.mark.parametrize("name, wrong, index_of, first_bad_T", [
    ("minchar_no_dhnext.py", {"dWxh", "dWhh", "dbh"}, "dWhh", 2),
    ("minchar_tanh_preactivation.py", {"dWxh", "dWhh", "dbh"}, "dWhh", 1),
    ("minchar_whh_not_transposed.py", {"dWxh", "dWhh", "dbh"}, "dWhh", 2),
])
def test_buggy_min_char_rnn_names_the_parameters_index_and_first_bad_T(name, wrong, index_of, first_bad_T, healthy):
    result = check(EXAMPLES / name)
    assert result.verdict == "wrong" and result.exit_code == 1
    assert {p.student_name for p in result.wrong_params()} == wrong
    p = next(p for p in result.params if p.student_name == index_of)
    assert p.first_bad_T == first_bad_T and len(p.worst_index) == 2 and p.vs_own_forward_ok is False
    assert p.errors_by_T[first_bad_T - 1] > 1e-3  # the per-length evidence: wrong from T = first_bad_T ...
    assert first_bad_T == 1 or p.errors_by_T[first_bad_T - 2] < 1e-10  # ... and right just before
    assert all(f.ok for f in result.forward)  # the forward is right: the backward is wrong
    assert "the mistake is in the backward" in result.diagnosis
    assert result.smallest_failing_case["T"] == first_bad_T


def test_a_missing_dhnext_is_named_and_recognised_as_truncated_bptt_with_k_1():
    result = check(EXAMPLES / "minchar_no_dhnext.py")
    assert [(m["id"], m.get("k"), m.get("same_as")) for m in result.mistakes] == [
        ("rnn-recurrent-term-dropped", None, None), ("truncated-bptt", 1, "rnn-recurrent-term-dropped")]
    assert "dhnext" in result.mistakes[1]["explanation"]


def test_truncation_without_a_catalogue_entry_is_still_recognised(tmp_path):
    text = (EXAMPLES / "gradlab_lstm.py").read_text().replace("dh = dy @ W_hy + dh_next", "dh = dy @ W_hy")
    text = text.replace("dh_next, dc_next = da @ W_h, dc * f", "dh_next, dc_next = da @ W_h, 0 * dc")
    result = check(_write(tmp_path, "lstm_k1.py", text), limits=FAST)
    assert [(m["id"], m["k"], m["kind"]) for m in result.mistakes] == [("truncated-bptt", 1, "window")]


def test_a_wrong_lstm_gate_slope_is_located_in_that_gate():
    result = check(EXAMPLES / "cs231n_lstm_wrong_gate.py")
    assert result.verdict == "wrong"
    step_db = next(p for p in result.params if p.function == "lstm_step_backward" and p.student_name == "db")
    assert not step_db.ok and step_db.where.startswith("gate o") and step_db.vs_own_forward_ok is False
    seq = [p for p in result.params if p.function == "lstm_backward"]
    assert all(p.first_bad_T == 1 for p in seq if not p.ok)
    assert result.smallest_failing_case == {"T": 1, "N": 1, "D": 1, "H": 1, "function": "lstm_forward/lstm_backward",
                                            "params": ["dx", "dh0", "dWx", "dWh", "db"]}


def test_a_forward_that_computes_another_model_is_told_apart_from_a_wrong_backward():
    result = check(EXAMPLES / "cs231n_lstm_gate_order.py")
    assert result.verdict == "wrong"
    assert all(p.vs_own_forward_ok is True for p in result.params)  # consistent with ITS forward ...
    assert not any(f.ok for f in result.forward)  # ... which is not cs231n's LSTM
    assert "fix the forward" in result.diagnosis


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shrinking_finds_the_smallest_failing_sizes(tmp_path, healthy):
    path = _write(tmp_path, "not_transposed.py", GRADLAB_RNN.replace("dh_next = dz @ W_hh", "dh_next = dz @ W_hh.T"))
    result = check(path, limits=FAST)
    assert result.verdict == "wrong"
    assert {p.name for p in result.wrong_params()} == {"W_xh", "W_hh", "b_h", "h0"}
    assert next(p for p in result.params if p.name == "W_hh").first_bad_T == 2
    assert next(p for p in result.params if p.name == "h0").first_bad_T == 1
    case = result.smallest_failing_case  # W_hh^T = W_hh when H = 1: the mistake needs H >= 2
    assert {k: case[k] for k in "TBDHV"} == {"T": 1, "B": 1, "D": 1, "H": 2, "V": 2}


def test_chunked_truncation_is_recognised(tmp_path):
    text = GRADLAB_RNN.replace("        dh_next = dz @ W_hh\n",
                               "        dh_next = dz @ W_hh if t % 3 else (dz @ W_hh if t == 0 else 0 * h0)\n")
    result = check(_write(tmp_path, "chunks.py", text), limits=FAST)
    assert [(m["k"], m["kind"]) for m in result.mistakes] == [(3, "chunk")]


def test_clipping_inside_lossFun_is_a_recognised_convention(tmp_path, healthy):
    text = (EXAMPLES / "minchar_no_dhnext.py").read_text()
    text = text.replace("        dh = Why.T @ dscores  # MISTAKE: dh_from_next is never added\n",
                        "        dh = Why.T @ dscores + dh_from_next\n").replace("np.clip(g, -5, 5", "np.clip(g, -0.25, 0.25")
    result = check(_write(tmp_path, "clipped.py", text), limits=FAST)
    assert result.verdict == "correct", result.to_dict()
    clip = [c for c in result.conventions if c["id"] == "clip"]
    assert clip and clip[0]["value"] == 0.25 and "[-0.25, 0.25]" in clip[0]["text"]


def test_a_function_that_modifies_its_inputs_is_reported(tmp_path):
    text = GRADLAB_RNN.replace('    grads["h0"] = dh_next\n', '    grads["h0"] = dh_next\n    h0 *= 0.5\n')
    result = check(_write(tmp_path, "inplace.py", text), limits=FAST)
    assert result.verdict == "correct"
    assert any("modified its argument h0 in place" in n for n in result.notes)


def test_the_json_has_the_design_shape(tmp_path):
    result = check(EXAMPLES / "minchar_whh_not_transposed.py").to_dict()
    json.dumps(result, allow_nan=False)  # no NaN or inf in the JSON
    assert {"submission", "style", "model", "verdict", "params", "mistakes", "conventions", "smallest_failing_case",
            "error", "sandbox"} <= set(result)
    assert {"name", "student_name", "ok", "max_abs_err", "max_rel_err", "worst_index", "first_bad_T",
            "vs_own_forward_ok"} <= set(result["params"][0])
    assert {"tier", "layers", "cpu_s", "wall_s", "max_rss"} <= set(result["sandbox"])
    assert result["style"] == "minchar" and result["model"] == "rnn" and result["verdict"] == "wrong"
    error = check(EXAMPLES / "unrunnable" / "raises.py", limits=FAST).to_dict()
    assert set(error["error"]) == {"kind", "message", "traceback"} and error["params"] == []


def test_bad_arguments_raise_and_a_style_mismatch_is_an_error_result(tmp_path):
    with pytest.raises(ValueError, match="style: expected one of"):
        check(EXAMPLES / "gradlab_rnn.py", style="pytorch")
    with pytest.raises(FileNotFoundError):
        check(tmp_path / "nothing.py")
    result = check(EXAMPLES / "gradlab_rnn.py", style="minchar")
    assert result.verdict == "error" and result.error["kind"] == "missing_function"
    result = check(EXAMPLES / "gradlab_rnn.py", model="lstm", limits=FAST)  # the file says rnn; --model wins
    assert result.verdict == "error" and result.error["kind"] in ("exception", "bad_return")


def test_a_float32_min_char_rnn_is_held_to_float32_tolerances(tmp_path):
    text = (EXAMPLES / "minchar_rnn.py").read_text().replace("hidden_size = 100", "hidden_size = 7")
    text = text.replace("vocab_size = 65", "vocab_size = 5").replace("seq_length = 25", "seq_length = 6")
    for name in ("Wxh", "Whh", "Why", "bh", "by"):
        text = text.replace(f"\n{name} = ", f"\n{name} = np.float32(1) * ")
    text += "\nWxh, Whh, Why, bh, by = (a.astype(np.float32) for a in (Wxh, Whh, Why, bh, by))\n"
    result = check(_write(tmp_path, "f32.py", text), limits=FAST)
    assert result.verdict == "correct", result.to_dict()
    assert all(p.vs_own_forward_ok is None for p in result.params)
    assert any("float32" in n for n in result.notes)
