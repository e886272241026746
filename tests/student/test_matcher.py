"""gradlab/student/matcher.py: every catalogue entry is named from its own numbers, and nothing else is.

In-process and fast: the student's answers are built from the catalogue (``matcher.predict``) in each
style's layout, so no sandbox runs here; test_checker_mistakes.py runs the examples through check().
"""

from __future__ import annotations

import numpy as np
import pytest

from gradlab import mistakes
from gradlab.student import matcher
from gradlab.student.adapters import Cs231n, Gradlab, Minchar
from gradlab.student.checker import DEFAULT_SIZES
from gradlab.student.diagnose import reference_tolerance

TOL = reference_tolerance(np.float64)


def adapters_for(m: mistakes.Mistake):
    """The styles in which a student can make the mistake ``m``."""
    found = [Gradlab(m.model)]
    if m.model == "rnn":
        found.append(Minchar(5, 7))
    if m.model in ("rnn", "lstm") and "dlogits" not in m.parts:  # cs231n's backward gets dh: no softmax
        found.append(Cs231n(m.model, "seq"))
    return found


CASES = [pytest.param(m, ad, id=f"{m.id}-{ad.style}") for m in mistakes.MISTAKES.values() for ad in adapters_for(m)]


def observe(ad, ms=(), seed=0, mutate=None):
    """A student with the mistakes ``ms``: the main problem twice, then its longest prefix (stateless)."""
    p0 = ad.problem(ad.sizes(6) if ad.style == "minchar" else DEFAULT_SIZES, seed)
    pre = ad.prefix(p0, p0.sizes.T - 1)
    first, second = matcher.predict(tuple(ms), ad, [(p0, None), (p0, None)], None)
    (third,) = matcher.predict(tuple(m for m in ms if not m.across_calls), ad, [(pre, None)], None)
    calls = [(p0, first), (p0, second), (pre, third)]
    if mutate is not None:
        for _, answers in calls:
            mutate(answers)
    return matcher.Observations(calls[:2], calls[2:])


def ids(result: matcher.Match) -> list[list[str]]:
    return [[m.id for m in group] for group in result.named]


@pytest.mark.parametrize("mistake, ad", CASES)
def test_every_catalogue_entry_is_named_exactly_from_its_own_numbers(mistake, ad):
    result = matcher.match(ad, observe(ad, [mistake]), TOL)
    assert ids(result) == [[mistake.id]]
    assert result.wrong and result.stateful == (mistake.across_calls is not None)
    (entry,) = matcher.to_dicts(result)
    assert entry["id"] == mistake.id and entry["params"] == result.wrong and entry["hint"] == mistake.hint


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru", "gru-cho"])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_reference_is_never_named(model, seed):
    ad = Gradlab(model)
    result = matcher.match(ad, observe(ad, seed=seed), TOL)
    assert result.named == [] and result.wrong == [] and matcher.to_dicts(result) == []


def test_a_random_wrong_gradient_is_unrecognised_with_its_evidence():
    rng = np.random.default_rng(5)
    noise = rng.standard_normal(DEFAULT_SIZES.H)

    def nudge(answers):
        answers["b_h"] = answers["b_h"] + 0.3 * noise

    result = matcher.match(Gradlab("rnn"), observe(Gradlab("rnn"), mutate=nudge), TOL)
    assert result.named == [] and result.wrong == ["b_h"]
    (entry,) = matcher.to_dicts(result)
    assert entry["id"] == "unrecognised" and entry["params"] == ["b_h"]
    assert entry["evidence"][0]["param"] == "b_h" and entry["evidence"][0]["max_rel_err"] > 1e-3


def test_a_mistake_plus_noise_is_not_claimed_but_shown_as_closest():
    dropped = mistakes.MISTAKES["rnn-bias-from-last-step"]

    def nudge(answers):
        answers["W_xh"] = answers["W_xh"] * 1.01

    result = matcher.match(Gradlab("rnn"), observe(Gradlab("rnn"), [dropped], mutate=nudge), TOL)
    assert result.named == []
    assert result.closest["id"] == dropped.id and result.closest["reproduces"] == ["b_h"]
    assert result.closest["but_not"] == ["W_xh"]


def test_two_mistakes_in_different_stages_are_named_as_a_pair():
    m = mistakes.MISTAKES
    pair = [m["rnn-tanh-prime-missing"], m["rnn-bias-from-last-step"]]
    result = matcher.match(Gradlab("rnn"), observe(Gradlab("rnn"), pair), TOL)
    assert ids(result) == [["rnn-tanh-prime-missing", "rnn-bias-from-last-step"]]
    entries = matcher.to_dicts(result)
    assert [e["together_with"] for e in entries] == [["rnn-bias-from-last-step"], ["rnn-tanh-prime-missing"]]


def test_a_mistake_equal_to_the_reference_on_the_wrong_gradients_is_not_claimed():
    # with H = 1, W_hh^T = W_hh: "not transposed" predicts the right numbers, so it cannot explain a wrong b_h
    ad = Minchar(1, 3)
    bias = mistakes.MISTAKES["rnn-bias-from-last-step"]
    result = matcher.match(ad, observe(ad, [bias]), TOL)
    assert ids(result) == [[bias.id]]  # and not the pair (bias, not-transposed), nor not-transposed alone


def test_stateful_mistakes_need_the_second_call():
    accumulated = mistakes.MISTAKES["rnn-grads-accumulated"]
    obs = observe(Gradlab("rnn"), [accumulated])
    alone = matcher.match(Gradlab("rnn"), matcher.Observations(obs.sequence[:1], obs.independent), TOL)
    assert alone.named == [] and alone.wrong == []  # the first call is right: nothing to name
    with pytest.raises(ValueError, match="obs"):
        matcher.match(Gradlab("rnn"), matcher.Observations([]), TOL)


def test_clipped_wrong_gradients_are_still_named():
    ad = Minchar(5, 7)
    m = mistakes.MISTAKES["rnn-tanh-prime-missing"]
    obs = observe(ad, [m])
    c = 0.5 * max(float(np.abs(a[n]).max()) for _, a in obs.sequence for n in ("dWxh", "dbh"))
    for _, answers in obs.sequence + obs.independent:
        for name in ("dWxh", "dWhh", "dWhy", "dbh", "dby"):
            answers[name] = np.clip(answers[name], -c, c)
    assert ids(matcher.match(ad, obs, TOL)) == [[m.id]]
