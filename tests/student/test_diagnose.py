"""gradlab/student/diagnose.py: truncated-BPTT references, clip recognition, tolerances."""

from __future__ import annotations

import numpy as np
import pytest

from gradlab import mistakes
from gradlab.compare import compare
from gradlab.models.registry import MODELS
from gradlab.models.sizes import Sizes
from gradlab.student import diagnose
from gradlab.student.adapters import Gradlab, Out
from gradlab.tolerances import tolerance
from tests.support import grads_with

TOL = tolerance("float64", "rounding")


def _problem(model: str, T: int = 5):
    return MODELS[model].random_problem(Sizes(T, 2, 3, 4, 5), seed=3)


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("kind", ["window", "chunk"])
def test_truncation_at_k_of_T_or_more_is_full_bptt(model, kind):
    theta, xs, targets = _problem(model)
    full = MODELS[model].grads(theta, xs, targets)[1]
    for k in (5, 9):
        trunc = diagnose.truncated_bptt(MODELS[model], theta, xs, targets, k, kind)
        assert all(compare(n, trunc[n], full[n], TOL, "rounding").ok for n in full)


def test_window_one_is_the_catalogued_mistake_of_dropping_the_recurrent_term():
    model = MODELS["rnn"]
    theta, xs, targets = _problem("rnn")
    dropped = grads_with(model, theta, xs, targets, mistakes.MISTAKES["rnn-recurrent-term-dropped"].backward)
    trunc = diagnose.truncated_bptt(model, theta, xs, targets, 1, "window")
    for name in model.param_shapes:
        assert compare(name, trunc[name], dropped[name], TOL, "rounding").ok


def test_chunks_equal_independent_problems_started_from_the_carried_state():
    model = MODELS["lstm"]
    theta, xs, targets = _problem("lstm", T=6)
    params = model.params(theta)
    _, cache = model.forward(params, xs, model.state(theta))
    first = model.grads(theta, xs[:4], targets[:4])[1]
    rest = model.grads({**params, "h0": cache.hs[4], "c0": cache.cs[4]}, xs[4:], targets[4:])[1]
    trunc = diagnose.truncated_bptt(model, theta, xs, targets, 4, "chunk")
    for name in params:
        assert np.allclose(trunc[name], first[name] + rest[name], rtol=1e-12, atol=1e-13)
    assert np.allclose(trunc["h0"], first["h0"])


def test_truncation_is_wrong_for_k_below_T_and_bad_arguments_are_named():
    theta, xs, targets = _problem("gru")
    full = MODELS["gru"].grads(theta, xs, targets)[1]
    trunc = diagnose.truncated_bptt(MODELS["gru"], theta, xs, targets, 2, "window")
    assert not compare("W_h", trunc["W_h"], full["W_h"], TOL, "rounding").ok
    with pytest.raises(ValueError, match="expected kind 'window' or 'chunk' and k >= 1"):
        diagnose.truncated_bptt(MODELS["gru"], theta, xs, targets, 0)


def test_clipping_is_recognised_only_when_the_numbers_show_it():
    grads = [Out("dW", (3, 2), "grad", "W"), Out("db", (2,), "grad", "b")]
    ref = {"dW": np.array([[0.3, -12.0], [4.0, 0.1], [2.0, 6.0]]), "db": np.array([0.5, -0.2])}
    clipped = {k: np.clip(v, -5, 5) for k, v in ref.items()}
    assert diagnose.detect_clip(clipped, ref, grads, TOL) == 5.0
    assert diagnose.detect_clip(ref, ref, grads, TOL) is None  # nothing was clipped
    small = {k: v / 10 for k, v in ref.items()}
    assert diagnose.detect_clip(small, {k: v / 10 for k, v in ref.items()}, grads, TOL) is None
    wrong_but_clipped = {"dW": np.array([[1.0, -5.0], [5.0, 0.1], [2.0, 5.0]]), "db": np.array([0.5, -0.2])}
    assert diagnose.detect_clip(wrong_but_clipped, ref, grads, TOL) == 5.0  # three entries sit exactly at +-5


def test_reference_tolerances_come_from_the_table():
    assert diagnose.reference_tolerance(np.float64) == tolerance("float64", "rounding")
    assert diagnose.reference_tolerance(np.float32) == tolerance("float32", "jax-reverse")


def test_the_plan_probes_every_entry_of_small_arguments_and_samples_large_ones():
    from gradlab.student.plan import Plan

    ad = Gradlab("rnn")
    up = diagnose.UnitPlan(ad, ad.problem(Sizes(3, 2, 3, 4, 5), 0))
    plan = Plan()
    up.add_base(plan)
    up.add_aux(plan, np.random.default_rng(0), grid=False)
    probed = {}
    for pr in up.probes:
        probed.setdefault(pr.out, set()).add(pr.index)
    assert probed["W_hh"] == set(range(16)) and probed["h0"] == set(range(8))
    assert [T for T, _, _ in up.prefixes] == [1, 2]
    assert plan.calls[0]["aux"] is False and all(c["aux"] for c in plan.calls[1:])


def test_relative_errors_are_zero_not_nan_when_both_sides_are_zero():
    zero = np.zeros(3)
    rep = diagnose._cmp(Out("db", (3,), "grad", "b"), zero, zero, TOL)
    assert rep.ok and rep.max_rel_err == 0.0
    rep = diagnose._cmp(Out("loss", (), "loss", "loss"), np.array(0.0), np.array(0.0), TOL)
    assert rep.ok and rep.max_rel_err == 0.0
    rep = diagnose._cmp(Out("db", (3,), "grad", "b"), np.array([0.0, 1e-3, 0.0]), zero, TOL)
    assert not rep.ok and np.isfinite(rep.max_rel_err)
