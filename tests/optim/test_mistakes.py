"""The twins: every catalogued optimiser mistake, and a swapped convention, is caught by the optax comparison."""

import pytest

from gradlab import optim
from gradlab.compare import compare_all
from gradlab.tolerances import tolerance
from tests.optim.support import OPTAX, fixed_problem, optax_trajectory, trajectory
from tests.support import failures

ROUNDING = tolerance("float64", "rounding")
LR = 0.1


def _caught(ours, optax_id):
    p0, grads = fixed_problem()
    reports = compare_all(trajectory(ours, p0, grads), optax_trajectory(OPTAX[optax_id][1], p0, grads, LR),
                          ROUNDING, "optax")
    return failures(reports)


def test_the_reference_itself_passes_on_the_twins_problem():
    for optax_id in ("momentum", "adagrad", "rmsprop", "adam"):
        assert _caught(OPTAX[optax_id][0](LR), optax_id) == []


@pytest.mark.parametrize("mistake", [pytest.param(m, id=m.id) for m in optim.OPTIMIZER_MISTAKES.values()])
def test_optax_comparison_catches_a_mutated_optimiser(mistake):
    assert mistake.optimizer in optim.OPTIMIZERS
    assert _caught(mistake.constructor(LR), mistake.optimizer)


@pytest.mark.parametrize(("ours", "optax_id"), [
    pytest.param(lambda: optim.adagrad(LR, eps_in_sqrt=False), "adagrad", id="adagrad-eps-outside"),
    pytest.param(lambda: optim.rmsprop(LR, eps_in_sqrt=False), "rmsprop", id="rmsprop-eps-outside"),
    pytest.param(lambda: optim.rmsprop(LR, decay=0.99), "rmsprop", id="rmsprop-decay-0.99"),
    pytest.param(lambda: optim.adagrad(LR, initial_accumulator_value=0.0), "adagrad", id="adagrad-starts-at-0"),
    pytest.param(lambda: optim.adam(LR, eps_hat=True), "adam", id="adam-eps-hat"),
    pytest.param(lambda: optim.adamw(LR, weight_decay=1e-2), "adamw", id="adamw-torch-decay"),
])
def test_optax_comparison_catches_a_swapped_convention(ours, optax_id):
    assert _caught(ours(), optax_id)
