"""gradlab/mistakes.py: every catalogued mistake really changes the gradients, and only some of them."""

import numpy as np
import pytest

from gradlab import mistakes
from gradlab.models.registry import MODELS
from tests.support import fixed_problem, grads_with


MUTATE_THE_OUTPUT_LAYER = {"rnn-softmax-p-not-p-minus-y", "rnn-sign-flipped"}


@pytest.mark.parametrize("mistake", [pytest.param(m, id=m.id) for m in mistakes.MISTAKES.values()])
def test_each_mistake_changes_some_gradient_and_keeps_the_keys(mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    right = grads_with(model, theta, xs, targets)
    wrong = grads_with(model, theta, xs, targets, mistake.backward)
    assert set(wrong) == set(right)
    changed = [k for k in right if np.max(np.abs(wrong[k] - right[k])) > 1e-6]
    assert changed
    if mistake.id not in MUTATE_THE_OUTPUT_LAYER:  # a mistake in the recurrence leaves W_hy, b_y right
        assert "W_hy" not in changed and "b_y" not in changed
    assert mistake.title and mistake.explanation.endswith(".") and mistake.equation


def test_for_model_lists_the_rnn_mistakes():
    assert {m.id for m in mistakes.for_model("rnn")} >= {"rnn-recurrent-term-dropped",
                                                          "rnn-tanh-prime-of-preactivation"}


def test_every_model_has_catalogued_mistakes():
    assert {m.model for m in mistakes.MISTAKES.values()} == set(MODELS)
