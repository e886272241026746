"""gradlab/grade/scoring.py: weighted checks read off check's result dict; mistakes are evidence, not penalties."""

from __future__ import annotations

import copy

import pytest

from gradlab.grade.scoring import score
from gradlab.grade.tasks import from_dict
from gradlab.student.result import CheckResult, ForwardCheck, ParamResult
from tests.grade.conftest import FAST_TASK

TASK = from_dict(FAST_TASK)
NAMES = {"dWxh": "W_xh", "dWhh": "W_hh", "dWhy": "W_hy", "dbh": "b_h", "dby": "b_y"}


def result(wrong=(), own_wrong=(), forward_ok=True, mistakes=(), verdict=None) -> dict:
    """A minchar CheckResult with the named gradients wrong (and inconsistent with the own forward)."""
    params = [ParamResult(NAMES[s], s, s not in wrong, 1e-3 if s in wrong else 1e-15, 1e-2 if s in wrong else 1e-14,
                          [0, 1] if s in wrong else None, 2 if s in wrong else None, s not in own_wrong,
                          function="lossFun", evidence=f"{s}[0, 1] is off" if s in wrong else "")
              for s in NAMES]
    fwd = [ForwardCheck("loss", "loss", "lossFun", forward_ok, 0.0, 0.0, None, 1.0, 1.0)]
    r = CheckResult("x.py", "minchar", "rnn", verdict or ("wrong" if wrong or not forward_ok else "correct"),
                    params=params, forward=fwd, mistakes=[{"id": m, "title": m, "explanation": "", "params": []}
                                                         for m in mistakes])
    return r.to_dict()


def points(*checks: str) -> float:
    weights = {**TASK.weights, **TASK.params}
    return sum(weights[c] for c in checks)


def test_a_correct_result_earns_every_point():
    g = score(result(), TASK)
    assert g.score == g.max_score == TASK.max_score and all(c.ok for c in g.checks)
    assert [c.name for c in g.checks] == ["runs", "forward", "own_forward", *(f"gradient {n}" for n in NAMES)]


def test_each_wrong_gradient_loses_exactly_its_weight():
    for name in NAMES:
        g = score(result(wrong=[name]), TASK)
        assert g.score == TASK.max_score - points(name)
        bad = [c for c in g.checks if not c.ok]
        assert [c.name for c in bad] == [f"gradient {name}"] and "is off" in bad[0].output


def test_a_backward_inconsistent_with_its_own_forward_loses_the_own_forward_points():
    g = score(result(wrong=["dWhh"], own_wrong=["dWhh"]), TASK)
    assert g.score == TASK.max_score - points("dWhh", "own_forward")
    assert "dWhh disagree with finite differences" in next(c.output for c in g.checks if c.name == "own_forward")


def test_a_wrong_forward_loses_the_forward_points():
    assert score(result(forward_ok=False), TASK).score == TASK.max_score - points("forward")


def test_a_submission_that_could_not_run_scores_zero_and_says_why():
    r = CheckResult("x.py", "minchar", "rnn", "error", error={"kind": "timeout", "message": "ran past 6 s",
                                                               "traceback": ""}).to_dict()
    g = score(r, TASK)
    assert g.score == 0 and not any(c.ok for c in g.checks)
    assert all(c.output == "not run: ran past 6 s" for c in g.checks)


def test_a_named_mistake_is_evidence_not_a_penalty_unless_the_task_says_so():
    r = result(wrong=["dWhh"], mistakes=["truncated-bptt"])
    assert score(r, TASK).score == TASK.max_score - points("dWhh") and score(r, TASK).penalties == []
    strict = from_dict({**copy.deepcopy(FAST_TASK), "penalties": {"truncated-bptt": 5, "other": 7}})
    g = score(r, strict)
    assert g.penalties == [{"id": "truncated-bptt", "points": 5.0}]
    assert g.score == TASK.max_score - points("dWhh") - 5


def test_penalties_never_take_the_score_below_zero():
    strict = from_dict({**copy.deepcopy(FAST_TASK), "penalties": {"truncated-bptt": 1000}})
    assert score(result(mistakes=["truncated-bptt"]), strict).score == 0


def test_a_gradient_returned_by_two_functions_must_be_right_in_both():
    task = from_dict({"name": "c", "style": "cs231n", "model": "rnn", "weights": {"params": {"dWx": 3, "dx": 1}}})
    both = [ParamResult("W_xh", "dWx", ok, 0.0, 0.0, None, None, True, function=f)
            for f, ok in (("rnn_step_backward", True), ("rnn_backward", False))]
    r = CheckResult("x.py", "cs231n", "rnn", "wrong", params=both).to_dict()
    g = score(r, task)
    assert g.score == 0  # dWx is wrong in rnn_backward; dx was never returned
    assert "rnn_backward" in g.checks[0].output and "does not return it" in g.checks[1].output


def test_gradlab_s_name_works_as_the_key_too():
    task = from_dict({"name": "g", "weights": {"params": {"W_hh": 2}}})
    assert score(result(), task).score == 2 and score(result(wrong=["dWhh"]), task).score == 0


def test_all_correct_follows_the_verdict():
    task = from_dict({"name": "o", "optimizer": "adam", "weights": {"runs": 1, "all_correct": 9}})
    assert score(result(), task).score == 10
    assert score(result(verdict="wrong"), task).score == 1


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="result: expected CheckResult.to_dict"):
        score({"style": "x"}, TASK)
    with pytest.raises(TypeError, match="task: expected a Task, got dict"):
        score(result(), FAST_TASK)
