"""gradlab/mistakes.py: every catalogued mistake really changes the gradients, and only some of them."""

import numpy as np
import pytest

from gradlab import mistakes
from gradlab.models.registry import MODELS
from tests.support import fixed_problem, grads_with


@pytest.mark.parametrize("mistake", [pytest.param(m, id=m.id) for m in mistakes.MISTAKES.values()])
def test_each_mistake_changes_some_gradient_and_keeps_the_keys(mistake):
    model, theta, xs, targets = fixed_problem(MODELS[mistake.model])
    right = grads_with(model, theta, xs, targets)
    wrong = grads_with(model, theta, xs, targets, mistake.backward)
    assert set(wrong) == set(right)
    changed = [k for k in right if np.max(np.abs(wrong[k] - right[k])) > 1e-6]
    assert changed
    assert "W_hy" not in changed and "b_y" not in changed  # the output layer is never the mutated step
    assert mistake.title and mistake.explanation.endswith(".") and mistake.equation


def test_for_model_lists_the_rnn_mistakes():
    assert {m.id for m in mistakes.for_model("rnn")} >= {"rnn-recurrent-term-dropped",
                                                          "rnn-tanh-prime-of-preactivation"}
