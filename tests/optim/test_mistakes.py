"""The twins: every catalogued optimiser mistake, and a swapped convention, is caught by the optax comparison."""

import numpy as np
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


# --- the catalogue (issue 9): each mistake once, instantiated for every optimiser it applies to ----------------

def _first_steps(constructor, n=2):
    p0, grads = fixed_problem()
    return trajectory(constructor(LR), p0, {k: g[:n] for k, g in grads.items()})


def test_every_catalogue_entry_has_its_fields_and_known_optimisers():
    assert set(optim.mistakes.CATALOGUE) >= {"state-not-carried", "gradient-factor-missing", "eps-added-to-gradient",
                                             "no-bias-correction", "bias-correction-t-from-0", "accumulates-g",
                                             "sign-flipped"}
    for kind in optim.mistakes.CATALOGUE.values():
        assert kind.title and kind.explanation.endswith(".") and kind.equation and kind.hint, kind.id
        assert kind.optimizers and set(kind.optimizers) <= set(optim.OPTIMIZERS), kind.id


def test_every_kind_is_one_mistake_per_optimiser_it_applies_to_and_the_first_ids_are_kept():
    expected = {f"{name}-{kind.id}" for kind in optim.mistakes.CATALOGUE.values() for name in kind.optimizers}
    assert set(optim.OPTIMIZER_MISTAKES) == expected
    assert {"momentum-state-not-carried", "adagrad-state-not-carried", "rmsprop-state-not-carried",
            "adam-state-not-carried", "adam-no-bias-correction", "adam-bias-correction-t-from-0"} <= expected
    for m in optim.OPTIMIZER_MISTAKES.values():
        kind = optim.mistakes.CATALOGUE[m.kind]
        assert (m.title, m.hint, m.optimizers) == (kind.title, kind.hint, kind.optimizers)
        assert m.optimizer in kind.optimizers and m.mutators


@pytest.mark.parametrize("name", optim.mistakes.CATALOGUE["state-not-carried"].optimizers)
def test_state_not_carried_agrees_with_the_reference_at_step_1_and_not_at_step_2(name):
    ours = _first_steps(optim.OPTIMIZERS[name])
    mutant = _first_steps(optim.OPTIMIZER_MISTAKES[f"{name}-state-not-carried"].constructor)
    assert failures(compare_all({k: v[:1] for k, v in mutant.items()}, {k: v[:1] for k, v in ours.items()},
                                ROUNDING, "reference")) == []
    assert failures(compare_all(mutant, ours, ROUNDING, "reference"))


def test_adam_without_bias_correction_takes_a_first_step_of_lr_times_1_minus_b1_over_sqrt_1_minus_b2():
    p0, grads = {"w": np.array([0.5, -0.5])}, {"w": np.array([[2.0, -3.0]])}
    mutant = trajectory(optim.OPTIMIZER_MISTAKES["adam-no-bias-correction"].constructor(LR), p0, grads)
    step = -LR * 0.1 * np.array([2.0, -3.0]) / (np.sqrt(0.001) * np.array([2.0, 3.0]) + 1e-8)
    np.testing.assert_allclose(mutant["w"][0], p0["w"] + step, rtol=ROUNDING.rtol)


def test_eps_is_not_moved_where_it_cannot_show_and_is_moved_where_it_can():
    m = optim.OPTIMIZER_MISTAKES["adagrad-eps-added-to-gradient"]
    assert m.forms(optim.adagrad) == []  # optax's G_0 = 0.1 hides eps wherever it goes
    minchar = next(v.constructor for v in optim.variants("adagrad") if "minchar" in v.label)
    assert len(m.forms(minchar)) == 3


def test_a_composite_convention_gets_only_the_mutations_that_wrap_any_constructor():
    coupled = next(v.constructor for v in optim.variants("adamw") if v.label.startswith("coupled"))
    assert optim.OPTIMIZER_MISTAKES["adamw-no-bias-correction"].forms(coupled) == []
    assert len(optim.OPTIMIZER_MISTAKES["adamw-state-not-carried"].forms(coupled)) == 1


def test_mistakes_for_names_the_known_optimisers():
    assert [m.id for m in optim.mistakes.mistakes_for("sgd")] == ["sgd-sign-flipped"]
    with pytest.raises(ValueError, match="mistakes_for: name must be one of sgd, .*, got 'adamax'"):
        optim.mistakes.mistakes_for("adamax")
