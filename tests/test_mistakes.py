"""gradlab/mistakes.py: every catalogued mistake really changes the gradients, and only some of them."""

import re
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

from gradlab import mistakes
from gradlab.models.losses import softmax_cross_entropy
from gradlab.models.registry import MODELS
from gradlab.models.sizes import Sizes
from tests.support import fixed_problem, grads_with

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
MUTATE_THE_OUTPUT_LAYER = {"rnn-softmax-p-not-p-minus-y", "rnn-sign-flipped", "rnn-grads-accumulated"}
ENTRIES = [pytest.param(m, id=m.id) for m in mistakes.MISTAKES.values()]
SIZES = Sizes(4, 2, 3, 5, 6)  # tests.support.fixed_problem's
ACROSS = [m for m in mistakes.MISTAKES.values() if m.across_calls]


def _differs(a, b):
    return np.max(np.abs(a - b)) > 1e-6


@pytest.mark.parametrize("mistake", ENTRIES)
def test_each_mistake_changes_some_gradient_and_keeps_the_keys(mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    right = grads_with(model, theta, xs, targets)
    wrong = grads_with(model, theta, xs, targets, mistake.backward)
    assert set(wrong) == set(right)
    changed = [k for k in right if _differs(wrong[k], right[k])]
    assert changed
    if mistake.id not in MUTATE_THE_OUTPUT_LAYER:  # a mistake in the recurrence leaves W_hy, b_y right
        assert "W_hy" not in changed and "b_y" not in changed


@pytest.mark.parametrize("mistake", ENTRIES)
def test_each_entry_explains_itself_and_links_to_an_equation_block_of_the_readme(mistake):
    assert mistake.title and mistake.hint and mistake.equation
    assert mistake.explanation.endswith(".") and mistake.explanation.count(". ") == 0  # one sentence
    anchor = mistake.link.split("#", 1)[1]
    assert mistake.link.startswith("README.md#") and f'<a id="{anchor}"></a>' in README


@pytest.mark.parametrize("mistake", [pytest.param(m, id=m.id) for m in ACROSS])
def test_a_mistake_across_calls_is_right_on_a_first_call_and_wrong_on_the_next(mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    theta2, xs2, targets2 = model.random_problem(SIZES, seed=2)[:3]  # fixed_problem's sizes, other values
    problems = [(theta, xs, targets), (theta2, xs2, targets2)]
    right = mistakes.run_calls([], model, problems)
    wrong = mistakes.run_calls([mistake], model, problems)
    assert not any(_differs(wrong[0][k], right[0][k]) for k in right[0])  # a fresh state: the first call is right
    assert any(_differs(wrong[1][k], right[1][k]) for k in right[1])  # the state it kept spoils the second
    again = grads_with(model, theta, xs, targets, mistake.backward)  # .backward is the SECOND call, same inputs
    assert any(_differs(again[k], right[0][k]) for k in again)


def test_accumulated_gradients_are_the_running_sum_and_a_kept_dh_next_joins_h_T():
    model, theta, xs, targets = fixed_problem(MODELS["rnn"])
    one = mistakes.run_calls([], model, [(theta, xs, targets)])[0]
    acc = mistakes.run_calls([mistakes.MISTAKES["rnn-grads-accumulated"]], model, [(theta, xs, targets)] * 3)
    for n, g in enumerate(acc, 1):
        assert all(np.allclose(g[k], n * one[k]) for k in model.param_shapes)
        assert np.allclose(g["h0"], one["h0"])  # a state's gradient is assigned, not accumulated
    carry = mistakes.MISTAKES["rnn-dh-next-not-reset"]
    second = mistakes.run_calls([carry], model, [(theta, xs, targets)] * 2)[1]
    params = model.params(theta)
    logits, cache = model.forward(params, xs, theta["h0"])
    _, dlogits = softmax_cross_entropy(logits, targets)
    by_hand = mistakes.compose("rnn", {})(params, cache, dlogits, carry=one["h0"])
    assert all(np.allclose(second[k], by_hand[k]) for k in second)


def test_pairs_compose_only_across_stages_and_collisions_are_refused():
    rnn = mistakes.for_model("rnn")
    pairs = [(a.id, b.id) for a, b in combinations(rnn, 2) if mistakes.composable(a, b)]
    assert ("rnn-tanh-prime-of-preactivation", "rnn-dW_hh-with-h_t") in pairs
    assert ("rnn-tanh-prime-of-preactivation", "rnn-W_hh-not-transposed") not in pairs  # one stage: recurrence
    assert ("rnn-grads-accumulated", "rnn-dh-next-not-reset") not in pairs
    with pytest.raises(ValueError, match="recurrence"):
        mistakes.merged([mistakes.MISTAKES["rnn-tanh-prime-missing"], mistakes.MISTAKES["rnn-W_hh-not-transposed"]])
    with pytest.raises(ValueError, match="at most one lives across calls"):
        mistakes.merged([mistakes.MISTAKES["rnn-grads-accumulated"], mistakes.MISTAKES["rnn-dh-next-not-reset"]])
    with pytest.raises(ValueError, match="parts: expected stages among"):
        mistakes.compose("rnn", {"softmax": lambda *a: a})


def test_a_pair_changes_the_gradients_unlike_either_mistake_alone():
    model, theta, xs, targets = fixed_problem(MODELS["rnn"])
    a, b = mistakes.MISTAKES["rnn-tanh-prime-of-preactivation"], mistakes.MISTAKES["rnn-bias-from-last-step"]
    both = mistakes.run_calls([a, b], model, [(theta, xs, targets)])[0]
    for single in (a, b):
        alone = mistakes.run_calls([single], model, [(theta, xs, targets)])[0]
        assert any(_differs(both[k], alone[k]) for k in both)


def test_for_model_lists_the_issue_s_mistakes():
    ids = lambda model: {m.id for m in mistakes.for_model(model)}
    assert ids("rnn") == {"rnn-recurrent-term-dropped", "rnn-tanh-prime-of-preactivation", "rnn-tanh-prime-missing",
                          "rnn-W_hh-not-transposed", "rnn-dW_hh-with-h_t", "rnn-bias-from-last-step",
                          "rnn-softmax-p-not-p-minus-y", "rnn-sign-flipped", "rnn-grads-accumulated",
                          "rnn-dh-next-not-reset"}
    assert ids("lstm") == {"lstm-dc-not-carried", "lstm-forget-on-c_t", "lstm-output-path-missing", "lstm-gate-order"}
    assert ids("gru") == {"gru-other-reset", "gru-z-swapped"}
    assert all(re.fullmatch(r"[a-z0-9-]+-[A-Za-z0-9_-]+", m.id) for m in mistakes.MISTAKES.values())


def test_every_model_has_catalogued_mistakes():
    assert {m.model for m in mistakes.MISTAKES.values()} == set(MODELS)
